"""Sign-ins, sign-outs, departments, brief edits and profiles written at once."""

from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from kb.articles import services as articles
from kb.articles.models import Article, ArticleRevision
from kb.auth import services as auth
from kb.auth.models import Department, LoginFailure
from kb.errors import RateLimited, ValidationError
from kb.experts import services as experts
from kb.experts.models import ExpertiseIndustry, ExpertProfile
from kb.extensions import db
from tests.concurrency import overlap, user
from tests.forum.conftest import people  # noqa: F401

BODY_MAX = 300_000


def guessing(username: str, address: str):
    """Sign in with a wrong password; return the error, so its failure is kept."""

    def work():
        try:
            auth.authenticate(
                db.session, username, "wrong password", address, current_app.config
            )
        except (RateLimited, ValidationError) as error:
            return error
        raise AssertionError("a wrong password signed in")

    return work


def failures() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(LoginFailure))


def test_parallel_guesses_on_account_limited(app, people):  # noqa: F811
    app.config["KB_LOGIN_MAX_FAILURES_ACCOUNT"] = 1

    first, second = overlap(
        app, guessing("corp", "10.0.0.1"), guessing("corp", "10.0.0.2")
    )

    assert first.error is None
    assert second.error is None
    assert isinstance(first.result, ValidationError)
    assert isinstance(second.result, RateLimited)
    with app.app_context():
        assert failures() == 1


def test_parallel_guesses_from_address_limited(app, people):  # noqa: F811
    app.config["KB_LOGIN_MAX_FAILURES_ADDRESS"] = 1

    first, second = overlap(
        app, guessing("corp", "10.0.0.9"), guessing("credit", "10.0.0.9")
    )

    assert first.error is None
    assert second.error is None
    assert isinstance(first.result, ValidationError)
    assert isinstance(second.result, RateLimited)
    with app.app_context():
        assert failures() == 1


def test_new_department_twice_created_once(app):
    def creating():
        return auth.get_or_create_department(db.session, "普惠金融部").id

    first, second = overlap(app, creating, creating)

    assert first.error is None
    assert second.error is None
    assert first.result == second.result
    with app.app_context():
        names = db.session.scalars(
            sa.select(Department.name).where(Department.name == "普惠金融部")
        ).all()
        assert names == ["普惠金融部"]


def test_sign_out_everywhere_twice_counts_both(app, people):  # noqa: F811
    def signing_out():
        auth.sign_out_everywhere(user("corp"))

    first, second = overlap(app, signing_out, signing_out)

    assert first.error is None
    assert second.error is None
    with app.app_context():
        assert user("corp").session_epoch == 2


def write_brief(app) -> int:
    with app.app_context():
        data = articles.ArticleInput(
            title="光伏行业简报",
            body_md="组件价格继续下行。",
            published_at=datetime(2026, 11, 1, 9, 0),
        )
        article = articles.create_article(db.session, data, user("corp"), BODY_MAX)
        db.session.commit()
        return article.id


def test_brief_edits_number_revisions(app, people):  # noqa: F811
    article_id = write_brief(app)

    def editing(title: str):
        def work():
            data = articles.ArticleInput(
                title=title,
                body_md="组件价格企稳。",
                published_at=datetime(2026, 11, 1, 9, 0),
            )
            article = db.session.get(Article, article_id)
            return articles.update_article(
                db.session, article, data, user("corp"), BODY_MAX
            )

        return work

    first, second = overlap(app, editing("光伏简报一"), editing("光伏简报二"))

    assert first.error is None
    assert second.error is None
    with app.app_context():
        numbers = db.session.scalars(
            sa.select(ArticleRevision.number)
            .where(ArticleRevision.article_id == article_id)
            .order_by(ArticleRevision.number)
        ).all()
        assert numbers == [1, 2, 3]
        article = db.session.get(Article, article_id)
        assert article.revision_count == 3
        assert article.title == "光伏简报二"


def test_profile_saved_from_two_tabs(app, people):  # noqa: F811
    def saving(headline: str, level: int):
        def work():
            experts.set_profile(
                db.session,
                user("corp"),
                headline,
                "",
                industries=[("36", level)],
                skills=[("供应链金融", level)],
            )

        return work

    first, second = overlap(app, saving("汽车行业", 2), saving("汽车零部件", 3))

    assert first.error is None
    assert second.error is None
    with app.app_context():
        profile = db.session.get(ExpertProfile, people["corp"])
        assert profile.headline == "汽车零部件"
        levels = db.session.scalars(
            sa.select(ExpertiseIndustry.level).where(
                ExpertiseIndustry.user_id == people["corp"]
            )
        ).all()
        assert levels == [3]
