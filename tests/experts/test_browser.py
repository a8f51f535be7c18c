"""A profile edited in the browser, found in the directory and endorsed."""

from tests.browser.conftest import live_server, page  # noqa: F401
from tests.conftest import PASSWORD
from tests.experts.conftest import write_brief


def _sign_in(browser_page, base, username):
    browser_page.goto(f"{base}/login")
    browser_page.fill("#username", username)
    browser_page.fill("#password", PASSWORD)
    browser_page.click("main button[type=submit]")
    browser_page.wait_for_url(f"{base}/")


def test_profile_found_and_endorsed(app, people, live_server, page):  # noqa: F811
    write_brief(app, "credit", industry_codes=["36"], title="新能源车企回款观察")
    _sign_in(page, live_server, "credit")
    page.goto(f"{live_server}/people/me")
    page.fill("#headline", "汽车产业链授信")
    page.select_option("select[name=industry_value] >> nth=0", "36")
    page.select_option("select[name=industry_level] >> nth=0", "3")
    page.fill("input[name=skill_value] >> nth=0", "供应链金融")
    page.click("form.profile-form button[type=submit]")
    page.wait_for_url(f"{live_server}/people/*")
    assert "汽车产业链授信" in page.inner_text("main")

    page.context.clear_cookies()
    _sign_in(page, live_server, "corp")
    page.goto(f"{live_server}/people/")
    page.fill("input[name=q]", "汽车")
    page.click("form.people-filters button[type=submit]")
    page.wait_for_url("**/people/?**")
    first = page.locator("article.person").first
    assert "赵授信" in first.inner_text()
    assert "新能源车企回款观察" in first.inner_text()

    first.locator("h3 a").click()
    page.click("#expertise tbody tr >> nth=0 >> button")
    page.wait_for_url("**#expertise")
    row = page.locator("#expertise tbody tr").first
    assert "撤回认可" in row.inner_text()
    assert row.locator("td").nth(2).inner_text() == "1"
