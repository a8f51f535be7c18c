"""Finding an expert, asking, answering and accepting, all in the browser.

A relationship manager looks for colleagues who know the automotive
industry, opens the best-ranked profile, asks that person a question; the
expert finds it in their queue and answers; the manager accepts the answer,
which then counts as the expert's evidence.
"""

from sqlalchemy import select

from kb.experts.evidence import rank_people
from kb.extensions import db
from kb.questions.models import Answer, Question
from tests.conftest import PASSWORD
from tests.experts.conftest import declare, user_named, write_brief
from tests.forum.conftest import people  # noqa: F401  (fixture)

QUESTION_TITLE = "电驱产线设备贷款的期限怎么定？"
ANSWER_TEXT = "按定点项目的生命周期匹配，一般四到六年。"


def sign_in(page, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")


def automotive_scores(app) -> dict[str, float]:
    with app.app_context():
        ranked = rank_people(db.session, industry_codes=("36",))
        return {person.user.username: person.score for person in ranked}


def test_find_ask_answer_accept(app, people, live_server, page):  # noqa: F811
    """Walk the whole path from the directory to an accepted answer."""
    for title in ("整车厂回款观察", "电驱系统价格走势", "零部件出海"):
        write_brief(app, "credit", industry_codes=["36"], title=title)
    write_brief(app, "corp2", industry_codes=["36"], title="汽车经销商库存")
    # Declares the top level but has contributed nothing: ranks last.
    declare(app, "risk", industries=[("36", 3)])
    scores_before = automotive_scores(app)

    sign_in(page, live_server, "corp")
    page.goto(f"{live_server}/people/")
    page.select_option("form.people-filters select[name=industry]", "36")
    page.click("form.people-filters button[type=submit]")
    page.wait_for_url("**/people/?**")
    names = page.locator("article.person h3").all_inner_texts()
    assert [name.split()[0] for name in names[:3]] == ["赵授信", "李公司", "钱风险"]

    page.locator("article.person h3 a").first.click()
    page.click("text=向 赵授信 提问")
    assert "将优先请 赵授信" in page.inner_text("p.chosen-expert")
    page.fill("#title", QUESTION_TITLE)
    page.select_option("select[name=industries]", ["36"])
    page.fill("#body_md", "客户计划新建 800V 电驱产线，设备投资约 1.2 亿元。")
    page.click("form.editor button[type=submit]")
    page.wait_for_url("**/questions/*")
    assert QUESTION_TITLE in page.inner_text("h1")

    sign_in(page, live_server, "credit")
    assert "待我回答 1" in page.inner_text("nav.mainnav")
    page.click("nav.mainnav >> text=待我回答")
    page.click(f"text={QUESTION_TITLE}")
    page.fill("#answer-form textarea", ANSWER_TEXT)
    page.click("#answer-form button[type=submit]")
    page.wait_for_url("**/questions/*")
    assert ANSWER_TEXT in page.inner_text("article.answer")

    sign_in(page, live_server, "corp")
    page.goto(f"{live_server}/notifications/")
    page.click(f"text={QUESTION_TITLE}")
    page.click("button.accept")
    page.wait_for_url("**/questions/*")
    assert "已采纳" in page.inner_text("article.answer.accepted")

    with app.app_context():
        question = db.session.scalar(
            select(Question).where(Question.title == QUESTION_TITLE)
        )
        answer = db.session.scalar(select(Answer).where(Answer.accepted))
        assert question.status == "answered"
        assert answer.author_id == user_named("credit").id
    assert automotive_scores(app)["credit"] == scores_before["credit"] + 5
    assert page.dialogs == []
