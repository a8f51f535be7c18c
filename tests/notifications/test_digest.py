"""The daily digest, sent through a real SMTP server on 127.0.0.1."""

import asyncio
import socket
from datetime import UTC, datetime
from email import message_from_bytes, policy
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from flask import session as web_session
from flask_babel import gettext

from kb.extensions import db
from kb.forum import services as forum
from kb.forum.models import Post
from kb.notifications.digest import build_message, collect
from kb.notifications.models import Notification
from tests.notifications.conftest import follow, get_user, handle_risk, publish, reply

BASE_URL = "https://kb.bank.example"
LONG_REPLY = "续贷材料已经齐全，" * 30


class RecordingHandler:
    """Store every accepted message; reject addresses in ``refused`` with code 550."""

    def __init__(self):
        self.messages = []
        self.refused = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refused:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(app):
    """A real SMTP server on 127.0.0.1 that the app's digest settings point at."""
    handler = RecordingHandler()
    loop = asyncio.new_event_loop()
    controller = Controller(
        handler,
        loop=loop,
        hostname="127.0.0.1",
        port=free_port(),
        server_hostname="smtp.test",
    )
    controller.start()
    app.config.update(
        KB_SMTP_HOST="127.0.0.1",
        KB_SMTP_PORT=controller.port,
        KB_SMTP_TIMEOUT=10,
        KB_MAIL_FROM="kb@bank.example",
        KB_BASE_URL=BASE_URL + "/",
    )
    yield handler
    controller.stop()
    loop.close()


def set_email(username: str, email: str) -> None:
    get_user(username).email = email
    db.session.commit()


def parse(raw: bytes):
    return message_from_bytes(raw, policy=policy.default)


def parts(message) -> tuple[str, str]:
    """Return the decoded plain-text and HTML parts of a digest."""
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


def today_in_shanghai() -> str:
    return datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()


@pytest.fixture
def newsroom(app, make_user):
    """Readers with daily follows, and posts some of them may not see.

    - 李读者 (公司银行部) follows market signals daily and gets both market posts,
      the department one included, and a reply to the first.
    - 赵审批 (授信审批部) follows market signals daily but may not read the
      公司银行部 post, and follows the risk type daily.
    - 孙即时 follows market signals immediately: inbox only, no mail.
    - 周无邮箱 follows daily but has no address.
    """
    make_user("author", department="公司银行部", display_name="王作者")
    make_user("reader", department="公司银行部", display_name="李读者")
    make_user("other", department="授信审批部", display_name="赵审批")
    make_user("instant", department="授信审批部", display_name="孙即时")
    make_user("nomail", department="授信审批部", display_name="周无邮箱")
    make_user("whistle", department="公司银行部", display_name="举报人甲乙丙")
    make_user("riskman", department="风险管理部", display_name="钱风控")
    with app.app_context():
        handle_risk("风险管理部")
        set_email("reader", "reader@bank.example")
        set_email("other", "other@bank.example")
        set_email("instant", "instant@bank.example")
        set_email("riskman", "risk@bank.example")
        follow("reader", "type", "market", "daily")
        follow("other", "type", "market", "daily")
        follow("instant", "type", "market", "immediate")
        follow("nomail", "type", "market", "daily")
        follow("riskman", "type", "risk", "daily")
        follow("riskman", "user", str(get_user("whistle").id), "daily")
        public = publish(
            "author", title="汽车<零部件>回款 & 账期", signal_type="market"
        )
        follow("reader", "post", str(public), "daily")
        inside = publish(
            "author",
            title="公司银行部内部线索",
            signal_type="market",
            visibility="department",
        )
        reply_id = reply(public, "instant", LONG_REPLY)
        data = forum.PostInput(
            title="某客户疑似挪用贷款", body_md="资金流向房地产。", severity="high"
        )
        report, _code = forum.create_anonymous_report(db.session, data, 300_000, 30)
        db.session.commit()
        # 钱风控 gets risk signals immediately; make this one a digest entry.
        db.session.execute(
            db.update(Notification)
            .where(Notification.post_id == report.id)
            .values(delivery="daily")
        )
        db.session.commit()
        return {
            "public": public,
            "inside": inside,
            "reply": reply_id,
            "report": report.id,
        }


def sent_to(handler) -> dict:
    return {recipients[0]: parse(raw) for _sender, recipients, raw in handler.messages}


def pending(username: str) -> int:
    return db.session.scalar(
        db.select(db.func.count(Notification.id)).where(
            Notification.user_id == get_user(username).id,
            Notification.delivery == "daily",
            Notification.digested_at.is_(None),
        )
    )


def test_digest_mails_each_person_once(app, runner, smtp_server, newsroom):
    result = runner.invoke(args=["digest", "send"])
    assert result.exit_code == 0, result.output
    assert "Sent 3 digests with 5 notifications; 0 failed." in result.output
    messages = sent_to(smtp_server)
    assert sorted(messages) == [
        "other@bank.example",
        "reader@bank.example",
        "risk@bank.example",
    ]
    assert all(sender == "kb@bank.example" for sender, *_ in smtp_server.messages)

    reader = messages["reader@bank.example"]
    assert reader["Subject"] == (
        f"行业知识库每日摘要：3 条新动态（{today_in_shanghai()}）"
    )
    assert reader["From"] == "kb@bank.example"
    assert reader["To"] == "reader@bank.example"
    text, html = parts(reader)
    public, inside, reply_id = (newsroom[key] for key in ("public", "inside", "reply"))
    assert f"{BASE_URL}/forum/{public}\n" in text
    assert f"{BASE_URL}/forum/{inside}\n" in text
    assert f"{BASE_URL}/forum/{public}#reply-{reply_id}" in text
    assert "汽车<零部件>回款 & 账期" in text
    assert "汽车&lt;零部件&gt;回款 &amp; 账期" in html
    assert "汽车<零部件>" not in html
    assert f'href="{BASE_URL}/forum/{public}#reply-{reply_id}"' in html
    assert "市场动态" in text
    assert "新帖子" in text
    assert "新回复" in text
    assert "李读者，您好" in text
    excerpt = LONG_REPLY[:120] + "…"
    assert excerpt in text
    assert excerpt in html
    assert LONG_REPLY[:121] not in text

    other_text, other_html = parts(messages["other@bank.example"])
    assert "公司银行部内部线索" not in other_text + other_html
    assert f"/forum/{inside}" not in other_text + other_html
    assert "汽车" in other_text
    assert messages["other@bank.example"]["Subject"].startswith(
        "行业知识库每日摘要：1 条新动态"
    )


def test_digest_never_names_anonymous_reporter(app, runner, smtp_server, newsroom):
    result = runner.invoke(args=["digest", "send"])
    assert result.exit_code == 0, result.output
    message = sent_to(smtp_server)["risk@bank.example"]
    text, html = parts(message)
    assert "某客户疑似挪用贷款" in text
    assert "匿名报告" in text
    assert "匿名报告" in html
    assert "高" in text
    for leak in ("举报人甲乙丙", "whistle"):
        assert leak not in text
        assert leak not in html
        assert leak not in str(message)


def test_digest_second_run_sends_nothing(app, runner, smtp_server, newsroom):
    first = runner.invoke(args=["digest", "send"])
    assert first.exit_code == 0, first.output
    assert len(smtp_server.messages) == 3
    with app.app_context():
        assert pending("reader") == 0
    second = runner.invoke(args=["digest", "send"])
    assert second.exit_code == 0, second.output
    assert "Sent 0 digests with 0 notifications; 0 failed." in second.output
    assert len(smtp_server.messages) == 3


def test_digest_dry_run_sends_nothing(app, runner, smtp_server, newsroom):
    result = runner.invoke(args=["digest", "send", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "reader (user" in result.output
    assert "): 3 notifications" in result.output
    assert "would send 3 digests with 5 notifications" in result.output
    assert smtp_server.messages == []
    with app.app_context():
        assert pending("reader") == 3


def test_digest_refused_address_stays_pending(app, runner, smtp_server, newsroom):
    smtp_server.refused.add("other@bank.example")
    result = runner.invoke(args=["digest", "send"])
    assert result.exit_code == 1
    assert "Sent 2 digests with 4 notifications; 1 failed." in result.output
    assert sorted(sent_to(smtp_server)) == ["reader@bank.example", "risk@bank.example"]
    with app.app_context():
        assert pending("other") == 1
        assert pending("reader") == 0

    smtp_server.refused.clear()
    again = runner.invoke(args=["digest", "send"])
    assert again.exit_code == 0, again.output
    assert "Sent 1 digests with 1 notifications; 0 failed." in again.output
    assert [recipients for _sender, recipients, _raw in smtp_server.messages][-1] == [
        "other@bank.example"
    ]


def test_digest_skips_post_hidden_since(app, runner, smtp_server, newsroom, make_user):
    make_user("admin", role="admin", department="信息科技部")
    with app.app_context():
        post = db.session.get(Post, newsroom["inside"])
        forum.hide_post(db.session, post, get_user("admin"), "内容有误")
        db.session.commit()
    result = runner.invoke(args=["digest", "send"])
    assert result.exit_code == 0, result.output
    text, html = parts(sent_to(smtp_server)["reader@bank.example"])
    assert "公司银行部内部线索" not in text + html
    with app.app_context():
        # Left pending: it is mailed if the post is shown again.
        assert pending("reader") == 1


def test_digest_without_smtp_host_fails_clearly(app, runner, newsroom):
    app.config["KB_SMTP_HOST"] = ""
    result = runner.invoke(args=["digest", "send"])
    assert result.exit_code != 0
    assert "KB_SMTP_HOST" in result.output
    with app.app_context():
        assert pending("reader") == 3


def test_digest_unreachable_server_fails_clearly(app, runner, newsroom):
    app.config.update(KB_SMTP_HOST="127.0.0.1", KB_SMTP_PORT=free_port())
    result = runner.invoke(args=["digest", "send"])
    assert result.exit_code == 1
    assert "Could not connect to the SMTP server 127.0.0.1:" in result.output
    with app.app_context():
        assert pending("reader") == 3


def test_digest_ignores_request_locale(app, newsroom):
    app.config["KB_BASE_URL"] = BASE_URL
    with app.test_request_context("/"):
        web_session["locale"] = "en"
        # The English catalog is active for this request.
        assert gettext("内部资料，仅供本行员工使用。时间均为北京时间。").startswith(
            "Internal"
        )
        digest = collect(db.session)[0]
        message = build_message(db.session, digest, datetime(2026, 12, 4).date())
    assert message["Subject"].startswith("行业知识库每日摘要：")
    assert message["Subject"].endswith("（2026-12-04）")
    text, html = parts(message)
    assert "内部资料，仅供本行员工使用。" in text
    assert "内部资料，仅供本行员工使用。" in html
