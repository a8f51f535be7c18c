"""Expert badges next to authors of posts, replies and briefs."""

from kb.extensions import db
from tests.experts.conftest import (
    add_reply,
    declare,
    endorse,
    mark_post_useful,
    sign_in,
    user_named,
    write_brief,
    write_post,
)

BADGE = "专家 · C36 汽车制造业"


def test_badge_on_post_list_and_page(app, client, people):
    write_brief(app, "corp", industry_codes=["36"])
    declare(app, "corp", industries=[("36", 2)])
    post_id = write_post(app, "corp", industry_codes=["36"])
    sign_in(client, "credit")
    assert BADGE in client.get("/forum/").get_data(as_text=True)
    assert BADGE in client.get(f"/forum/{post_id}").get_data(as_text=True)


def test_no_badge_without_evidence(app, client, people):
    declare(app, "corp", industries=[("36", 3)])
    post_id = write_post(app, "corp", industry_codes=["36"])
    sign_in(client, "credit")
    assert BADGE not in client.get(f"/forum/{post_id}").get_data(as_text=True)


def test_no_badge_without_declaration(app, client, people):
    write_brief(app, "corp", industry_codes=["36"])
    post_id = write_post(app, "corp", industry_codes=["36"])
    sign_in(client, "credit")
    assert BADGE not in client.get(f"/forum/{post_id}").get_data(as_text=True)


def test_no_badge_for_other_industry(app, client, people):
    write_brief(app, "corp", industry_codes=["36"])
    declare(app, "corp", industries=[("36", 2)])
    post_id = write_post(app, "corp", industry_codes=["44"])
    sign_in(client, "credit")
    assert "专家 ·" not in client.get(f"/forum/{post_id}").get_data(as_text=True)


def test_badge_on_reply(app, client, people):
    post_id = write_post(app, "corp", industry_codes=["36"])
    helpful = write_post(app, "credit", industry_codes=["36"], title="车企回款放缓")
    mark_post_useful(app, "corp", helpful)
    declare(app, "credit", industries=[("36", 1)])
    add_reply(app, "credit", post_id)
    sign_in(client, "corp2")
    page = client.get(f"/forum/{post_id}").get_data(as_text=True)
    replies = page[page.index('id="replies"') :]
    assert BADGE in replies


def test_badge_on_brief(app, client, people):
    write_brief(app, "corp", industry_codes=["36"])
    brief_id = write_brief(app, "corp", industry_codes=["36"], title="第二篇")
    declare(app, "corp", industries=[("36", 2)])
    other_id = write_brief(app, "corp2", industry_codes=["36"])
    sign_in(client, "credit")
    assert BADGE in client.get(f"/briefs/{brief_id}").get_data(as_text=True)
    assert BADGE not in client.get(f"/briefs/{other_id}").get_data(as_text=True)


def _expertise_queries(app, client, path: str) -> tuple[str, int]:
    """Fetch ``path``; return the page and how many SQL statements read declarations."""
    from sqlalchemy import event

    from kb.extensions import db

    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        page = client.get(path).get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return page, len([s for s in statements if "expertise_industry" in s])


def test_badge_queries_do_not_grow_per_post(app, client, people):
    write_brief(app, "corp", industry_codes=["36"])
    declare(app, "corp", industries=[("36", 2)])
    write_post(app, "corp", industry_codes=["36"])
    sign_in(client, "admin")
    page, few = _expertise_queries(app, client, "/forum/")
    assert page.count(BADGE) == 1

    for username in ("corp2", "credit", "risk"):
        write_brief(app, username, industry_codes=["36"])
        declare(app, username, industries=[("36", 2)])
        write_post(app, username, industry_codes=["36"])
        write_post(app, username, industry_codes=["44"])
    page, many = _expertise_queries(app, client, "/forum/")
    assert page.count(BADGE) == 4
    assert many == few


def test_no_badge_from_endorsement_alone(app, client, people):
    declare(app, "corp", industries=[("36", 2)])
    endorse(app, "corp2", "corp", industry_code="36")
    post_id = write_post(app, "corp", industry_codes=["36"])
    sign_in(client, "credit")
    assert BADGE not in client.get(f"/forum/{post_id}").get_data(as_text=True)


def test_no_badge_for_deactivated_author(app, client, people):
    write_brief(app, "corp", industry_codes=["36"])
    declare(app, "corp", industries=[("36", 2)])
    post_id = write_post(app, "corp", industry_codes=["36"])
    with app.app_context():
        user_named("corp").active = False
        db.session.commit()
    sign_in(client, "credit")
    assert BADGE not in client.get(f"/forum/{post_id}").get_data(as_text=True)
