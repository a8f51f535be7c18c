"""Publish a brief in the browser and find it through the search box."""

from tests.conftest import PASSWORD


def sign_in(page, base, username="manager"):
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_publish_and_find_brief(live_server, page, make_user, tmp_path):
    make_user("manager", display_name="王经理")
    sign_in(page, live_server)

    page.click("text=写简报")
    page.fill("#title", "冷链物流行业授信要点")
    page.fill("#summary", "冷库利用率回升，关注应收账款周转。")
    page.select_option("#industries", ["54", "59"])
    page.fill("#tags", "冷链、供应链金融")
    page.fill(
        "#body_md",
        "## 行业概况\n\n冷链仓储需求回暖，"
        "龙头企业的到期续贷安排以经营现金流覆盖为主。\n\n"
        "| 指标 | 2024年 |\n| --- | --- |\n| 冷库容量 | 2.3亿立方米 |",
    )
    page.click("main button[type=submit]")
    page.wait_for_selector("h1:has-text('冷链物流行业授信要点')")
    assert page.locator(".prose table").count() == 1

    page.fill("header input[name=q]", "续贷")
    page.press("header input[name=q]", "Enter")
    page.wait_for_selector(".result")
    assert "找到 1 条结果" in page.inner_text("main")
    mark = page.locator(".snippet mark").first
    assert mark.inner_text() == "续贷"
    page.screenshot(path=str(tmp_path / "search.png"), full_page=True)

    page.click(".result h3 a")
    page.wait_for_selector("h1:has-text('冷链物流行业授信要点')")
    assert page.dialogs == []


def test_invalid_form_keeps_input_in_browser(live_server, page, make_user):
    make_user("manager")
    sign_in(page, live_server)
    page.goto(f"{live_server}/briefs/new")
    page.fill("#title", "")
    page.fill("#published_on", "2024/06/31")
    page.fill("#body_md", "正文保留测试：HVDC 与 800V。")
    page.click("main button[type=submit]")
    page.wait_for_selector(".error")
    assert "标题不能为空" in page.inner_text(".field:has(#title)")
    assert "2024/06/31" in page.inner_text(".field:has(#published_on)")
    assert page.input_value("#body_md") == "正文保留测试：HVDC 与 800V。"
