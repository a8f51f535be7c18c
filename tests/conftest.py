"""Fixtures: a real SQLite file and a real search index per test."""

import re
import shutil
from pathlib import Path

import pytest
from flask_migrate import upgrade

from kb import create_app
from kb.auth.services import create_user
from kb.extensions import db

PASSWORD = "correct-horse-battery"
HOST = "kb.test"
REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS_DIR = REPO_ROOT.parent / "shared" / "corpus" / "industry-reports"


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory) -> Path:
    """Build one database with every migration applied; tests copy it."""
    folder = tmp_path_factory.mktemp("template")
    app = create_app({"ENV": "testing", "INSTANCE_PATH": str(folder)})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))


@pytest.fixture
def app(tmp_path, migrated_db, monkeypatch):
    monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    instance = tmp_path / "instance"
    instance.mkdir()
    shutil.copy(migrated_db, instance / "kb.sqlite3")
    app = create_app(
        {
            "ENV": "testing",
            "INSTANCE_PATH": str(instance),
            "SERVER_NAME": HOST,
        }
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    app.extensions["kb_indexer"].stop_background()
    app.extensions["kb_indexer"].engine.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_user(app):
    """Create an account and return its id."""

    def make(
        username="manager", role="staff", department="公司银行部", display_name=None
    ):
        with app.app_context():
            user = create_user(
                db.session,
                username,
                PASSWORD,
                role,
                department,
                display_name or username,
            )
            db.session.commit()
            return user.id

    return make


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client, path="/login") -> str:
    """Fetch ``path`` and return the CSRF token in its first form."""
    page = client.get(path)
    match = CSRF_RE.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client, username="manager", password=PASSWORD, remember=False):
    token = csrf_token(client)
    data = {"username": username, "password": password, "csrf_token": token}
    if remember:
        data["remember"] = "y"
    return client.post("/login", data=data)


@pytest.fixture
def signed_in(client, make_user):
    """A client signed in as a staff member of 公司银行部."""
    make_user("manager")
    response = login(client)
    assert response.status_code == 302
    return client
