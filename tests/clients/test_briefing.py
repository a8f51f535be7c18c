"""The visit briefing page: sections, visibility, ranking, printing, audit rows."""

import re
from datetime import date, timedelta

import pytest

from kb.articles.models import Article
from kb.articles.services import ArticleInput, create_article, toggle_useful
from kb.auth.models import User
from kb.clients import creditcode, services
from kb.clients.models import ClientAccess
from kb.extensions import db
from kb.forum import services as forum_services
from kb.forum.models import Post
from kb.timeutil import utcnow
from tests.clients.factories import make_client
from tests.forum.conftest import add_reply, sign_in, write_post

SECTIONS = ("facts", "risks", "timeline", "briefs", "colleagues", "contact")


def account(username: str) -> User:
    return db.session.query(User).filter_by(username=username).one()


def link_posts(app, code: str, post_ids) -> None:
    """Add the posts to the client's links, keeping each post's other links."""
    with app.app_context():
        client = services.get_by_code(db.session, code)
        for post_id in post_ids:
            post = db.session.get(Post, post_id)
            others = services.clients_of_post(db.session, post_id)
            services.set_post_clients(db.session, post, [*others, client])
        db.session.commit()


def link_articles(app, code: str, article_ids) -> None:
    with app.app_context():
        client = services.get_by_code(db.session, code)
        for article_id in article_ids:
            article = db.session.get(Article, article_id)
            others = services.clients_of_article(db.session, article_id)
            services.set_article_clients(db.session, article, [*others, client])
        db.session.commit()


def age_post(app, post_id: int, days: float) -> None:
    with app.app_context():
        db.session.get(Post, post_id).created_at = utcnow() - timedelta(days=days)
        db.session.commit()


def write_brief(app, author: str, title: str, industries, published: date) -> int:
    with app.app_context():
        data = ArticleInput(
            title=title,
            body_md=f"{title}的正文。",
            industry_codes=list(industries),
            published_at=published,
        )
        article = create_article(db.session, data, account(author), 300_000)
        db.session.commit()
        return article.id


def mark_useful(app, article_id: int, *usernames: str) -> None:
    with app.app_context():
        article = db.session.get(Article, article_id)
        for username in usernames:
            toggle_useful(db.session, account(username), article)
        db.session.commit()


def close_signal(app, post_id: int) -> None:
    with app.app_context():
        post = db.session.get(Post, post_id)
        forum_services.change_status(
            db.session, post, account("risk"), "closed", "已整改完毕。"
        )
        db.session.commit()


def section(page: str, name: str) -> str:
    match = re.search(rf'<section[^>]*id="{name}".*?</section>', page, re.S)
    assert match, f"section {name} missing"
    return match.group(0)


def post_ids_in(html: str) -> list[int]:
    return [int(value) for value in re.findall(r'<li[^>]*data-post-id="(\d+)"', html)]


def timeline_entries(page: str) -> list[tuple[int, int | None]]:
    found = re.findall(
        r'<li data-post-id="(\d+)"(?: data-reply-id="(\d+)")?>',
        section(page, "timeline"),
    )
    return [(int(post), int(reply) if reply else None) for post, reply in found]


@pytest.fixture
def scene(app, people):
    """A client in 汽车制造业 (36), posts and briefs about it, seen by 公司金融部."""
    with app.app_context():
        client = make_client(
            "星河汽车零部件有限公司",
            101,
            industry_code="36",
            manager_id=people["corp"],
            branch="北京分行",
            segment="战略客户",
            status="at_risk",
            products=["流动资金贷款", "票据贴现"],
            notes="计划扩建第二工厂。",
        )
        code = client.credit_code
    ids = {
        "market": write_post(
            app, "corp", title="星河扩产第二工厂", industry_codes=["36"]
        ),
        "lead": write_post(
            app,
            "corp2",
            title="星河新能源车型商机",
            signal_type="lead",
            industry_codes=["36"],
        ),
        "dept_only": write_post(
            app,
            "credit",
            title="授信部内部额度讨论",
            visibility="department",
            industry_codes=["36"],
        ),
        "risk_high_old": write_post(
            app,
            "corp2",
            title="星河应收账款逾期",
            signal_type="risk",
            severity="high",
            industry_codes=["36"],
        ),
        "risk_high_new": write_post(
            app, "corp", title="星河主要客户停产", signal_type="risk", severity="high"
        ),
        "risk_low": write_post(
            app,
            "corp",
            title="星河高管变动",
            signal_type="risk",
            severity="low",
            industry_codes=["36"],
        ),
        "risk_closed": write_post(
            app,
            "corp",
            title="星河环保处罚已整改",
            signal_type="risk",
            severity="medium",
            industry_codes=["36"],
        ),
        "risk_dept": write_post(
            app,
            "credit",
            title="授信部内部风险提示",
            signal_type="risk",
            severity="high",
            visibility="department",
            industry_codes=["36"],
        ),
        "unlinked": write_post(
            app, "corp", title="另一家零部件厂的消息", industry_codes=["36"]
        ),
    }
    ages = {
        "market": 10,
        "lead": 3,
        "dept_only": 2,
        "risk_high_old": 6,
        "risk_high_new": 1,
        "risk_low": 8,
        "risk_closed": 9,
        "risk_dept": 4,
        "unlinked": 5,
    }
    for name, days in ages.items():
        age_post(app, ids[name], days)
    close_signal(app, ids["risk_closed"])
    link_posts(app, code, [ids[name] for name in ages if name != "unlinked"])
    ids["reply"] = add_reply(
        app, "credit", ids["market"], "已与客户财务总监沟通。\n下周再访。"
    )
    ids["dept_reply"] = add_reply(app, "credit", ids["dept_only"], "内部回复内容")

    ids["brief_linked"] = write_brief(
        app, "corp2", "星河公司授信方案要点", ["13"], date(2024, 3, 1)
    )
    ids["brief_new"] = write_brief(
        app, "corp", "汽车零部件行业月报", ["36"], date(2026, 1, 10)
    )
    ids["brief_old_useful"] = write_brief(
        app, "corp", "汽车行业信贷政策解读", ["36"], date(2025, 6, 1)
    )
    ids["brief_useful"] = write_brief(
        app, "credit", "新能源汽车供应链观察", ["36"], date(2025, 9, 1)
    )
    ids["brief_other"] = write_brief(
        app, "corp", "煤炭行业简报", ["06"], date(2026, 2, 1)
    )
    mark_useful(app, ids["brief_old_useful"], "corp2", "credit")
    mark_useful(app, ids["brief_useful"], "corp", "risk")
    link_articles(app, code, [ids["brief_linked"]])
    return {"code": code, "ids": ids, "people": people}


def test_sections_come_in_order(app, client, scene):
    sign_in(client, "corp")
    page = client.get(f"/clients/{scene['code']}").get_data(as_text=True)
    positions = [page.index(f'id="{name}"') for name in SECTIONS]
    assert positions == sorted(positions)


def test_facts_show_the_client_record(app, client, scene):
    sign_in(client, "corp")
    response = client.get(f"/clients/{scene['code']}")
    assert response.status_code == 200
    facts = section(response.get_data(as_text=True), "facts")
    assert "星河汽车零部件有限公司" in facts
    assert scene["code"] in facts
    assert 'href="/briefs/?industry=36"' in facts
    assert "36 汽车制造业" in facts
    assert "王公司 · 公司金融部" in facts
    assert "您负责的客户" in facts
    assert "北京分行" in facts
    assert "战略客户" in facts
    assert "有流失风险" in facts
    assert "<li>流动资金贷款</li>" in facts
    assert "<li>票据贴现</li>" in facts
    assert "计划扩建第二工厂。" in facts


def test_managed_mark_only_for_the_manager(app, client, scene):
    sign_in(client, "corp2")
    page = client.get(f"/clients/{scene['code']}").get_data(as_text=True)
    assert "王公司 · 公司金融部" in section(page, "facts")
    assert "您负责的客户" not in page


def test_open_risks_by_severity_then_age(app, client, scene):
    ids = scene["ids"]
    sign_in(client, "corp")
    page = client.get(f"/clients/{scene['code']}").get_data(as_text=True)
    risks = section(page, "risks")
    assert post_ids_in(risks) == [
        ids["risk_high_old"],
        ids["risk_high_new"],
        ids["risk_low"],
    ]
    assert "风险：高" in risks
    assert "已过 6 天" in risks
    assert "星河环保处罚已整改" not in risks
    assert "星河环保处罚已整改" in section(page, "timeline")


def test_no_open_risks_message(app, client, people):
    with app.app_context():
        code = make_client("平安无事有限公司", 102).credit_code
    sign_in(client, "corp")
    page = client.get(f"/clients/{code}").get_data(as_text=True)
    assert "暂无未关闭的风险信号" in section(page, "risks")


def test_timeline_newest_first_with_replies(app, client, scene):
    ids = scene["ids"]
    sign_in(client, "corp")
    page = client.get(f"/clients/{scene['code']}").get_data(as_text=True)
    assert timeline_entries(page) == [
        (ids["market"], ids["reply"]),
        (ids["risk_high_new"], None),
        (ids["lead"], None),
        (ids["risk_high_old"], None),
        (ids["risk_low"], None),
        (ids["risk_closed"], None),
        (ids["market"], None),
    ]
    timeline = section(page, "timeline")
    assert "回复：星河扩产第二工厂" in timeline
    assert "已与客户财务总监沟通。" in timeline
    assert "下周再访" not in timeline
    assert f'href="/forum/{ids["market"]}#reply-{ids["reply"]}"' in timeline
    assert "商机线索" in timeline
    assert "李公司 · 公司金融部" in timeline


def test_department_only_posts_absent_everywhere(app, client, scene):
    ids = scene["ids"]
    sign_in(client, "corp")
    page = client.get(f"/clients/{scene['code']}").get_data(as_text=True)
    for hidden in ("授信部内部额度讨论", "授信部内部风险提示", "内部回复内容"):
        assert hidden not in page
    for name in ("dept_only", "risk_dept"):
        assert f"/forum/{ids[name]}" not in page
        assert f'data-post-id="{ids[name]}"' not in page


def test_author_department_sees_its_posts(app, client, scene):
    ids = scene["ids"]
    sign_in(client, "credit")
    page = client.get(f"/clients/{scene['code']}").get_data(as_text=True)
    assert ids["risk_dept"] in post_ids_in(section(page, "risks"))
    assert (ids["dept_only"], ids["dept_reply"]) in timeline_entries(page)
    assert "授信部内部额度讨论" in section(page, "timeline")


def test_risk_staff_see_other_departments_risks(app, client, scene):
    ids = scene["ids"]
    sign_in(client, "risk")
    page = client.get(f"/clients/{scene['code']}").get_data(as_text=True)
    assert post_ids_in(section(page, "risks")) == [
        ids["risk_high_old"],
        ids["risk_dept"],
        ids["risk_high_new"],
        ids["risk_low"],
    ]
    assert "授信部内部额度讨论" not in page


def test_hidden_post_absent_for_staff(app, client, scene):
    ids = scene["ids"]
    with app.app_context():
        post = db.session.get(Post, ids["lead"])
        forum_services.hide_post(db.session, post, account("admin"), "重复发布")
        db.session.commit()
    sign_in(client, "corp")
    page = client.get(f"/clients/{scene['code']}").get_data(as_text=True)
    assert "星河新能源车型商机" not in page
    admin = sign_in(app.test_client(), "admin")
    admin_page = admin.get(f"/clients/{scene['code']}").get_data(as_text=True)
    assert "星河新能源车型商机" in section(admin_page, "timeline")
    assert "已隐藏" in section(admin_page, "timeline")


def test_briefs_linked_first_then_most_useful(app, client, scene):
    ids = scene["ids"]
    sign_in(client, "corp")
    page = client.get(f"/clients/{scene['code']}").get_data(as_text=True)
    briefs = section(page, "briefs")
    article_ids = [int(v) for v in re.findall(r'data-article-id="(\d+)"', briefs)]
    assert article_ids == [
        ids["brief_linked"],
        ids["brief_useful"],
        ids["brief_old_useful"],
        ids["brief_new"],
    ]
    assert briefs.count("已关联") == 1
    assert re.search(r"已关联</span>\s*<a[^>]*>星河公司授信方案要点", briefs)
    assert "2 人认为有用" in briefs
    assert "煤炭行业简报" not in page


def test_industry_briefs_capped_at_ten(app, client, people):
    with app.app_context():
        code = make_client("简报很多的公司", 103, industry_code="36").credit_code
    titles = [f"汽车行业第{n:02d}期" for n in range(12)]
    for n, title in enumerate(titles):
        write_brief(app, "corp", title, ["36"], date(2025, 1, 1) + timedelta(days=n))
    sign_in(client, "corp")
    briefs = section(client.get(f"/clients/{code}").get_data(as_text=True), "briefs")
    listed_titles = re.findall(r">(汽车行业第\d\d期)</a>", briefs)
    assert listed_titles == list(reversed(titles))[:10]


def test_linked_brief_shown_once(app, client, scene):
    ids = scene["ids"]
    link_articles(app, scene["code"], [ids["brief_useful"]])
    sign_in(client, "corp")
    briefs = section(
        client.get(f"/clients/{scene['code']}").get_data(as_text=True), "briefs"
    )
    article_ids = [int(v) for v in re.findall(r'data-article-id="(\d+)"', briefs)]
    assert article_ids == [
        ids["brief_useful"],
        ids["brief_linked"],
        ids["brief_old_useful"],
        ids["brief_new"],
    ]
    assert briefs.count("已关联") == 2


def colleague_rows(page: str) -> list[tuple[str, str, int, int]]:
    rows = re.findall(
        r"<tr data-user-id=\"\d+\">\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*"
        r"<td>(\d+)</td>\s*<td>(\d+)</td>",
        section(page, "colleagues"),
    )
    return [(name, dept, int(briefs), int(posts)) for name, dept, briefs, posts in rows]


def test_colleagues_ranked_by_contributions(app, client, scene):
    sign_in(client, "corp")
    page = client.get(f"/clients/{scene['code']}").get_data(as_text=True)
    assert colleague_rows(page) == [
        ("王公司", "公司金融部", 2, 4),
        ("李公司", "公司金融部", 0, 2),
        ("赵授信", "授信审批部", 1, 0),
    ]
    assert "由这些内容推算" in section(page, "colleagues")


def test_colleagues_count_only_visible_posts(app, client, scene):
    sign_in(client, "credit")
    page = client.get(f"/clients/{scene['code']}").get_data(as_text=True)
    assert colleague_rows(page) == [
        ("王公司", "公司金融部", 2, 4),
        ("赵授信", "授信审批部", 1, 2),
        ("李公司", "公司金融部", 0, 2),
    ]


def test_anonymous_reports_do_not_count(app, client, scene):
    with app.app_context():
        data = forum_services.PostInput(
            title="匿名：星河账外负债",
            body_md="听说有账外担保。",
            signal_type="risk",
            severity="high",
            industry_codes=["36"],
        )
        forum_services.create_anonymous_report(db.session, data, 300_000, 30)
        db.session.commit()
    sign_in(client, "risk")
    page = client.get(f"/clients/{scene['code']}").get_data(as_text=True)
    names = [row[0] for row in colleague_rows(page)]
    assert names == ["王公司", "李公司", "赵授信"]
    assert "匿名：星河账外负债" not in page


def test_colleagues_capped_at_eight(app, client, make_user, people):
    with app.app_context():
        code = make_client("同事很多的公司", 104, industry_code="36").credit_code
    for n in range(10):
        make_user(f"writer{n}", department="行业研究中心", display_name=f"研究员{n}")
        for _ in range(n + 1):
            write_post(
                app, f"writer{n}", title=f"研究员{n}的观察", industry_codes=["36"]
            )
    sign_in(client, "corp")
    page = client.get(f"/clients/{code}").get_data(as_text=True)
    names = [row[0] for row in colleague_rows(page)]
    assert names == [f"研究员{n}" for n in range(9, 1, -1)]


def test_contact_line_names_the_manager(app, client, scene):
    with app.app_context():
        account("corp").email = "wang@bank.example"
        db.session.commit()
    sign_in(client, "credit")
    page = client.get(f"/clients/{scene['code']}").get_data(as_text=True)
    contact = section(page, "contact")
    assert "王公司 · 公司金融部" in contact
    assert 'href="mailto:wang@bank.example"' in contact
    assert "北京分行" in contact


def test_client_without_industry_or_manager(app, client, people):
    with app.app_context():
        code = make_client("信息不全的公司", 105).credit_code
    sign_in(client, "corp")
    page = client.get(f"/clients/{code}").get_data(as_text=True)
    assert "未指定" in section(page, "facts")
    assert "无法匹配行业简报" in section(page, "briefs")
    assert "该客户未设置行业" in section(page, "colleagues")
    assert "尚未指定客户经理" in section(page, "contact")
    assert "还没有与该客户关联的情报" in section(page, "timeline")


def test_every_view_writes_one_access_row(app, client, scene):
    sign_in(client, "corp2")
    client.get(f"/clients/{scene['code']}")
    client.get(f"/clients/{scene['code']}?print=1")
    with app.app_context():
        rows = db.session.query(ClientAccess).order_by(ClientAccess.id).all()
        assert len(rows) == 2
        corp2 = account("corp2")
        for row in rows:
            assert row.user_id == corp2.id
            assert row.credit_code == scene["code"]
            assert row.client_name == "星河汽车零部件有限公司"
            assert row.channel == "page"
            assert row.client_id is not None


def test_lower_case_code_redirects_without_a_row(app, client, people):
    body = "91310000MA1FL6QJ"
    code = body + "0" + creditcode.check_character(body + "0")
    with app.app_context():
        data = services.ClientInput(name="大写代码有限公司", credit_code=code.lower())
        services.upsert(db.session, data)
        db.session.commit()
    sign_in(client, "corp")
    response = client.get(f"/clients/{code.lower()}?print=1")
    assert response.status_code == 301
    assert response.headers["Location"] == f"/clients/{code}?print=1"
    dashed = client.get(f"/clients/{code[:6]}-{code[6:]}")
    assert dashed.status_code == 301
    assert dashed.headers["Location"] == f"/clients/{code}"
    with app.app_context():
        assert db.session.query(ClientAccess).count() == 0


def test_unknown_code_is_404(app, client, people):
    sign_in(client, "corp")
    assert client.get("/clients/91110000000000000X").status_code == 404
    assert client.get("/clients/not-a-code").status_code == 404
    with app.app_context():
        assert db.session.query(ClientAccess).count() == 0


def test_briefing_requires_sign_in(app, client, scene):
    response = client.get(f"/clients/{scene['code']}")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_print_stylesheet_and_button(app, client, scene):
    sign_in(client, "corp")
    page = client.get(f"/clients/{scene['code']}").get_data(as_text=True)
    head = page[: page.index("</head>")]
    assert re.search(
        r'<link rel="stylesheet" href="/static/css/print.css" media="print">', head
    )
    assert re.search(r'<a class="button" href="[^"]*print=1"[^>]*data-print>', page)
    assert "打印简报" in page
    assert "内部资料 · 打印时间" in page
    assert "Ctrl+P" not in page
    printing = client.get(f"/clients/{scene['code']}?print=1").get_data(as_text=True)
    assert "Ctrl+P" in printing


def test_print_stylesheet_rules(client):
    css = client.get("/static/css/print.css")
    assert css.status_code == 200
    text = css.get_data(as_text=True)
    css.close()
    assert re.search(r"@page\s*{[^}]*size:\s*A4", text)
    assert re.search(r"\.topbar[^{]*\.footer[^{]*{\s*display:\s*none", text)
    assert "break-inside: avoid" in text
    assert ".print-footer" in text
    script = client.get("/static/js/kb.js")
    code = script.get_data(as_text=True)
    script.close()
    assert "[data-print]" in code
    assert "window.print()" in code


def test_page_has_no_inline_script_or_style(app, client, scene):
    sign_in(client, "admin")
    page = client.get(f"/clients/{scene['code']}").get_data(as_text=True)
    assert "<script>" not in page
    assert "onclick" not in page
    assert " style=" not in page
