"""Fixtures: a real database and a real search index per test.

The database is a SQLite file unless ``KB_TEST_DATABASE_URL`` names a
PostgreSQL server, for example
``postgresql+psycopg://postgres@127.0.0.1:55432/postgres``. On PostgreSQL the
session migrates one template database, and each test gets its own copy
(``CREATE DATABASE ... TEMPLATE``), dropped when the test ends.
"""

import itertools
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from kb import create_app
from kb.auth.services import create_user
from kb.extensions import db

PASSWORD = "correct-horse-battery"
HOST = "kb.test"
REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS_DIR = REPO_ROOT.parent / "shared" / "corpus" / "industry-reports"


TEST_DATABASE_URL = os.environ.get("KB_TEST_DATABASE_URL", "")
if TEST_DATABASE_URL and not TEST_DATABASE_URL.startswith("postgresql"):
    raise pytest.UsageError(
        f"KB_TEST_DATABASE_URL={TEST_DATABASE_URL!r} is not a PostgreSQL URL; use "
        "postgresql+psycopg://USER@HOST:PORT/DATABASE or leave it unset for SQLite."
    )


def uses_postgres() -> bool:
    return bool(TEST_DATABASE_URL)


class SqliteTemplate:
    """A migrated SQLite file that each test copies into its instance folder."""

    def __init__(self, path: Path):
        self.path = path

    def create(self, instance: Path) -> str:
        shutil.copy(self.path, instance / "kb.sqlite3")
        return f"sqlite:///{instance / 'kb.sqlite3'}"

    def create_empty(self, instance: Path) -> str:
        return f"sqlite:///{instance / 'kb.sqlite3'}"

    def drop(self, url: str) -> None:
        pass


class PostgresTemplate:
    """A migrated PostgreSQL database that each test clones with TEMPLATE.

    Names carry the pytest process id, so two runs against one server do not
    collide. The maintenance connection runs in autocommit mode, because
    PostgreSQL does not create or drop databases inside a transaction.
    """

    def __init__(self, server_url: str):
        self.server_url = sa.make_url(server_url)
        self.prefix = f"kb_test_{os.getpid()}"
        self.name = f"{self.prefix}_template"
        self.counter = itertools.count(1)
        self.engine = sa.create_engine(
            self.server_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
        )

    def url_for(self, name: str) -> str:
        return self.server_url.set(database=name).render_as_string(hide_password=False)

    def create_template(self) -> str:
        self.drop_database(self.name)
        self._execute(f'CREATE DATABASE "{self.name}"')
        return self.url_for(self.name)

    def create(self, instance: Path) -> str:
        name = f"{self.prefix}_{next(self.counter)}"
        self.drop_database(name)
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.name}"')
        return self.url_for(name)

    def create_empty(self, instance: Path) -> str:
        name = f"{self.prefix}_{next(self.counter)}"
        self.drop_database(name)
        self._execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def drop(self, url: str) -> None:
        self.drop_database(sa.make_url(url).database)

    def drop_database(self, name: str) -> None:
        """Drop ``name`` after ending sessions a test left open on it."""
        self._execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = :name AND pid <> pg_backend_pid()",
            name=name,
        )
        self._execute(f'DROP DATABASE IF EXISTS "{name}"')

    def _execute(self, statement: str, **parameters) -> None:
        with self.engine.connect() as connection:
            connection.execute(sa.text(statement), parameters)


def _migrate(app) -> None:
    with app.app_context():
        upgrade()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory):
    """Build one database with every migration applied; tests copy it."""
    folder = tmp_path_factory.mktemp("template")
    config = {"ENV": "testing", "INSTANCE_PATH": str(folder)}
    if uses_postgres():
        template = PostgresTemplate(TEST_DATABASE_URL)
        config["SQLALCHEMY_DATABASE_URI"] = template.create_template()
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("KB_DATABASE_URL", raising=False)
        app = create_app(config)
    _migrate(app)
    if not uses_postgres():
        uri = app.config["SQLALCHEMY_DATABASE_URI"]
        yield SqliteTemplate(Path(uri.removeprefix("sqlite:///")))
        return
    yield template
    template.drop_database(template.name)
    template.engine.dispose()


@pytest.fixture
def database_url(tmp_path, migrated_db, monkeypatch):
    """Create this test's database from the template and return its URL.

    ``KB_DATABASE_URL`` is set to it too, so every ``create_app`` in the test
    and the command line interface use the same database.
    """
    instance = tmp_path / "instance"
    instance.mkdir()
    url = migrated_db.create(instance)
    monkeypatch.setenv("KB_DATABASE_URL", url)
    yield url
    migrated_db.drop(url)


def close_app(app) -> None:
    """Close the app's database connections and stop its search indexer."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    app.extensions["kb_indexer"].stop_background()
    app.extensions["kb_indexer"].engine.close()


@contextmanager
def module_app(migrated_db, tmp_path_factory, name: str):
    """Yield an application on a database of its own, for a module's fixture."""
    instance = tmp_path_factory.mktemp(name) / "instance"
    instance.mkdir()
    url = migrated_db.create(instance)
    app = create_app(
        {
            "ENV": "testing",
            "INSTANCE_PATH": str(instance),
            "SERVER_NAME": HOST,
            "SQLALCHEMY_DATABASE_URI": url,
        }
    )
    try:
        yield app
    finally:
        close_app(app)
        migrated_db.drop(url)


@pytest.fixture
def app(tmp_path, database_url):
    app = create_app(
        {
            "ENV": "testing",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "SERVER_NAME": HOST,
            "SQLALCHEMY_DATABASE_URI": database_url,
        }
    )
    yield app
    close_app(app)


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
