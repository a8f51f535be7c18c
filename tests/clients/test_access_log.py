"""The client access log for admins: filters, paging and the CSV export."""

import csv
import io
import re
from datetime import datetime

import pytest

from kb.auth.models import User
from kb.clients import services
from kb.clients.models import ClientAccess
from kb.extensions import db
from kb.timeutil import to_local, utcnow
from tests.clients.factories import make_client
from tests.forum.conftest import sign_in

# Naive UTC times as stored, and the Asia/Shanghai day each falls on.
LATE_DEC_3 = datetime(2026, 12, 3, 15, 59)  # 2026-12-03 23:59 in Shanghai
EARLY_DEC_4 = datetime(2026, 12, 3, 16, 30)  # 2026-12-04 00:30 in Shanghai
LATE_DEC_4 = datetime(2026, 12, 4, 15, 0)  # 2026-12-04 23:00 in Shanghai
DEC_5 = datetime(2026, 12, 5, 2, 0)  # 2026-12-05 10:00 in Shanghai


@pytest.fixture
def log(app, people):
    """Four access rows by two people on two clients, at known times."""
    with app.app_context():
        car = make_client("长安汽车股份有限公司", 1)
        bank = make_client("=HYPERLINK(招商银行)", 2)
        corp = db.session.get(User, people["corp"])
        credit = db.session.get(User, people["credit"])
        rows = [
            (corp, car, "page", LATE_DEC_3),
            (corp, bank, "page", EARLY_DEC_4),
            (credit, car, "api", LATE_DEC_4),
            (credit, bank, "page", DEC_5),
        ]
        for user, client, channel, when in rows:
            services.record_access(db.session, user, client, channel)
            entry = db.session.query(ClientAccess).order_by(ClientAccess.id.desc())
            entry.first().created_at = when
        db.session.commit()
        return {"car": car.credit_code, "bank": bank.credit_code}


def logged_times(page: str) -> list[str]:
    return re.findall(r"<time [^>]*>([0-9: -]+)</time>", page)


def test_staff_get_403(client, log):
    sign_in(client, "corp")
    assert client.get("/admin/clients/access").status_code == 403
    assert client.get("/admin/clients/access.csv").status_code == 403


def test_visitors_are_sent_to_sign_in(client, log):
    response = client.get("/admin/clients/access")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    assert client.get("/admin/clients/access.csv").status_code == 302


def test_log_lists_newest_first(client, log):
    sign_in(client, "admin")
    response = client.get("/admin/clients/access")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert logged_times(page) == [
        "2026-12-05 10:00:00",
        "2026-12-04 23:00:00",
        "2026-12-04 00:30:00",
        "2026-12-03 23:59:00",
    ]
    assert "赵授信" in page
    assert "credit · 授信审批部" in page
    assert "<td>API</td>" in page
    assert f'href="/clients/{log["car"]}"' in page
    assert "共 4 条" in page


@pytest.mark.parametrize(
    ("args", "times"),
    [
        ({"user": "corp"}, ["2026-12-04 00:30:00", "2026-12-03 23:59:00"]),
        ({"user": "CREDIT"}, ["2026-12-05 10:00:00", "2026-12-04 23:00:00"]),
        ({"client": "car"}, ["2026-12-04 23:00:00", "2026-12-03 23:59:00"]),
        (
            {"from": "2026-12-04"},
            ["2026-12-05 10:00:00", "2026-12-04 23:00:00", "2026-12-04 00:30:00"],
        ),  # fmt: skip
        ({"to": "2026-12-03"}, ["2026-12-03 23:59:00"]),
        (
            {"from": "2026-12-04", "to": "2026-12-04"},
            ["2026-12-04 23:00:00", "2026-12-04 00:30:00"],
        ),  # fmt: skip
        ({"from": "２０２６－１２－０５"}, ["2026-12-05 10:00:00"]),
        (
            {"user": "corp", "client": "bank", "from": "2026-12-04"},
            ["2026-12-04 00:30:00"],
        ),  # fmt: skip
        ({"from": "2027-01-01"}, []),
    ],
)
def test_log_filters(client, log, args, times):
    if "client" in args:
        args = {**args, "client": log[args["client"]].lower()}
    sign_in(client, "admin")
    response = client.get("/admin/clients/access", query_string=args)
    assert response.status_code == 200
    assert logged_times(response.get_data(as_text=True)) == times


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"from": "2026-13-01"}, "开始日期（参数 from）的值 &#39;2026-13-01&#39; 无效"),
        ({"to": "12/04/2026"}, "结束日期（参数 to）的值 &#39;12/04/2026&#39; 无效"),
        ({"from": "20261204"}, "参数 from"),
        ({"from": "0001-01-01"}, "超出范围"),
        ({"from": "2026-12-05", "to": "2026-12-04"}, "早于开始日期 2026-12-05"),
        ({"user": "nobody"}, "没有用户名为 &#39;nobody&#39; 的账户"),
        ({"client": "123"}, "客户（参数 client）：统一社会信用代码 123 应为 18 位"),
    ],
)
def test_bad_filter_is_named(client, log, args, message):
    sign_in(client, "admin")
    response = client.get("/admin/clients/access", query_string=args)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    for name, value in args.items():
        assert f'name="{name}" value="{value}"' in page
    assert logged_times(page) == []


def test_log_pages_keep_the_filters(app, client, log):
    app.config["KB_PER_PAGE"] = 1
    sign_in(client, "admin")
    page = client.get("/admin/clients/access?from=2026-12-04").get_data(as_text=True)
    assert logged_times(page) == ["2026-12-05 10:00:00"]
    assert "第 1 / 3 页" in page
    assert 'href="/admin/clients/access?page=2&amp;from=2026-12-04"' in page
    second = client.get("/admin/clients/access?page=2&from=2026-12-04")
    assert logged_times(second.get_data(as_text=True)) == ["2026-12-04 23:00:00"]


def read_csv(response) -> list[list[str]]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def test_csv_export(client, log):
    sign_in(client, "admin")
    response = client.get("/admin/clients/access.csv")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert response.get_data()[:3] == b"\xef\xbb\xbf"
    today = to_local(utcnow()).strftime("%Y%m%d")
    assert response.headers["Content-Disposition"] == (
        f"attachment; filename=client-access-{today}.csv"
    )
    rows = read_csv(response)
    assert rows[0] == [
        "时间 Time",
        "用户名 Username",
        "姓名 Name",
        "客户名称 Client name",
        "统一社会信用代码 Credit code",
        "渠道 Channel",
    ]
    assert rows[1:] == [
        [
            "2026-12-05T10:00:00+08:00",
            "credit",
            "赵授信",
            "'=HYPERLINK(招商银行)",
            log["bank"],
            "page",
        ],  # fmt: skip
        [
            "2026-12-04T23:00:00+08:00",
            "credit",
            "赵授信",
            "长安汽车股份有限公司",
            log["car"],
            "api",
        ],  # fmt: skip
        [
            "2026-12-04T00:30:00+08:00",
            "corp",
            "王公司",
            "'=HYPERLINK(招商银行)",
            log["bank"],
            "page",
        ],  # fmt: skip
        [
            "2026-12-03T23:59:00+08:00",
            "corp",
            "王公司",
            "长安汽车股份有限公司",
            log["car"],
            "page",
        ],  # fmt: skip
    ]


def test_csv_uses_the_same_filters(client, log):
    sign_in(client, "admin")
    response = client.get(
        "/admin/clients/access.csv",
        query_string={"user": "corp", "from": "2026-12-04", "to": "2026-12-04"},
    )
    rows = read_csv(response)
    assert [row[0] for row in rows[1:]] == ["2026-12-04T00:30:00+08:00"]


def test_csv_link_carries_the_filters(client, log):
    sign_in(client, "admin")
    page = client.get("/admin/clients/access?user=corp&to=2026-12-04").get_data(
        as_text=True
    )
    assert 'href="/admin/clients/access.csv?user=corp&amp;to=2026-12-04"' in page


def test_csv_bad_filter_is_400(client, log):
    sign_in(client, "admin")
    response = client.get("/admin/clients/access.csv?to=yesterday")
    assert response.status_code == 400
    assert "参数 to" in response.get_data(as_text=True)


def test_views_and_api_calls_appear_in_the_log(client, log):
    sign_in(client, "corp")
    client.get(f"/clients/{log['car']}")
    client.get(f"/api/v1/clients/{log['car']}")
    admin = client.application.test_client()
    sign_in(admin, "admin")
    rows = read_csv(admin.get("/admin/clients/access.csv?user=corp"))
    assert [(row[1], row[4], row[5]) for row in rows[1:3]] == [
        ("corp", log["car"], "api"),
        ("corp", log["car"], "page"),
    ]
