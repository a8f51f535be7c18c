"""The kb command line: users, tokens, demo data, import and index upkeep."""

from pathlib import Path

from kb.articles.models import Article
from kb.auth.models import User
from kb.extensions import db
from kb.search.service import get_indexer


def test_users_create_reads_password_from_stdin(runner, app):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "liwen",
            "--role",
            "expert",
            "--department",
            "风险管理部",
            "--password-stdin",
        ],
        input="a-long-password\n",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == "liwen"))
        assert user.role == "expert"
        assert user.department.name == "风险管理部"


def test_users_create_reports_bad_role(runner):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "x1",
            "--role",
            "root",
            "--department",
            "d",
            "--password-stdin",
        ],
        input="a-long-password\n",
    )
    assert result.exit_code != 0
    assert "root" in result.output


def test_tokens_create_reports_long_label(runner, make_user):
    make_user("liwen")
    result = runner.invoke(args=["tokens", "create", "liwen", "--label", "t" * 101])
    assert result.exit_code == 1
    assert "令牌说明最长 100 个字符" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_users_create_reports_short_password(runner):
    result = runner.invoke(
        args=["users", "create", "liwen", "--department", "d", "--password-stdin"],
        input="short\n",
    )
    assert result.exit_code == 1
    assert "密码至少需要" in result.output


def test_tokens_create_prints_token_last(runner, make_user, client):
    make_user("manager")
    result = runner.invoke(args=["tokens", "create", "manager"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    response = client.get(
        "/api/v1/search?q=LPR", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200


def test_tokens_create_unknown_user(runner):
    result = runner.invoke(args=["tokens", "create", "nobody"])
    assert result.exit_code == 1
    assert "nobody" in result.output


def test_demo_load_twice_is_idempotent(runner, app):
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    assert "Password" in first.output
    second = runner.invoke(args=["demo", "load"])
    assert "0 accounts, 0 briefs, 0 forum posts, 0 clients, 0 exp" in second.output
    with app.app_context():
        count = db.session.scalar(db.select(db.func.count(Article.id)))
    assert count >= 12


def test_demo_attachment_is_searchable(runner, app):
    """Find the demo course's document by a phrase that is only inside the file."""
    runner.invoke(args=["demo", "load"])
    with app.app_context():
        found = get_indexer().engine.search("反向保理", types=("attachment",))
    assert [hit.title for hit in found.hits] == ["供应链金融产品手册.docx"]


def write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")


GOOD = """---
title: "光伏组件价格周报"
publishedAt: "2025-06-04T00:00:00+08:00"
summary:
  - "组件价格企稳。"
tags: [光伏, 储能]
industries: ["38", "电力、热力生产和供应业"]
source: 研究部
sourceUrl: https://example.com/pv
---
## 价格

组件均价环比持平，**HVDC** 项目招标增加。
"""


def make_tree(root: Path) -> None:
    write(root / "a" / "good.md", GOOD)
    write(root / "b" / "with-id.md", GOOD.replace("---\ntitle", "---\nid: pv-2\ntitle"))
    write(root / "bad-yaml.md", "---\ntitle: [unclosed\n---\nbody\n")
    write(root / "no-title.md", "---\nsummary: x\n---\nbody\n")
    write(root / "gbk.md", "---\ntitle: 标题\n---\n正文".encode("gbk"))
    write(root / "bad-date.md", "---\ntitle: t\npublishedAt: yesterday\n---\nbody\n")
    write(root / "notes.txt", "ignored")
    write(root / "README.md", "# 说明\n\n本目录为导出的研究报告。\n")


def test_import_reports_each_file_and_fails_on_rejects(runner, app, tmp_path):
    root = tmp_path / "reports"
    make_tree(root)
    result = runner.invoke(args=["import", "markdown", str(root)])
    assert result.exit_code == 1
    output = result.output
    assert "created   a/good.md" in output
    assert "created   b/with-id.md" in output
    assert "rejected  bad-yaml.md: malformed YAML" in output
    assert "rejected  no-title.md: title is missing" in output
    assert "rejected  gbk.md: not valid UTF-8" in output
    assert "rejected  bad-date.md: publishedAt/date 'yesterday'" in output
    assert "skipped   README.md: no YAML front matter" in output
    assert (
        "7 files: 2 created, 0 updated, 0 unchanged, 1 skipped, 4 rejected." in output
    )
    with app.app_context():
        articles = db.session.scalars(db.select(Article)).all()
        assert sorted(a.import_key for a in articles) == ["a/good.md", "pv-2"]
        assert {i.code for i in articles[0].industries} == {"38", "44"}


def test_import_rejects_overlong_category_and_id(runner, app, tmp_path):
    root = tmp_path / "reports"
    write(
        root / "long-category.md",
        GOOD.replace("---\ntitle", "---\ncategory: " + "类" * 51 + "\ntitle"),
    )
    write(
        root / "long-id.md",
        GOOD.replace("---\ntitle", "---\nid: " + "k" * 301 + "\ntitle"),
    )
    write(root / "z-good.md", GOOD)
    result = runner.invoke(args=["import", "markdown", str(root)])
    assert result.exit_code == 1
    output = result.output
    assert "rejected  long-category.md: category: 分类最长 50 个字符。" in output
    assert "rejected  long-id.md: id is 301 characters long" in output
    assert "created   z-good.md" in output
    with app.app_context():
        keys = db.session.scalars(db.select(Article.import_key)).all()
        assert keys == ["z-good.md"]


def test_import_again_updates_not_duplicates(runner, app, tmp_path):
    root = tmp_path / "reports"
    write(root / "good.md", GOOD)
    assert runner.invoke(args=["import", "markdown", str(root)]).exit_code == 0
    again = runner.invoke(args=["import", "markdown", str(root)])
    assert "unchanged good.md" in again.output
    write(root / "good.md", GOOD.replace("企稳", "回落"))
    third = runner.invoke(args=["import", "markdown", str(root)])
    assert third.exit_code == 0
    assert "updated   good.md" in third.output
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Article.id))) == 1
        assert db.session.scalar(db.select(Article.revision_count)) == 2


def test_search_check_sync_and_reindex(runner, app, tmp_path):
    root = tmp_path / "reports"
    write(root / "good.md", GOOD)
    runner.invoke(args=["import", "markdown", str(root)])
    assert runner.invoke(args=["search", "check"]).exit_code == 0

    indexer = app.extensions["kb_indexer"]
    indexer.engine.clear()
    broken = runner.invoke(args=["search", "check"])
    assert broken.exit_code == 1
    assert "missing  article:1" in broken.output

    assert runner.invoke(args=["search", "reindex"]).exit_code == 0
    assert runner.invoke(args=["search", "check"]).exit_code == 0


def test_outbox_backlog_applied_by_sync(runner, app):
    from kb.articles.services import ArticleInput, create_article

    indexer = app.extensions["kb_indexer"]
    with app.app_context(), indexer.deferred():
        # The commit lands but the process stops before the index update.
        data = ArticleInput(title="续贷政策解读", body_md="到期续贷安排。")
        create_article(db.session, data, None, 1000)
        db.session.commit()
    check = runner.invoke(args=["search", "check"])
    assert check.exit_code == 1
    assert "missing  article:1" in check.output
    synced = runner.invoke(args=["search", "sync"])
    assert "Applied 1 pending changes." in synced.output
    assert runner.invoke(args=["search", "check"]).exit_code == 0


def test_import_reports_bad_yaml_dates_and_goes_on(runner, app, tmp_path):
    root = tmp_path / "reports"
    write(
        root / "a-month.md",
        "---\ntitle: 月份错误\npublishedAt: 2024-13-45\n---\n正文\n",
    )
    write(
        root / "b-year.md", "---\ntitle: 年份过早\npublishedAt: 0001-01-01\n---\n正文\n"
    )
    write(root / "c-good.md", GOOD)
    result = runner.invoke(args=["import", "markdown", str(root)])
    assert result.exit_code == 1
    assert "rejected  a-month.md: invalid value in YAML front matter" in result.output
    assert (
        "rejected  b-year.md: publishedAt: 发布日期 0001-01-01 超出范围"
        in result.output
    )
    assert "created   c-good.md" in result.output
    assert "3 files: 1 created" in result.output


def test_reindex_in_place_removes_extra_documents(runner, app, tmp_path):
    from datetime import datetime

    from kb.search.documents import SearchDocument

    root = tmp_path / "reports"
    write(root / "good.md", GOOD)
    runner.invoke(args=["import", "markdown", str(root)])
    engine = app.extensions["kb_indexer"].engine
    stray = SearchDocument(
        "article:999",
        "article",
        999,
        "孤立",
        "",
        "无记录",
        "/briefs/999",
        datetime(2024, 1, 1),
        "v",
    )
    engine.write([stray], [])
    assert runner.invoke(args=["search", "check"]).exit_code == 1
    result = runner.invoke(args=["search", "reindex"])
    assert "Indexed 1 documents." in result.output
    assert set(engine.versions()) == {"article:1"}
    assert runner.invoke(args=["search", "check"]).exit_code == 0
    cleared = runner.invoke(args=["search", "reindex", "--clear"])
    assert cleared.exit_code == 0
    assert set(engine.versions()) == {"article:1"}
