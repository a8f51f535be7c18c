"""Merging and deleting clients from the briefing page (admins only)."""

import pytest
from sqlalchemy import select

from kb.articles.models import Article
from kb.articles.services import ArticleInput, create_article
from kb.auth.models import User
from kb.clients import services
from kb.clients.models import Client, ClientAccess, client_article, client_post
from kb.extensions import db
from kb.forum.models import Post
from tests.clients.factories import make_client
from tests.conftest import csrf_token
from tests.forum.conftest import sign_in, write_post


@pytest.fixture
def pair(app, people):
    """A duplicate client (source) and the record to keep (target), with links.

    Both are linked to one shared post; the source also has its own post and
    brief, and one view in the access log.
    """
    shared = write_post(app, "corp", title="两家都关联的情报")
    own = write_post(app, "corp", title="只关联重复记录的情报")
    with app.app_context():
        source = make_client("星河汽车零部件公司", 1, industry_code="36")
        target = make_client("星河汽车零部件有限公司", 2, industry_code="36")
        author = db.session.get(User, people["corp"])
        article = create_article(
            db.session,
            ArticleInput(title="星河授信方案", body_md="要点。"),
            author,
            9999,
        )
        services.set_post_clients(
            db.session, db.session.get(Post, shared), [source, target]
        )
        services.set_post_clients(db.session, db.session.get(Post, own), [source])
        services.set_article_clients(db.session, article, [source])
        services.record_access(db.session, author, source, "page")
        db.session.commit()
        return {
            "source": source.credit_code,
            "target": target.credit_code,
            "target_id": target.id,
            "shared": shared,
            "own": own,
            "article": article.id,
        }


def links(app) -> tuple[set, set]:
    with app.app_context():
        posts = {tuple(row) for row in db.session.execute(select(client_post))}
        articles = {tuple(row) for row in db.session.execute(select(client_article))}
        return posts, articles


def merge_form(client, source: str, **fields) -> dict:
    data = {
        "csrf_token": csrf_token(client, f"/clients/{source}"),
        "target": "",
        "confirm": "y",
    }
    data.update(fields)
    return data


def test_merge_moves_links_and_keeps_the_log(app, client, pair):
    sign_in(client, "admin")
    data = merge_form(client, pair["source"], target=pair["target"].lower())
    response = client.post(f"/admin/clients/{pair['source']}/merge", data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/clients/{pair['target']}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已将 星河汽车零部件公司" in page
    assert "转入 2 条关联" in page
    posts, articles = links(app)
    target_id = pair["target_id"]
    assert posts == {(target_id, pair["shared"]), (target_id, pair["own"])}
    assert articles == {(target_id, pair["article"])}
    with app.app_context():
        assert (
            db.session.scalar(
                select(Client).where(Client.credit_code == pair["source"])
            )
            is None
        )
        first = db.session.scalars(
            select(ClientAccess).order_by(ClientAccess.id)
        ).first()
        assert first.client_id == target_id
        assert first.credit_code == pair["source"]
        assert first.client_name == "星河汽车零部件公司"
    assert client.get(f"/clients/{pair['source']}").status_code == 404


def test_merge_log_row_links_to_the_target(app, client, pair):
    sign_in(client, "admin")
    data = merge_form(client, pair["source"], target=pair["target"])
    client.post(f"/admin/clients/{pair['source']}/merge", data=data)
    page = client.get(f"/admin/clients/access?client={pair['source']}").get_data(
        as_text=True
    )
    assert f'href="/clients/{pair["target"]}"' in page
    assert f"已并入 {pair['target']}" in page


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"target": ""}, "请填写要并入的客户的统一社会信用代码"),
        ({"target": "91110000000000999X"}, "客户 91110000000000999X 不存在"),
        ({"target": "SOURCE"}, "不能把客户合并到它自己"),
        ({"target": "TARGET", "confirm": ""}, "请勾选确认后再合并"),
        ({"target": "TARGET", "csrf_token": "expired"}, "表单已过期或缺少安全令牌"),
    ],
)
def test_merge_rejects_bad_input(app, client, pair, fields, message):
    placeholders = {"SOURCE": pair["source"], "TARGET": pair["target"]}
    fields = {key: placeholders.get(value, value) for key, value in fields.items()}
    before = links(app)
    sign_in(client, "admin")
    data = merge_form(client, pair["source"], **fields)
    response = client.post(f"/admin/clients/{pair['source']}/merge", data=data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert f'value="{fields["target"]}"' in page or not fields["target"]
    assert links(app) == before
    with app.app_context():
        assert db.session.query(Client).count() == 2


def test_delete_removes_links_cleanly(app, client, pair):
    sign_in(client, "admin")
    data = {
        "csrf_token": csrf_token(client, f"/clients/{pair['source']}"),
        "confirm": "y",
    }
    response = client.post(f"/admin/clients/{pair['source']}/delete", data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == "/clients/"
    page = client.get("/clients/").get_data(as_text=True)
    assert "已删除客户 星河汽车零部件公司" in page
    posts, articles = links(app)
    assert posts == {(pair["target_id"], pair["shared"])}
    assert articles == set()
    with app.app_context():
        assert db.session.get(Post, pair["own"]) is not None
        assert db.session.get(Article, pair["article"]) is not None
        # The fixture's view and the admin's view of the page before deleting.
        rows = db.session.scalars(select(ClientAccess)).all()
        assert len(rows) == 2
        assert {row.client_id for row in rows} == {None}
        assert {row.client_name for row in rows} == {"星河汽车零部件公司"}
    log = client.get("/admin/clients/access").get_data(as_text=True)
    assert "已删除" in log


def test_delete_needs_confirmation(app, client, pair):
    sign_in(client, "admin")
    data = {"csrf_token": csrf_token(client, f"/clients/{pair['source']}")}
    response = client.post(f"/admin/clients/{pair['source']}/delete", data=data)
    assert response.status_code == 400
    assert "请勾选确认后再删除" in response.get_data(as_text=True)
    assert client.get(f"/clients/{pair['source']}").status_code == 200


def test_unknown_client_is_404(app, client, pair):
    sign_in(client, "admin")
    token = csrf_token(client, f"/clients/{pair['source']}")
    for action in ("merge", "delete"):
        response = client.post(
            f"/admin/clients/91110000000000999X/{action}",
            data={"csrf_token": token, "confirm": "y", "target": pair["target"]},
        )
        assert response.status_code == 404


def test_staff_cannot_merge_or_delete(app, client, pair):
    before = links(app)
    sign_in(client, "corp")
    page = client.get(f"/clients/{pair['source']}").get_data(as_text=True)
    assert "/merge" not in page
    assert "/delete" not in page
    token = csrf_token(client, "/forum/new")
    data = {"csrf_token": token, "confirm": "y", "target": pair["target"]}
    for action in ("merge", "delete"):
        response = client.post(f"/admin/clients/{pair['source']}/{action}", data=data)
        assert response.status_code == 403
    assert links(app) == before


def test_admin_sees_the_forms(app, client, pair):
    sign_in(client, "admin")
    page = client.get(f"/clients/{pair['source']}").get_data(as_text=True)
    assert f'action="/admin/clients/{pair["source"]}/merge"' in page
    assert f'action="/admin/clients/{pair["source"]}/delete"' in page


def test_import_of_merged_code(app):
    from kb.clients import importer
    from kb.clients.models import Client
    from tests.clients.factories import make_client

    with app.app_context():
        source = make_client("旧名称有限公司", 81)
        target = make_client("新名称有限公司", 82)
        source_code, target_code = source.credit_code, target.credit_code
        services.merge(db.session, source, target)
        db.session.commit()
        sheet = importer.Sheet(
            "crm.csv",
            ["客户名称", "统一社会信用代码"],
            [(2, ["旧名称有限公司", source_code])],
        )
        report = importer.import_clients(db.session, sheet)
        db.session.commit()
        assert [r.outcome for r in report.rows] == ["rejected"]
        message = report.rows[0].problems[0].message
        assert "已合并到 新名称有限公司" in message
        assert target_code in message
        assert db.session.query(Client).count() == 1
