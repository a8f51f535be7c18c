"""The risk board: order, filters, reader scope, severity counts and pages."""

import re

from tests.conftest import login
from tests.risk.conftest import (
    department_id,
    hide,
    make_anonymous,
    make_signal,
    set_status,
)

ROW_RE = re.compile(r'data-post-id="(\d+)"')


def board_ids(client, query: str = "") -> list[int]:
    response = client.get(f"/risk/{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return [int(found) for found in ROW_RE.findall(response.get_data(as_text=True))]


def severity_count(page: str, severity: str) -> int:
    match = re.search(rf'data-severity="{severity}">(\d+)<', page)
    assert match, f"no count for {severity}"
    return int(match.group(1))


def test_board_requires_login(client):
    response = client.get("/risk/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_order_severity_then_oldest(app, client, accounts):
    manager = accounts["manager"]
    low_old = make_signal(app, manager, "低风险旧", "low", age_days=30)
    high_new = make_signal(app, manager, "高风险新", "high", age_days=1)
    medium = make_signal(app, manager, "中风险", "medium", age_days=5)
    high_old = make_signal(app, manager, "高风险旧", "high", age_days=10)
    anonymous, _code = make_anonymous(app, "匿名高风险", "high")
    login(client, "risk_officer")
    assert board_ids(client) == [high_old, high_new, anonymous, medium, low_old]


def row_html(page: str, post_id: int) -> str:
    match = re.search(rf'<tr[^>]*data-post-id="{post_id}">(.*?)</tr>', page, re.S)
    assert match, f"no row for post {post_id}"
    return match.group(1)


def test_rows_show_columns(app, client, accounts):
    signal = make_signal(
        app, accounts["approver"], "某钢贸客户欠息", "high", 3, industries=("51",)
    )
    anonymous, _code = make_anonymous(app, "某汽配厂停工", "medium", ("36",))
    login(client, "risk_officer")
    page = client.get("/risk/").get_data(as_text=True)
    row = row_html(page, signal)
    assert f'href="/forum/{signal}"' in row
    assert "某钢贸客户欠息" in row
    assert "授信审批部" in row
    assert "批发业" in row
    assert "<td>3</td>" in row
    assert "待处理" in row
    assert ">高<" in row
    anonymous_row = row_html(page, anonymous)
    assert "匿名报告" in anonymous_row
    assert "汽车制造业" in anonymous_row
    assert ">中<" in anonymous_row


def test_filter_by_industry_division(app, client, accounts):
    cars = make_signal(app, accounts["manager"], "汽车", industries=("36",))
    make_signal(app, accounts["manager"], "钢贸", industries=("51",))
    login(client, "risk_officer")
    assert board_ids(client, "?industry=36") == [cars]


def test_filter_by_industry_section(app, client, accounts):
    cars = make_signal(app, accounts["manager"], "汽车", age_days=2, industries=("36",))
    steel = make_signal(
        app, accounts["manager"], "钢铁", age_days=1, industries=("31",)
    )
    make_signal(app, accounts["manager"], "钢贸", industries=("51",))
    login(client, "risk_officer")
    assert board_ids(client, "?industry=C") == [cars, steel]
    assert board_ids(client, "?industry=c") == [cars, steel]


def test_filter_by_department(app, client, accounts):
    from_manager = make_signal(app, accounts["manager"], "公司金融部的信号")
    make_signal(app, accounts["approver"], "授信审批部的信号")
    anonymous, _code = make_anonymous(app, "匿名信号")
    login(client, "risk_officer")
    corporate = department_id(app, "公司金融部")
    assert board_ids(client, f"?department={corporate}") == [from_manager]
    assert board_ids(client, "?department=anonymous") == [anonymous]


def test_filter_by_severity(app, client, accounts):
    high = make_signal(app, accounts["manager"], "高", "high")
    make_signal(app, accounts["manager"], "低", "low")
    login(client, "risk_officer")
    assert board_ids(client, "?severity=high") == [high]


def test_invalid_filters_named(app, client, accounts):
    login(client, "risk_officer")
    cases = {
        "?industry=99": "未知的行业代码：99",
        "?severity=urgent": "风险等级 &#39;urgent&#39; 无效",
        "?department=12345": "部门 &#39;12345&#39; 不存在",
        "?department=%C2%B2": "不存在",
        "?department=99999999999999999999999": "不存在",
        "?status=gone": "状态 &#39;gone&#39; 无效",
    }
    for query, message in cases.items():
        response = client.get(f"/risk/{query}")
        assert response.status_code == 400, query
        assert message in response.get_data(as_text=True), query


def test_risk_staff_see_department_only_signals(app, client, accounts):
    own_department = make_signal(
        app, accounts["manager"], "仅本部门的信号", visibility="department"
    )
    open_signal = make_signal(app, accounts["approver"], "全行可见的信号")
    anonymous, _code = make_anonymous(app, "匿名信号", "low")
    login(client, "risk_officer")
    assert sorted(board_ids(client)) == sorted([own_department, open_signal, anonymous])


def test_non_risk_author_sees_only_own(app, client, accounts):
    own = make_signal(app, accounts["manager"], "我发布的信号")
    make_signal(app, accounts["colleague"], "同事发布的全行信号")
    make_anonymous(app, "匿名信号")
    login(client, "manager")
    page = client.get("/risk/").get_data(as_text=True)
    assert "只列出您本人署名发布的风险信号" in page
    assert board_ids(client) == [own]


def test_non_risk_user_without_signals_sees_empty(app, client, accounts):
    make_signal(app, accounts["manager"], "他人发布的信号")
    make_anonymous(app, "匿名信号")
    login(client, "approver")
    response = client.get("/risk/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "只列出您本人署名发布的风险信号" in page
    assert "没有待处理的风险信号" in page
    assert ROW_RE.findall(page) == []
    assert severity_count(page, "medium") == 0
    assert severity_count(page, "high") == 0


def test_risk_staff_see_no_scope_notice(app, client, accounts):
    login(client, "risk_officer")
    page = client.get("/risk/").get_data(as_text=True)
    assert "只列出您本人署名发布的风险信号" not in page


def test_admin_sees_all_including_hidden(app, client, accounts):
    visible = make_signal(app, accounts["manager"], "可见信号", age_days=2)
    hidden = make_signal(app, accounts["colleague"], "已隐藏信号", age_days=1)
    anonymous, _code = make_anonymous(app, "匿名信号", "medium")
    hide(app, hidden, accounts["admin"])
    login(client, "admin")
    assert board_ids(client) == [visible, hidden, anonymous]
    assert "已隐藏" in client.get("/risk/").get_data(as_text=True)


def test_hidden_signals_absent_for_risk_staff(app, client, accounts):
    visible = make_signal(app, accounts["manager"], "可见信号")
    hidden = make_signal(app, accounts["colleague"], "已隐藏信号")
    hide(app, hidden, accounts["admin"])
    login(client, "risk_officer")
    assert board_ids(client) == [visible]


def test_hidden_own_signal_absent_for_author(app, client, accounts):
    hidden = make_signal(app, accounts["manager"], "已隐藏信号")
    hide(app, hidden, accounts["admin"])
    login(client, "manager")
    assert board_ids(client) == []


def test_closed_only_in_closed_view(app, client, accounts):
    open_signal = make_signal(app, accounts["manager"], "待处理信号", age_days=3)
    handling = make_signal(app, accounts["manager"], "处理中信号", age_days=2)
    closed = make_signal(app, accounts["manager"], "已关闭信号", age_days=1)
    set_status(app, handling, accounts["risk"], "handling", "已联系客户经理")
    set_status(app, closed, accounts["risk"], "closed", "客户已结清欠息")
    login(client, "risk_officer")
    assert board_ids(client) == [open_signal, handling]
    assert board_ids(client, "?status=closed") == [closed]
    assert board_ids(client, "?status=handling") == [handling]
    assert board_ids(client, "?status=all") == [open_signal, handling, closed]


def test_counts_follow_scope_and_filters(app, client, accounts):
    make_signal(app, accounts["manager"], "高一", "high")
    make_signal(app, accounts["manager"], "高二", "high", industries=("36",))
    make_signal(app, accounts["colleague"], "中一", "medium")
    make_anonymous(app, "匿名低", "low")
    login(client, "risk_officer")
    page = client.get("/risk/").get_data(as_text=True)
    assert severity_count(page, "high") == 2
    assert severity_count(page, "medium") == 1
    assert severity_count(page, "low") == 1
    filtered = client.get("/risk/?industry=36&severity=low").get_data(as_text=True)
    assert severity_count(filtered, "high") == 1
    assert severity_count(filtered, "low") == 0
    manager = app.test_client()
    login(manager, "manager")
    own = manager.get("/risk/").get_data(as_text=True)
    assert severity_count(own, "high") == 2
    assert severity_count(own, "medium") == 0
    assert severity_count(own, "low") == 0


def test_pages_are_stable(app, client, accounts):
    app.config["KB_PER_PAGE"] = 2
    ids = [
        make_signal(app, accounts["manager"], f"信号{n}", "medium", age_days=1)
        for n in range(5)
    ]
    login(client, "risk_officer")
    seen = []
    for page in (1, 2, 3):
        seen += board_ids(client, f"?page={page}")
    # Same severity and age: the id breaks the tie.
    assert seen == ids
    assert board_ids(client, "?page=4") == []


def test_pager_keeps_filters(app, client, accounts):
    app.config["KB_PER_PAGE"] = 1
    make_signal(app, accounts["manager"], "一", "high", industries=("36",))
    make_signal(app, accounts["manager"], "二", "high", industries=("36",))
    login(client, "risk_officer")
    page = client.get("/risk/?industry=36&severity=high").get_data(as_text=True)
    next_link = re.search(r'href="([^"]+)" rel="next"', page)
    assert next_link
    assert "industry=36" in next_link.group(1)
    assert "severity=high" in next_link.group(1)
