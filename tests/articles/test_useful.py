"""Marking briefs useful: one mark per person, the count, the button."""

import re

import pytest

from kb.articles import services
from kb.articles.models import Article
from kb.auth.models import User
from kb.extensions import db
from kb.forum.models import UsefulMark
from tests.conftest import csrf_token, login


@pytest.fixture
def brief(app, make_user):
    """A brief by 王公司 and two colleagues who may mark it."""
    make_user("author", display_name="王公司")
    make_user("reader", display_name="李读者")
    make_user("other", department="授信审批部", display_name="赵授信")
    with app.app_context():
        author = db.session.query(User).filter_by(username="author").one()
        data = services.ArticleInput(title="汽车行业月报", body_md="正文。")
        article = services.create_article(db.session, data, author, 9999)
        db.session.commit()
        return article.id


def count(app, article_id: int) -> int:
    with app.app_context():
        return db.session.get(Article, article_id).useful_count


def marks(app, article_id: int) -> int:
    with app.app_context():
        return (
            db.session.query(UsefulMark)
            .filter(UsefulMark.article_id == article_id)
            .count()
        )


def press(client, article_id: int):
    token = csrf_token(client, f"/briefs/{article_id}")
    return client.post(f"/briefs/{article_id}/useful", data={"csrf_token": token})


BUTTON_RE = re.compile(
    r'<button type="submit" class="useful( on)?" aria-pressed="(\w+)">'
    r"有用 · (\d+)</button>"
)


def button(page: str) -> re.Match:
    match = BUTTON_RE.search(page)
    assert match, "no useful button"
    return match


def test_toggle_marks_and_unmarks(app, brief):
    with app.app_context():
        reader = db.session.query(User).filter_by(username="reader").one()
        article = db.session.get(Article, brief)
        assert services.toggle_useful(db.session, reader, article) is True
        assert article.useful_count == 1
        assert services.has_marked_useful(db.session, reader, article)
        assert services.toggle_useful(db.session, reader, article) is False
        assert article.useful_count == 0
        assert not services.has_marked_useful(db.session, reader, article)
        db.session.commit()
    assert marks(app, brief) == 0


def test_one_mark_per_person(app, client, brief):
    login(client, "reader")
    response = press(client, brief)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/briefs/{brief}"
    assert count(app, brief) == 1
    other = app.test_client()
    login(other, "other")
    press(other, brief)
    assert count(app, brief) == 2
    assert marks(app, brief) == 2
    press(client, brief)
    assert count(app, brief) == 1
    assert marks(app, brief) == 1


def test_button_shows_count_and_state(app, client, brief):
    login(client, "reader")
    before = button(client.get(f"/briefs/{brief}").get_data(as_text=True))
    assert before.groups() == (None, "false", "0")
    press(client, brief)
    page = client.get(f"/briefs/{brief}").get_data(as_text=True)
    assert "已标记为有用" in page
    assert button(page).groups() == (" on", "true", "1")
    other = app.test_client()
    login(other, "other")
    seen = button(other.get(f"/briefs/{brief}").get_data(as_text=True))
    assert seen.groups() == (None, "false", "1")


def test_unmark_flashes(app, client, brief):
    login(client, "reader")
    press(client, brief)
    press(client, brief)
    page = client.get(f"/briefs/{brief}").get_data(as_text=True)
    assert "已取消有用标记" in page
    assert button(page).groups() == (None, "false", "0")


def test_missing_csrf_token_changes_nothing(app, client, brief):
    login(client, "reader")
    response = client.post(f"/briefs/{brief}/useful")
    assert response.status_code == 400
    assert count(app, brief) == 0


def test_unknown_brief_is_404(app, client, brief):
    login(client, "reader")
    token = csrf_token(client, f"/briefs/{brief}")
    response = client.post("/briefs/999/useful", data={"csrf_token": token})
    assert response.status_code == 404


def test_marking_requires_sign_in(app, client, brief):
    token = csrf_token(client)
    response = client.post(f"/briefs/{brief}/useful", data={"csrf_token": token})
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    assert count(app, brief) == 0


def test_get_is_not_allowed(app, client, brief):
    login(client, "reader")
    assert client.get(f"/briefs/{brief}/useful").status_code == 405
