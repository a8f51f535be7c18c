"""Linking posts and briefs to clients through their forms."""

from kb.articles.models import Article
from kb.clients import services
from kb.extensions import db
from kb.forum.models import Post
from tests.clients.factories import make_client
from tests.conftest import csrf_token
from tests.forum.conftest import sign_in


def _post_form(client, path, **fields):
    data = {
        "csrf_token": csrf_token(client, path),
        "title": "客户扩产",
        "signal_type": "lead",
        "severity": "",
        "visibility": "all",
        "body_md": "计划新建产线。",
    }
    data.update(fields)
    return client.post(path, data=data)


def test_post_form_links_clients_and_edits_keep_them(app, client, people):
    with app.app_context():
        first = make_client("东海精工", 51).credit_code
        second = make_client("南山电池", 52).credit_code
    sign_in(client, "corp")
    response = _post_form(client, "/forum/new", clients=f"{first.lower()}，{second}")
    assert response.status_code == 302
    with app.app_context():
        post_id = db.session.query(Post).one().id
        linked = services.clients_of_post(db.session, post_id)
        assert sorted(c.credit_code for c in linked) == sorted([first, second])
    page = client.get(f"/forum/{post_id}").get_data(as_text=True)
    assert f'href="/clients/{first}"' in page
    assert "南山电池" in page
    form = client.get(f"/forum/{post_id}/edit").get_data(as_text=True)
    assert first in form
    assert second in form
    response = _post_form(
        client,
        f"/forum/{post_id}/edit",
        title="客户扩产（更新）",
        clients=f"{first} {second}",
    )
    assert response.status_code == 302
    with app.app_context():
        assert len(services.clients_of_post(db.session, post_id)) == 2
    _post_form(client, f"/forum/{post_id}/edit", clients=second)
    with app.app_context():
        linked = services.clients_of_post(db.session, post_id)
        assert [c.credit_code for c in linked] == [second]


def test_unknown_client_code_is_named_and_input_kept(app, client, people):
    with app.app_context():
        known = make_client("东海精工", 53).credit_code
    sign_in(client, "corp")
    response = _post_form(
        client, "/forum/new", clients=f"{known} 91310000MA1K3X8Q99", body_md="保留正文"
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "未找到这些客户：91310000MA1K3X8Q99" in page
    assert "保留正文" in page
    with app.app_context():
        assert db.session.query(Post).count() == 0


def test_brief_form_links_clients(app, client, people):
    with app.app_context():
        code = make_client("西岭矿业", 54, industry_code="09").credit_code
    sign_in(client, "corp")
    response = client.post(
        "/briefs/new",
        data={
            "csrf_token": csrf_token(client, "/briefs/new"),
            "title": "有色金属价格观察",
            "body_md": "铜价本周上涨。",
            "clients": code,
        },
    )
    assert response.status_code == 302
    with app.app_context():
        article_id = db.session.query(Article).one().id
        linked = services.clients_of_article(db.session, article_id)
        assert [c.credit_code for c in linked] == [code]
    page = client.get(f"/briefs/{article_id}").get_data(as_text=True)
    assert "西岭矿业" in page
    briefing = client.get(f"/clients/{code}").get_data(as_text=True)
    assert "有色金属价格观察" in briefing


def test_full_client_names_work_without_the_picker(app, client, people):
    with app.app_context():
        code = make_client("北辰新材料股份有限公司", 55).credit_code
    sign_in(client, "corp")
    response = _post_form(client, "/forum/new", clients="北辰新材料股份有限公司")
    assert response.status_code == 302
    with app.app_context():
        post_id = db.session.query(Post).one().id
        linked = services.clients_of_post(db.session, post_id)
        assert [c.credit_code for c in linked] == [code]
    response = _post_form(client, "/forum/new", clients="北辰新材料")
    assert response.status_code == 400
    assert "请填写统一社会信用代码或客户全称" in response.get_data(as_text=True)
