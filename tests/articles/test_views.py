"""Writing, reading, editing and comparing briefs through the web pages."""

import re

import pytest

from kb.articles.models import Article
from kb.extensions import db
from tests.conftest import csrf_token, login

BODY = (
    "## 行业概况\n\n新能源汽车渗透率持续提升，**800V** 高压平台加速落地。\n"
    "到期续贷安排需提前沟通。"
)


def brief_form(client, path="/briefs/new", **fields):
    data = {
        "csrf_token": csrf_token(client, path),
        "title": "新能源汽车产业链简报",
        "summary": "渗透率提升，关注电池环节的回款。",
        "tags": "新能源、ESG，ＥＳＧ",
        "industries": ["36", "38"],
        "published_on": "2024-06-30",
        "source": "研究部",
        "source_url": "https://example.com/report",
        "body_md": BODY,
    }
    data.update(fields)
    return data


def test_publish_brief_and_read_it(signed_in, app):
    response = signed_in.post("/briefs/new", data=brief_form(signed_in))
    assert response.status_code == 302
    page = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "新能源汽车产业链简报" in page
    assert "<strong>800V</strong>" in page
    assert "<br" in page
    assert "汽车制造业" in page
    with app.app_context():
        article = db.session.scalar(db.select(Article))
        assert sorted(tag.name for tag in article.tags) == ["esg", "新能源"]
        assert article.published_at.isoformat() == "2024-06-29T16:00:00"


def test_empty_title_keeps_everything_typed(signed_in, app):
    data = brief_form(signed_in, title="   ")
    response = signed_in.post("/briefs/new", data=data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "标题不能为空" in page
    assert "到期续贷安排需提前沟通" in page
    assert "渗透率提升，关注电池环节的回款。" in page
    assert 'value="https://example.com/report"' in page
    assert re.search(r'<option selected value="36">|<option value="36" selected', page)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Article.id))) == 0


def test_malformed_date_reported_next_to_field(signed_in):
    data = brief_form(signed_in, published_on="2024-13-45")
    response = signed_in.post("/briefs/new", data=data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "日期 2024-13-45 无效" in page
    assert 'value="2024-13-45"' in page


def test_unknown_industry_rejected(signed_in):
    data = brief_form(signed_in, industries=["99"])
    response = signed_in.post("/briefs/new", data=data)
    assert response.status_code == 400
    assert "未知的行业代码：99" in response.get_data(as_text=True)


def test_body_at_documented_limit_accepted(signed_in, app):
    limit = app.config["KB_BODY_MAX_CHARS"]
    assert limit >= 200_000
    body = ("银行业务续贷与供应链金融。" * (limit // 13 + 1))[:limit]
    response = signed_in.post("/briefs/new", data=brief_form(signed_in, body_md=body))
    assert response.status_code == 302
    with app.app_context():
        assert len(db.session.scalar(db.select(Article.body_md))) == limit


def test_body_over_limit_rejected_and_kept(signed_in, app):
    limit = app.config["KB_BODY_MAX_CHARS"]
    body = "续" * (limit + 1)
    response = signed_in.post("/briefs/new", data=brief_form(signed_in, body_md=body))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f"正文最长 {limit:,} 个字符" in page
    assert body in page


def test_only_author_or_admin_edits(client, make_user):
    make_user("author")
    make_user("other")
    make_user("boss", role="admin")
    login(client, "author")
    created = client.post("/briefs/new", data=brief_form(client))
    path = created.headers["Location"]
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    login(client, "other")
    assert client.get(path + "/edit").status_code == 403
    assert "/edit" not in client.get(path).get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    login(client, "boss")
    edit = path + "/edit"
    data = brief_form(client, edit, title="管理员修订后的标题")
    assert client.post(edit, data=data).status_code == 302


def test_edit_keeps_revisions_and_diff(signed_in):
    created = signed_in.post("/briefs/new", data=brief_form(signed_in))
    path = created.headers["Location"]
    edit = path + "/edit"
    new_body = BODY.replace("续贷安排", "展期与续贷安排")
    response = signed_in.post(edit, data=brief_form(signed_in, edit, body_md=new_body))
    assert response.status_code == 302

    listing = signed_in.get(path + "/revisions").get_data(as_text=True)
    assert "第 1 版" in listing
    assert "第 2 版" in listing

    diff = signed_in.get(path + "/diff?from=1&to=2").get_data(as_text=True)
    assert "展期与续贷安排" in diff
    assert 'class="ddel"' in diff
    assert 'class="dadd"' in diff
    assert signed_in.get(path + "/diff?from=1&to=9").status_code == 404


def test_unchanged_edit_adds_no_revision(signed_in, app):
    created = signed_in.post("/briefs/new", data=brief_form(signed_in))
    edit = created.headers["Location"] + "/edit"
    signed_in.post(edit, data=brief_form(signed_in, edit))
    with app.app_context():
        assert db.session.scalar(db.select(Article.revision_count)) == 1


def test_pasted_html_sanitised_when_stored(signed_in, app):
    body = (
        '<p style="color:red" onclick="x()">正文<script>alert(1)</script></p>'
        '<iframe src="https://e.x"></iframe>'
    )
    signed_in.post("/briefs/new", data=brief_form(signed_in, body_md=body))
    with app.app_context():
        html = db.session.scalar(db.select(Article.body_html))
    assert "正文" in html
    for banned in ("<script", "onclick", "style=", "<iframe"):
        assert banned not in html


def test_list_filters_by_industry_and_tag(signed_in):
    signed_in.post("/briefs/new", data=brief_form(signed_in))
    other = brief_form(
        signed_in, title="房地产开发贷款观察", industries=["70"], tags="地产"
    )
    signed_in.post("/briefs/new", data=other)
    by_industry = signed_in.get("/briefs/?industry=70").get_data(as_text=True)
    assert "房地产开发贷款观察" in by_industry
    assert "新能源汽车产业链简报" not in by_industry
    by_section = signed_in.get("/briefs/?industry=C").get_data(as_text=True)
    assert "新能源汽车产业链简报" in by_section
    by_tag = signed_in.get("/briefs/?tag=ＥＳＧ").get_data(as_text=True)
    assert "新能源汽车产业链简报" in by_tag
    assert "房地产开发贷款观察" not in by_tag


def test_missing_brief_is_404(signed_in):
    assert signed_in.get("/briefs/999").status_code == 404


def test_crlf_body_unchanged_edit_adds_no_revision(signed_in, app):
    body = "第一段\r\n第二段\r\n\r\n| a | b |\r\n| - | - |\r\n| 1 | 2 |"
    created = signed_in.post("/briefs/new", data=brief_form(signed_in, body_md=body))
    edit = created.headers["Location"] + "/edit"
    response = signed_in.post(edit, data=brief_form(signed_in, edit, body_md=body))
    assert response.status_code == 302
    page = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "内容没有变化" in page
    assert "修改已保存" not in page
    with app.app_context():
        article = db.session.scalar(db.select(Article))
        assert article.revision_count == 1
        assert "\r" not in article.body_md


def test_body_limit_counts_crlf_as_one(signed_in, app):
    limit = app.config["KB_BODY_MAX_CHARS"]
    body = ("行" * 9 + "\r\n") * (limit // 10)
    response = signed_in.post("/briefs/new", data=brief_form(signed_in, body_md=body))
    assert response.status_code == 302


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1900-01-01"])
def test_out_of_range_date_rejected_input_kept(signed_in, day):
    response = signed_in.post(
        "/briefs/new", data=brief_form(signed_in, published_on=day)
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "超出范围" in page
    assert day in page
    assert "新能源汽车产业链简报" in page


def test_full_width_date_accepted(signed_in, app):
    response = signed_in.post(
        "/briefs/new", data=brief_form(signed_in, published_on="２０２４－０６－３０")
    )
    assert response.status_code == 302


@pytest.mark.parametrize("title", ["\u200b", " \ufeff ", "标题\x07"])
def test_invisible_or_control_title_rejected(signed_in, title):
    response = signed_in.post("/briefs/new", data=brief_form(signed_in, title=title))
    assert response.status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/briefs/99999999999999999999999",
        "/briefs/9223372036854775808/revisions",
        "/briefs/1/diff?from=99999999999999999999999&to=1",
        "/briefs/1/diff?to=0",
    ],
)
def test_huge_numbers_in_urls_give_404(signed_in, path):
    signed_in.post("/briefs/new", data=brief_form(signed_in))
    assert signed_in.get(path).status_code == 404


def test_huge_list_page_is_not_an_error(signed_in):
    response = signed_in.get("/briefs/?page=9223372036854775807")
    assert response.status_code == 200
