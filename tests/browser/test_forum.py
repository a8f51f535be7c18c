"""Two people in two browser windows.

A reply reaches the post's author through the inbox, and a department-only post
stays invisible to another department.
"""

import re

import pytest

from tests.conftest import PASSWORD

TAG = "冷链物流"


def sign_in(page, base, username):
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")


@pytest.fixture
def other_page(page):
    """A second browser window with its own cookies, for the second person."""
    context = page.context.browser.new_context(
        locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    other = context.new_page()
    other.set_default_timeout(15_000)
    dialogs = []
    other.on(
        "dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss())
    )
    other.dialogs = dialogs
    yield other
    context.close()


def publish(page, base, title, body, visibility, industry="", tags=""):
    """Submit the new-post form as the signed-in person and return the post's URL."""
    page.goto(f"{base}/forum/new")
    page.fill("#title", title)
    page.select_option("#visibility", visibility)
    if industry:
        page.select_option("#industries", [industry])
    page.fill("#tags", tags)
    page.fill("#body_md", body)
    page.click("form.editor button[type=submit]")
    page.wait_for_selector(f"h1:has-text('{title}')")
    assert re.fullmatch(rf"{re.escape(base)}/forum/\d+", page.url), page.url
    return page.url


def badge_count(page) -> int:
    """Return the unread number in the header, 0 when the badge is absent."""
    badge = page.locator("header a.inbox .badge")
    return int(badge.inner_text()) if badge.count() else 0


def test_reply_reaches_author_through_inbox(
    live_server, page, other_page, make_user, tmp_path
):
    make_user("author", department="公司金融部", display_name="王经理")
    make_user("approver", department="授信审批部", display_name="赵审批")
    author, approver = page, other_page
    sign_in(author, live_server, "author")
    sign_in(approver, live_server, "approver")

    # The approver follows the tag from the filtered list before anything is posted.
    approver.goto(f"{live_server}/forum/?tag={TAG}")
    approver.click("main button.follow:has-text('关注此类情报')")
    approver.wait_for_selector("main button.follow:has-text('取消关注')")

    title = "冷库租金回落，关注仓储企业回款"
    post_url = publish(
        author,
        live_server,
        title,
        "华东冷库平均租金环比下降 4%，部分仓储企业应收账款周转放缓。",
        "all",
        industry="59",
        tags=TAG,
    )
    assert badge_count(author) == 0

    approver.reload()
    approver.click(f"main article.post h3 a:has-text('{title}')")
    approver.wait_for_url(post_url)
    approver.fill(
        "#reply-form textarea[name=body_md]", "已核对两家客户，回款确有延迟。"
    )
    approver.click("#reply-form button[type=submit]")
    approver.wait_for_url(re.compile(rf"{re.escape(post_url)}#reply-\d+$"))
    reply_anchor = approver.url.rpartition("#")[2]
    assert "已核对两家客户" in approver.inner_text(f"#{reply_anchor}")

    author.reload()
    assert badge_count(author) == 1
    author.click("header a.inbox")
    author.wait_for_url(f"{live_server}/notifications/")
    entry = author.locator("main li.notice.unread")
    assert entry.count() == 1
    assert "新回复" in entry.inner_text()
    author.screenshot(path=str(tmp_path / "inbox.png"), full_page=True)

    entry.locator("h3 a").click()
    author.wait_for_url(f"{post_url}#{reply_anchor}")
    assert author.evaluate("location.hash") == f"#{reply_anchor}"
    assert "赵审批" in author.inner_text(f"#{reply_anchor}")
    assert badge_count(author) == 0
    author.screenshot(path=str(tmp_path / "reply.png"), full_page=True)
    assert author.dialogs == []
    assert approver.dialogs == []


def test_department_post_invisible_to_others(
    live_server, page, other_page, make_user, tmp_path
):
    make_user("author", department="公司金融部", display_name="王经理")
    make_user("approver", department="授信审批部", display_name="赵审批")
    author, approver = page, other_page
    sign_in(author, live_server, "author")
    sign_in(approver, live_server, "approver")

    title = "钛白粉客户扩产线索"
    post_url = publish(
        author,
        live_server,
        title,
        "某钛白粉客户计划扩产，授信需求约两亿元，请本部门跟进。",
        "department",
    )
    assert "仅本部门" in author.inner_text("main")

    # The author's own search box finds the post, so the search itself works.
    author.fill("header input[name=q]", "钛白粉")
    author.press("header input[name=q]", "Enter")
    author.wait_for_selector(".result")
    assert "找到 1 条结果" in author.inner_text("main")

    response = approver.goto(post_url)
    assert response.status == 404
    assert title not in approver.content()
    approver.screenshot(path=str(tmp_path / "not-found.png"), full_page=True)

    approver.goto(f"{live_server}/forum/")
    assert title not in approver.inner_text("main")
    assert "共 0 条" in approver.inner_text("main")

    approver.fill("header input[name=q]", "钛白粉")
    approver.press("header input[name=q]", "Enter")
    approver.wait_for_url(re.compile(r"/search/\?q="))
    main = approver.inner_text("main")
    assert "没有找到" in main
    assert title not in main
    assert approver.locator(".result").count() == 0
    assert author.dialogs == []
    assert approver.dialogs == []
