"""The client list: search by name, pinyin and code, filters, paging."""

import re

import pytest

from kb.extensions import db
from tests.clients.factories import make_client
from tests.forum.conftest import sign_in


def listed(page: str) -> list[str]:
    """Client names in the list table, in order."""
    return re.findall(r'<td><a href="/clients/[0-9A-Z]{18}">(.*?)</a></td>', page)


@pytest.fixture
def clients(app, people):
    """Four clients in two sections; 王公司 (corp) manages two of them."""
    with app.app_context():
        rows = {
            "bank": make_client(
                "招商银行股份有限公司",
                1,
                industry_code="66",
                manager_id=people["corp"],
                branch="深圳分行",
            ),
            "gold": make_client(
                "招远黄金集团", 2, industry_code="09", status="at_risk"
            ),
            "car": make_client(
                "长安汽车股份有限公司",
                3,
                industry_code="36",
                manager_id=people["corp"],
                status="at_risk",
            ),
            "parts": make_client(
                "星河汽车零部件有限公司",
                4,
                industry_code="36",
                manager_id=people["corp2"],
                status="lost",
            ),
        }
        return {name: client.credit_code for name, client in rows.items()}


def test_empty_query_lists_all_by_name(client, clients):
    sign_in(client, "corp")
    response = client.get("/clients/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    names = listed(page)
    assert names == sorted(names)
    assert len(names) == 4
    assert "共 4 个客户" in page


def test_table_shows_the_client_columns(client, clients):
    sign_in(client, "corp2")
    page = client.get("/clients/").get_data(as_text=True)
    row = re.search(rf'<tr data-client="{clients["bank"]}">.*?</tr>', page, re.S)
    assert row
    cells = re.findall(r"<td>(.*?)</td>", row.group(0), re.S)
    assert f'href="/clients/{clients["bank"]}"' in cells[0]
    assert clients["bank"] in cells[1]
    assert cells[2] == "66 货币金融服务"
    assert cells[3] == "王公司"
    assert cells[4] == "深圳分行"
    assert "正常" in cells[5]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("招商", ["招商银行股份有限公司"]),
        ("银行", ["招商银行股份有限公司"]),
        ("zsyh", ["招商银行股份有限公司"]),
        ("ZSYH", ["招商银行股份有限公司"]),
        ("zhaoshang", ["招商银行股份有限公司"]),
        ("xhqc", ["星河汽车零部件有限公司"]),
        ("汽车", ["长安汽车股份有限公司", "星河汽车零部件有限公司"]),
        ("不存在的名字", []),
    ],
)
def test_search_by_name_and_pinyin(client, clients, query, expected):
    sign_in(client, "corp")
    page = client.get("/clients/", query_string={"q": query}).get_data(as_text=True)
    assert listed(page) == expected


def test_search_by_credit_code(client, clients):
    sign_in(client, "corp")
    code = clients["car"]
    for typed in (code, code.lower()):
        page = client.get("/clients/", query_string={"q": typed}).get_data(as_text=True)
        assert listed(page)[0] == "长安汽车股份有限公司"
        assert len(listed(page)) == 1


def test_search_keeps_the_typed_query(client, clients):
    sign_in(client, "corp")
    page = client.get("/clients/?q=zsyh").get_data(as_text=True)
    assert 'name="q" value="zsyh"' in page


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"industry": "36"}, ["星河汽车零部件有限公司", "长安汽车股份有限公司"]),
        ({"industry": "C"}, ["星河汽车零部件有限公司", "长安汽车股份有限公司"]),
        ({"industry": "b"}, ["招远黄金集团"]),
        ({"status": "at_risk"}, ["招远黄金集团", "长安汽车股份有限公司"]),
        ({"status": "lost"}, ["星河汽车零部件有限公司"]),
        ({"manager": "me"}, ["招商银行股份有限公司", "长安汽车股份有限公司"]),
        ({"manager": "me", "status": "at_risk"}, ["长安汽车股份有限公司"]),
        ({"q": "汽车", "status": "lost"}, ["星河汽车零部件有限公司"]),
        ({"q": "zsyh", "industry": "36"}, []),
    ],
)
def test_filters(client, clients, args, expected):
    sign_in(client, "corp")
    response = client.get("/clients/", query_string=args)
    assert response.status_code == 200
    assert sorted(listed(response.get_data(as_text=True))) == sorted(expected)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"industry": "99"}, "未知的行业代码：99"),
        ({"industry": "汽车"}, "未知的行业代码：汽车"),
        ({"status": "dormant"}, "参数 status=&#39;dormant&#39; 无效"),
        ({"manager": "42"}, "参数 manager 的值 &#39;42&#39; 无效"),
    ],
)
def test_bad_filter_is_named_and_kept(client, clients, args, message):
    sign_in(client, "corp")
    response = client.get("/clients/", query_string={"q": "招商", **args})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert 'name="q" value="招商"' in page
    assert listed(page) == []


def test_list_pages(app, client, clients):
    app.config["KB_PER_PAGE"] = 3
    sign_in(client, "corp")
    first = client.get("/clients/").get_data(as_text=True)
    second = client.get("/clients/?page=2").get_data(as_text=True)
    assert len(listed(first)) == 3
    assert len(listed(second)) == 1
    assert set(listed(first)).isdisjoint(listed(second))
    assert "第 1 / 2 页" in first
    assert 'href="/clients/?page=2"' in first
    searched = client.get("/clients/?q=汽车&page=2").get_data(as_text=True)
    assert listed(searched) == []
    assert client.get("/clients/?page=999999999999").status_code == 200


def test_search_pages_keep_the_filters(app, client, clients):
    app.config["KB_PER_PAGE"] = 1
    sign_in(client, "corp")
    page = client.get("/clients/?q=汽车&status=at_risk&manager=me").get_data(
        as_text=True
    )
    assert listed(page) == ["长安汽车股份有限公司"]
    page = client.get("/clients/?q=汽车&industry=36").get_data(as_text=True)
    assert len(listed(page)) == 1
    pager = re.search(r'href="(/clients/\?[^"]*page=2[^"]*)"', page)
    assert pager
    assert "q=%E6%B1%BD%E8%BD%A6" in pager.group(1)
    assert "industry=36" in pager.group(1)
    following = client.get(pager.group(1).replace("&amp;", "&"))
    assert len(listed(following.get_data(as_text=True))) == 1


def test_list_requires_sign_in(client, clients):
    response = client.get("/clients/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_header_links_to_the_list(client, clients):
    sign_in(client, "corp")
    page = client.get("/").get_data(as_text=True)
    assert 'href="/clients/"' in page


def test_nothing_in_the_database_changes(app, client, clients):
    from kb.clients.models import ClientAccess

    sign_in(client, "corp")
    client.get("/clients/?q=zsyh")
    with app.app_context():
        assert db.session.query(ClientAccess).count() == 0
