"""Fixtures: a source app with content and a second, fresh instance to restore into."""

import pytest

from kb import create_app
from kb.auth.models import User
from kb.extensions import db
from kb.training import files, services
from tests.conftest import HOST, close_app
from tests.training.documents import make_docx

# Only inside the uploaded DOCX, so a search hit proves the file was indexed.
ATTACHMENT_PHRASE = "跨境票据质押回购"
ATTACHMENT_NAME = "票据业务手册.docx"


def _make_app(instance, url):
    return create_app(
        {
            "ENV": "testing",
            "INSTANCE_PATH": str(instance),
            "SERVER_NAME": HOST,
            "SQLALCHEMY_DATABASE_URI": url,
        }
    )


@pytest.fixture
def filled(app, runner):
    """Load the demo content and add a course with a DOCX attachment.

    The demo content has users, briefs, forum posts and a question with an
    accepted answer. Returns the attachment's stored name and bytes.
    """
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    data = make_docx(f"本手册介绍{ATTACHMENT_PHRASE}的操作流程。")
    with app.app_context():
        author = db.session.query(User).filter_by(role="expert").first()
        course = services.create_course(
            db.session, services.CourseInput("票据业务", "票据课程。", []), author
        )
        prepared = files.prepare_upload(ATTACHMENT_NAME, data)
        attachment = files.store_attachment(
            db.session, app.instance_path, course, None, prepared, data, author
        )
        db.session.commit()
        return attachment.stored_name, data


@pytest.fixture
def fresh_app(tmp_path, migrated_db):
    """An app on a new instance folder whose database is migrated but empty."""
    instance = tmp_path / "fresh-instance"
    instance.mkdir()
    url = migrated_db.create(instance)
    app = _make_app(instance, url)
    yield app
    close_app(app)
    migrated_db.drop(url)


@pytest.fixture
def blank_app(tmp_path, migrated_db):
    """An app on a new instance folder whose database has no tables at all."""
    instance = tmp_path / "blank-instance"
    instance.mkdir()
    url = migrated_db.create_empty(instance)
    app = _make_app(instance, url)
    yield app
    close_app(app)
    migrated_db.drop(url)
