"""The client briefing in the browser.

A relationship manager finds a client through the search box, links a post to
a client with the picker, and prints the briefing without the screen controls.
"""

import re

import pytest

from kb.auth.models import User
from kb.clients import services
from kb.clients.models import ClientAccess
from kb.extensions import db
from kb.forum import services as forum_services
from kb.forum.models import Post
from tests.clients.factories import make_client
from tests.conftest import PASSWORD
from tests.forum.conftest import (
    people,  # noqa: F401  (fixture)
    write_post,
)

CLIENT_NAME = "沪东汽车配件有限公司"
CLIENT_INITIALS = "hdqcpjyxgs"
# Shares the first two characters with CLIENT_NAME and is shorter, so the
# picker lists it first.
OTHER_NAME = "沪东物流有限公司"

# The value of CSS ``display`` for each element that matches a selector.
DISPLAY_JS = """(selector) => Array.from(
    document.querySelectorAll(selector),
    (element) => getComputedStyle(element).display,
)"""

# Whether each element that matches a selector is rendered, which needs the
# element and every ancestor to have a ``display`` other than none.
RENDERED_JS = """(selector) => Array.from(
    document.querySelectorAll(selector),
    (element) => {
        for (let node = element; node; node = node.parentElement) {
            if (getComputedStyle(node).display === "none") { return false; }
        }
        return true;
    },
)"""

SCREEN_ONLY = (
    "header.topbar",
    "nav.mainnav",
    "form.searchbox",
    "footer.footer",
    ".briefing .actions",
    "button",
    ".button",
)
PRINTED = (
    ".briefing h1",
    "#facts",
    "#facts dl.facts-list",
    "#risks",
    "#timeline",
    "#briefs",
    "#colleagues",
    "#contact",
    ".print-footer",
)


def sign_in(page, base, username):
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")


def link_posts(app, code: str, post_ids) -> None:
    with app.app_context():
        client = services.get_by_code(db.session, code)
        for post_id in post_ids:
            post = db.session.get(Post, post_id)
            services.set_post_clients(db.session, post, [client])
        db.session.commit()


def close_signal(app, post_id: int) -> None:
    with app.app_context():
        post = db.session.get(Post, post_id)
        handler = db.session.query(User).filter_by(username="risk").one()
        forum_services.change_status(db.session, post, handler, "closed", "已结清。")
        db.session.commit()


@pytest.fixture
def briefing(app, people):  # noqa: F811
    """A client managed by 王公司 and the posts linked to it.

    Two open risk signals, a closed one, a market post and a post that only
    授信审批部 may read.
    """
    with app.app_context():
        code = make_client(
            CLIENT_NAME,
            201,
            industry_code="36",
            manager_id=people["corp"],
            branch="上海分行",
            segment="战略客户",
            products=["流动资金贷款", "国内信用证"],
            notes="计划在安亭新建冲压车间。",
        ).credit_code
    ids = {
        "risk_low": write_post(
            app,
            "corp2",
            title="沪东汽车高管变动",
            signal_type="risk",
            severity="low",
        ),
        "risk_high": write_post(
            app,
            "corp2",
            title="沪东汽车主要客户停产",
            signal_type="risk",
            severity="high",
        ),
        "risk_closed": write_post(
            app,
            "corp",
            title="沪东汽车环保处罚已整改",
            signal_type="risk",
            severity="medium",
        ),
        "market": write_post(
            app, "corp2", title="沪东汽车拿下新能源车型订单", industry_codes=["36"]
        ),
        "dept_only": write_post(
            app, "credit", title="授信部沪东额度内部讨论", visibility="department"
        ),
    }
    close_signal(app, ids["risk_closed"])
    link_posts(app, code, ids.values())
    return {"code": code, "ids": ids, "people": people}


def displays(page, selector: str) -> list[str]:
    values = page.evaluate(DISPLAY_JS, selector)
    assert values, f"nothing matches {selector}"
    return values


def rendered(page, selector: str) -> list[bool]:
    values = page.evaluate(RENDERED_JS, selector)
    assert values, f"nothing matches {selector}"
    return values


def test_open_briefing_from_search_box(live_server, page, app, briefing, tmp_path):
    code = briefing["code"]
    ids = briefing["ids"]
    sign_in(page, live_server, "corp")

    page.fill("header input[name=q]", CLIENT_INITIALS)
    page.press("header input[name=q]", "Enter")
    page.wait_for_selector(".result")
    result = page.locator(".result:has(.chip.type-client)")
    assert result.count() == 1
    assert result.locator(".chip").inner_text() == "客户"
    assert result.locator("h3 a").inner_text() == CLIENT_NAME
    page.screenshot(path=str(tmp_path / "search.png"))

    result.locator("h3 a").click()
    page.wait_for_url(f"{live_server}/clients/{code}")
    assert page.inner_text("h1").startswith(CLIENT_NAME)

    facts = page.inner_text("#facts")
    assert code in facts
    assert "36 汽车制造业" in facts
    assert "王公司 · 公司金融部" in facts
    assert "您负责的客户" in facts
    assert "上海分行" in facts
    assert "战略客户" in facts
    assert "流动资金贷款" in facts
    assert "国内信用证" in facts
    assert "计划在安亭新建冲压车间。" in facts

    risks = page.locator("#risks li")
    assert risks.count() == 2
    first = risks.nth(0)
    assert first.get_attribute("data-post-id") == str(ids["risk_high"])
    assert "风险：高" in first.inner_text()
    assert "沪东汽车主要客户停产" in first.inner_text()
    assert risks.nth(1).get_attribute("data-post-id") == str(ids["risk_low"])
    assert "沪东汽车环保处罚已整改" not in page.inner_text("#risks")

    market = page.locator(f"#timeline li a[href='/forum/{ids['market']}']")
    assert market.count() == 1
    assert market.inner_text() == "沪东汽车拿下新能源车型订单"
    assert "沪东汽车环保处罚已整改" in page.inner_text("#timeline")
    assert "授信部沪东额度内部讨论" not in page.inner_text("main")
    assert page.locator(f"[data-post-id='{ids['dept_only']}']").count() == 0
    assert page.locator(f"a[href='/forum/{ids['dept_only']}']").count() == 0
    page.screenshot(path=str(tmp_path / "briefing.png"), full_page=True)

    with app.app_context():
        rows = db.session.query(ClientAccess).filter_by(credit_code=code).all()
        assert len(rows) == 1
        assert rows[0].user_id == briefing["people"]["corp"]
        assert rows[0].client_name == CLIENT_NAME
        assert rows[0].channel == "page"
    assert page.dialogs == []


def test_picker_links_post_to_client(live_server, page, app, people, tmp_path):  # noqa: F811
    with app.app_context():
        code = make_client(CLIENT_NAME, 202, industry_code="36").credit_code
        other_code = make_client(OTHER_NAME, 203, industry_code="54").credit_code
    sign_in(page, live_server, "corp")
    page.goto(f"{live_server}/forum/new")

    search = page.locator("#client-search")
    assert search.is_visible()
    search.fill("沪东")
    suggestions = page.locator("#client-suggestions li")
    suggestions.nth(1).wait_for()
    assert suggestions.count() == 2
    assert suggestions.nth(0).get_attribute("data-code") == other_code
    # Not a full-page screenshot: after one, Chromium 156 scrolled the page on
    # the next mouse press, so the click landed on another element.
    page.locator(".client-picker").screenshot(path=str(tmp_path / "picker.png"))

    suggestions.filter(has_text=CLIENT_NAME).click()
    assert page.input_value("#clients") == code
    assert suggestions.count() == 0
    assert search.input_value() == ""

    title = "沪东汽车配件扩建冲压车间"
    page.fill("#title", title)
    page.fill("#body_md", "新车间预计明年投产，设备贷款需求约八千万元。")
    page.click("form.editor button[type=submit]")
    page.wait_for_selector(f"h1:has-text('{title}')")
    assert re.fullmatch(rf"{re.escape(live_server)}/forum/\d+", page.url), page.url
    post_url = page.url

    chips = page.locator(".linked-clients a.chip.client")
    assert chips.count() == 1
    assert chips.inner_text() == CLIENT_NAME
    assert chips.get_attribute("href") == f"/clients/{code}"
    page.screenshot(path=str(tmp_path / "post.png"))

    chips.click()
    page.wait_for_url(f"{live_server}/clients/{code}")
    assert page.inner_text("h1").startswith(CLIENT_NAME)
    post_path = post_url.removeprefix(live_server)
    linked = page.locator(f"#timeline li a[href='{post_path}']")
    assert linked.count() == 1
    assert linked.inner_text() == title
    assert page.dialogs == []


def test_print_hides_screen_controls(live_server, page, briefing, tmp_path):
    code = briefing["code"]
    # An admin also sees the merge and delete forms, which must not print.
    sign_in(page, live_server, "admin")
    page.goto(f"{live_server}/clients/{code}")
    page.wait_for_selector("#facts")
    assert page.locator("details.admin-tools button").count() >= 2

    # On screen the same selectors match displayed elements.
    for selector in SCREEN_ONLY:
        assert "none" not in displays(page, selector), selector
    assert page.locator("header input[name=q]").is_visible()
    assert page.locator(".briefing .actions a.button").is_visible()

    page.emulate_media(media="print")
    for selector in SCREEN_ONLY:
        assert set(displays(page, selector)) == {"none"}, selector
    assert not page.locator("header input[name=q]").is_visible()
    assert not page.locator("details.admin-tools").is_visible()

    for selector in PRINTED:
        assert all(rendered(page, selector)), selector
    assert CLIENT_NAME in page.inner_text("#facts")
    assert "沪东汽车主要客户停产" in page.inner_text("#risks")
    assert "沪东汽车拿下新能源车型订单" in page.inner_text("#timeline")
    assert "内部资料 · 打印时间" in page.inner_text(".print-footer")
    page.screenshot(path=str(tmp_path / "print.png"), full_page=True)

    page.emulate_media(media="screen")
    assert "none" not in displays(page, "header.topbar")
    assert page.dialogs == []
