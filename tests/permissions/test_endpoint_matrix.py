"""Every endpoint of the app, requested by every kind of reader, with its status.

``TABLE`` lists each endpoint of ``app.url_map`` with the URL it is requested
at, the method, the form fields and the status each reader must get. The
statuses are written out by hand, not computed with the product's access
functions, so a mistake in those functions fails here. A new endpoint fails
``test_table_covers_url_map`` until it gets a row.

POST rows carry a valid CSRF token and the smallest body that succeeds, so an
allowed reader gets the success status (mostly a redirect) and a refused one
gets 403, 404 or the redirect to the sign-in page. A few rows send a body
that fails validation instead. A comment marks each, and their 400 shows
that the request got past the permission check. The forum's own table in
``test_forum_matrix.py`` checks in depth who sees which post on every path.
This one checks every endpoint once or twice.
"""

import io
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from kb.articles import services as articles
from kb.auth.models import Department, User
from kb.auth.services import create_token, create_user
from kb.experts import services as experts
from kb.extensions import db
from kb.forum import services as forum
from kb.notifications import services as notifications
from kb.notifications.models import Notification
from kb.questions import services as questions
from kb.timeutil import to_local, utcnow
from kb.training import services as training
from tests.clients.factories import make_client
from tests.conftest import PASSWORD, csrf_token, login, module_app
from tests.training.documents import make_pdf

# Readers, in the column order of TABLE. "disabled" signed in and was then
# deactivated, so their session cookie and their API token must stop working.
READERS = (
    "anonymous",
    "corp",
    "corp2",
    "credit",
    "risk",
    "expert",
    "expert2",
    "admin",
    "disabled",
)
ACCOUNTS = {
    # username: (role, department, display name)
    "corp": ("staff", "公司金融部", "王公司"),
    "corp2": ("staff", "公司金融部", "李公司"),
    "credit": ("staff", "授信审批部", "赵授信"),
    "risk": ("staff", "风险管理部", "钱风险"),
    "expert": ("expert", "行业研究中心", "周专家"),
    "expert2": ("expert", "行业研究中心", "吴专家"),
    "admin": ("admin", "合规部", "孙管理"),
    "disabled": ("staff", "公司金融部", "郑停用"),
}
RISK_DEPARTMENT = "风险管理部"
INDUSTRY = "36"

# A redirect to the sign-in page, as Flask-Login sends for a page that needs
# a signed-in user. Any other 302 must not go there.
L = "login"

POST_FIELDS = {
    "title": "钢材价格本周上涨",
    "body_md": "螺纹钢现货价格上涨 5.2%。",
    "signal_type": "market",
    "visibility": "all",
}
BRIEF_FIELDS = {
    "title": "汽车制造业季度简报",
    "body_md": "新能源汽车渗透率继续上升。",
    "industries": INDUSTRY,
    "published_on": "2026-01-15",
}
REPLY_BODY = "收到，谢谢。"
ANSWER_BODY = "建议先看上游钢材库存。"
LESSON_FIELDS = {"title": "第一课 概念", "body_md": "课时 1 的正文。"}
COURSE_FIELDS = {"title": "供应链金融入门", "description_md": "入门课程。"}


@dataclass(frozen=True)
class Row:
    """One request of the table and the status each reader of READERS gets.

    ``path`` and the values of ``data`` are format strings over the objects of
    ``World.ids``. A name in ``spare`` is an object that the allowed readers
    each get their own copy of, because the request deletes or changes it for
    good. Every other reader gets the copy named "others", which nobody may
    change, so a refused reader always asks for an object that exists.
    """

    endpoint: str
    method: str
    path: str
    expected: tuple
    data: dict = field(default_factory=dict)
    spare: str = ""
    # Send a PDF file as "file" along with ``data``.
    upload: bool = False
    # Send the fields of a valid lecture with this title instead of ``data``.
    lecture: str = ""


# fmt: off
TABLE = [
    # Columns: anonymous, corp, corp2, credit, risk, expert, expert2, admin,
    # disabled (READERS).
    Row("main.index", "GET", "/",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("main.health", "GET", "/healthz",
        (200,  200,  200,  200,  200,  200,  200,  200, 200)),
    Row("auth.login", "GET", "/login",
        (200,  302,  302,  302,  302,  302,  302,  302, 200)),
    Row("auth.login", "POST", "/login",
        (400,  302,  302,  302,  302,  302,  302,  302, 400),
        {"username": "nobody", "password": "wrong-password"}),
    Row("auth.set_language", "POST", "/language",
        (302,  302,  302,  302,  302,  302,  302,  302, 302),
        {"locale": "zh_CN", "next": "/"}),

    # -- accounts and clients: admins only ----------------------------------
    Row("users.index", "GET", "/admin/users/",
        (L,    403,  403,  403,  403,  403,  403,  200, L)),
    # An empty form: 400 for admins.
    Row("users.index", "POST", "/admin/users/",
        (L,    403,  403,  403,  403,  403,  403,  400, L)),
    Row("clients_admin.import_file", "GET", "/admin/clients/import",
        (L,    403,  403,  403,  403,  403,  403,  200, L)),
    # No file: 400 for admins.
    Row("clients_admin.import_file", "POST", "/admin/clients/import",
        (L,    403,  403,  403,  403,  403,  403,  400, L)),
    Row("clients_admin.access_log", "GET", "/admin/clients/access",
        (L,    403,  403,  403,  403,  403,  403,  200, L)),
    Row("clients_admin.access_csv", "GET", "/admin/clients/access.csv",
        (L,    403,  403,  403,  403,  403,  403,  200, L)),
    Row("clients_admin.merge", "POST", "/admin/clients/{spare}/merge",
        (L,    403,  403,  403,  403,  403,  403,  302, L),
        {"target": "{client}", "confirm": "y"}, spare="spare_merge"),
    Row("clients_admin.delete", "POST", "/admin/clients/{spare}/delete",
        (L,    403,  403,  403,  403,  403,  403,  302, L),
        {"confirm": "y"}, spare="spare_delete"),
    Row("clients.index", "GET", "/clients/",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("clients.show", "GET", "/clients/{client}",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),

    # -- JSON API: a session or a bearer token, 401 otherwise --------------
    Row("api.search", "GET", "/api/v1/search?q=钢材",
        (401,  200,  200,  200,  200,  200,  200,  200, 401)),
    Row("api.posts", "GET", "/api/v1/posts",
        (401,  200,  200,  200,  200,  200,  200,  200, 401)),
    Row("api.post", "GET", "/api/v1/posts/{post_all}",
        (401,  200,  200,  200,  200,  200,  200,  200, 401)),
    Row("api.post", "GET", "/api/v1/posts/{post_department}",
        (401,  200,  200,  404,  404,  404,  404,  200, 401)),
    Row("api.post", "GET", "/api/v1/posts/{post_anonymous}",
        (401,  404,  404,  404,  200,  404,  404,  200, 401)),
    Row("api.post", "GET", "/api/v1/posts/{post_hidden}",
        (401,  404,  404,  404,  404,  404,  404,  200, 401)),
    Row("api.clients", "GET", "/api/v1/clients?q=汽车",
        (401,  200,  200,  200,  200,  200,  200,  200, 401)),
    Row("api.client_record", "GET", "/api/v1/clients/{client}",
        (401,  200,  200,  200,  200,  200,  200,  200, 401)),
    Row("api.people", "GET", "/api/v1/people",
        (401,  200,  200,  200,  200,  200,  200,  200, 401)),
    Row("api.person", "GET", "/api/v1/people/{user_expert}",
        (401,  200,  200,  200,  200,  200,  200,  200, 401)),
    Row("api.person", "GET", "/api/v1/people/{user_disabled}",
        (401,  404,  404,  404,  404,  404,  404,  404, 401)),

    # -- briefs: every signed-in reader reads, the author and admins edit -----
    Row("articles.index", "GET", "/briefs/",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("articles.show", "GET", "/briefs/{brief}",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("articles.revisions", "GET", "/briefs/{brief}/revisions",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("articles.diff", "GET", "/briefs/{brief}/diff",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("articles.edit", "GET", "/briefs/{brief}/edit",
        (L,    200,  403,  403,  403,  403,  403,  200, L)),
    Row("articles.edit", "POST", "/briefs/{brief}/edit",
        (L,    302,  403,  403,  403,  403,  403,  302, L),
        BRIEF_FIELDS),
    Row("articles.useful", "POST", "/briefs/{brief}/useful",
        (L,    302,  302,  302,  302,  302,  302,  302, L)),
    Row("articles.create", "GET", "/briefs/new",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("articles.create", "POST", "/briefs/new",
        (L,    302,  302,  302,  302,  302,  302,  302, L),
        BRIEF_FIELDS),

    # -- forum: the post's visibility decides, the author and admins edit ----
    Row("forum.index", "GET", "/forum/",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("forum.show", "GET", "/forum/{post_all}",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("forum.show", "GET", "/forum/{post_department}",
        (L,    200,  200,  404,  404,  404,  404,  200, L)),
    Row("forum.show", "GET", "/forum/{post_risk}",
        (L,    200,  200,  404,  200,  404,  404,  200, L)),
    Row("forum.show", "GET", "/forum/{post_anonymous}",
        (L,    404,  404,  404,  200,  404,  404,  200, L)),
    Row("forum.show", "GET", "/forum/{post_hidden}",
        (L,    404,  404,  404,  404,  404,  404,  200, L)),
    Row("forum.create", "GET", "/forum/new",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("forum.create", "POST", "/forum/new",
        (L,    302,  302,  302,  302,  302,  302,  302, L),
        POST_FIELDS),
    Row("forum.edit", "GET", "/forum/{post_all}/edit",
        (L,    200,  403,  403,  403,  403,  403,  200, L)),
    Row("forum.edit", "GET", "/forum/{post_department}/edit",
        (L,    200,  403,  404,  404,  404,  404,  200, L)),
    Row("forum.edit", "POST", "/forum/{post_all}/edit",
        (L,    302,  403,  403,  403,  403,  403,  302, L),
        POST_FIELDS),
    Row("forum.revisions", "GET", "/forum/{post_department}/revisions",
        (L,    200,  200,  404,  404,  404,  404,  200, L)),
    Row("forum.reply", "POST", "/forum/{post_all}/replies",
        (L,    302,  302,  302,  302,  302,  302,  302, L),
        {"body_md": REPLY_BODY}),
    Row("forum.reply", "POST", "/forum/{post_department}/replies",
        (L,    302,  302,  404,  404,  404,  404,  302, L),
        {"body_md": REPLY_BODY}),
    Row("forum.useful", "POST", "/forum/{post_all}/useful",
        (L,    302,  302,  302,  302,  302,  302,  302, L)),
    Row("forum.change_status", "POST", "/forum/{spare}/status",
        (L,    403,  403,  404,  302,  404,  404,  302, L),
        {"status": "handling", "note": ""}, spare="spare_risk_post"),
    Row("forum.hide", "POST", "/forum/{post_all}/hide",
        (L,    403,  403,  403,  403,  403,  403,  302, L),
        {"reason": ""}),
    Row("forum.unhide", "POST", "/forum/{post_all}/unhide",
        (L,    403,  403,  403,  403,  403,  403,  302, L)),
    Row("forum.edit_reply", "GET", "/forum/replies/{reply}/edit",
        (L,    403,  200,  403,  403,  403,  403,  200, L)),
    Row("forum.edit_reply", "POST", "/forum/replies/{reply}/edit",
        (L,    403,  302,  403,  403,  403,  403,  302, L),
        {"body_md": REPLY_BODY}),
    Row("forum.reply_revisions", "GET", "/forum/replies/{reply_department}/revisions",
        (L,    200,  200,  404,  404,  404,  404,  200, L)),
    Row("forum.reply_useful", "POST", "/forum/replies/{reply}/useful",
        (L,    302,  302,  302,  302,  302,  302,  302, L)),
    Row("forum.hide_reply", "POST", "/forum/replies/{reply}/hide",
        (L,    403,  403,  403,  403,  403,  403,  302, L),
        {"reason": ""}),
    Row("forum.unhide_reply", "POST", "/forum/replies/{reply}/unhide",
        (L,    403,  403,  403,  403,  403,  403,  302, L)),

    # -- risk board and anonymous reports -----------------------------------
    Row("risk.board", "GET", "/risk/",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("risk.report", "GET", "/risk/report",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("risk.report", "POST", "/risk/report",
        (L,    200,  200,  200,  200,  200,  200,  200, L),
        {"title": "某客户拖欠工资", "body_md": "已拖欠两个月。", "severity": "low"}),
    Row("risk.receipt", "GET", "/risk/receipt",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("risk.receipt", "POST", "/risk/receipt",
        (L,    200,  200,  200,  200,  200,  200,  200, L),
        {"code": "{receipt}"}),
    Row("risk.receipt_reply", "POST", "/risk/receipt/reply",
        (L,    200,  200,  200,  200,  200,  200,  200, L),
        {"code": "{receipt}", "body_md": REPLY_BODY}),

    # -- notifications: each person's own ------------------------------------
    Row("notifications.inbox", "GET", "/notifications/",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("notifications.open", "GET", "/notifications/{notification}",
        (L,    302,  404,  404,  404,  404,  404,  404, L)),
    Row("notifications.mark_read", "POST", "/notifications/read",
        (L,    302,  302,  302,  302,  302,  302,  302, L)),
    Row("notifications.subscriptions", "GET", "/notifications/subscriptions",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("notifications.set_email", "POST", "/notifications/email",
        (L,    302,  302,  302,  302,  302,  302,  302, L),
        {"email": ""}),
    Row("notifications.set_delivery", "POST",
        "/notifications/subscriptions/{subscription}",
        (L,    302,  404,  404,  404,  404,  404,  404, L),
        {"delivery": "daily"}),
    Row("notifications.remove", "POST", "/notifications/subscriptions/{spare}/delete",
        (L,    302,  404,  404,  404,  404,  404,  404, L),
        spare="subscription"),
    Row("notifications.follow", "POST", "/notifications/follow",
        (L,    302,  302,  404,  404,  404,  404,  302, L),
        {"kind": "post", "target": "{post_department}"}),
    Row("notifications.unfollow", "POST", "/notifications/unfollow",
        (L,    302,  302,  302,  302,  302,  302,  302, L),
        {"kind": "post", "target": "{post_department}"}),
    Row("notifications.follow", "POST", "/notifications/follow",
        (L,    404,  404,  404,  404,  404,  404,  404, L),
        {"kind": "user", "target": "{user_disabled}"}),

    # -- people ---------------------------------------------------------------
    Row("people.index", "GET", "/people/",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("people.show", "GET", "/people/{user_expert}",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("people.show", "GET", "/people/{user_disabled}",
        (L,    404,  404,  404,  404,  404,  404,  404, L)),
    # Endorsing oneself is rejected: the expert gets a message and 303.
    Row("people.endorse", "POST", "/people/{user_expert}/endorse",
        (L,    302,  302,  302,  302,  303,  302,  302, L),
        {"industry_code": INDUSTRY}),
    Row("people.endorse", "POST", "/people/{user_disabled}/endorse",
        (L,    404,  404,  404,  404,  404,  404,  404, L),
        {"industry_code": INDUSTRY}),
    Row("people.edit", "GET", "/people/me",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("people.edit", "POST", "/people/me",
        (L,    302,  302,  302,  302,  302,  302,  302, L),
        {"headline": "", "bio_md": ""}),

    # -- questions: hidden ones are for admins, the asker and admins manage --
    Row("questions.index", "GET", "/questions/",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("questions.queue", "GET", "/questions/queue",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("questions.ask", "GET", "/questions/ask",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("questions.ask", "POST", "/questions/ask",
        (L,    302,  302,  302,  302,  302,  302,  302, L),
        {"title": "钢材价格上涨对汽车零部件企业影响多大？", "industries": INDUSTRY}),
    Row("questions.show", "GET", "/questions/{question_open}",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("questions.show", "GET", "/questions/{question_closed}",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("questions.show", "GET", "/questions/{question_hidden}",
        (L,    404,  404,  404,  404,  404,  404,  200, L)),
    Row("questions.answer", "POST", "/questions/{question_open}/answers",
        (L,    302,  302,  302,  302,  302,  302,  302, L),
        {"body_md": ANSWER_BODY}),
    Row("questions.answer", "POST", "/questions/{question_hidden}/answers",
        (L,    404,  404,  404,  404,  404,  404,  400, L),
        {"body_md": ANSWER_BODY}),
    Row("questions.edit_answer", "GET", "/questions/answers/{answer}/edit",
        (L,    403,  403,  403,  403,  200,  403,  200, L)),
    Row("questions.edit_answer", "GET", "/questions/answers/{answer_hidden}/edit",
        (L,    404,  404,  404,  404,  404,  404,  200, L)),
    # The expert wrote this answer before an admin hid its question.
    Row("questions.edit_answer", "GET",
        "/questions/answers/{answer_on_hidden_question}/edit",
        (L,    404,  404,  404,  404,  404,  404,  200, L)),
    Row("questions.edit_answer", "POST", "/questions/answers/{answer}/edit",
        (L,    403,  403,  403,  403,  302,  403,  302, L),
        {"body_md": ANSWER_BODY}),
    Row("questions.useful", "POST", "/questions/answers/{answer}/useful",
        (L,    302,  302,  302,  302,  302,  302,  302, L)),
    Row("questions.accept", "POST", "/questions/answers/{answer}/accept",
        (L,    302,  403,  403,  403,  403,  403,  302, L)),
    Row("questions.accept", "POST", "/questions/answers/{answer_hidden}/accept",
        (L,    404,  404,  404,  404,  404,  404,  302, L)),
    Row("questions.unaccept", "POST", "/questions/answers/{answer}/unaccept",
        (L,    302,  403,  403,  403,  403,  403,  302, L)),
    Row("questions.close", "POST", "/questions/{question_closed}/close",
        (L,    302,  403,  403,  403,  403,  403,  302, L)),
    Row("questions.close", "POST", "/questions/{question_hidden}/close",
        (L,    404,  404,  404,  404,  404,  404,  302, L)),
    Row("questions.reopen", "POST", "/questions/{question_open}/reopen",
        (L,    302,  403,  403,  403,  403,  403,  302, L)),
    Row("questions.hide", "POST", "/questions/{question_open}/hide",
        (L,    403,  403,  403,  403,  403,  403,  302, L),
        {"reason": ""}),
    Row("questions.unhide", "POST", "/questions/{question_open}/unhide",
        (L,    403,  403,  403,  403,  403,  403,  302, L)),
    Row("questions.hide_answer", "POST", "/questions/answers/{answer}/hide",
        (L,    403,  403,  403,  403,  403,  403,  302, L),
        {"reason": ""}),
    Row("questions.unhide_answer", "POST", "/questions/answers/{answer}/unhide",
        (L,    403,  403,  403,  403,  403,  403,  302, L)),

    Row("search.search", "GET", "/search/?q=钢材",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),

    # -- training: everyone reads, experts write, the author and admins edit -
    Row("training.index", "GET", "/training/",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("training.show_course", "GET", "/training/courses/{course}",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("training.show_lesson", "GET", "/training/lessons/{lesson}",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("training.download_attachment", "GET", "/training/attachments/{attachment}",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("training.create_course", "GET", "/training/courses/new",
        (L,    403,  403,  403,  403,  200,  200,  200, L)),
    Row("training.create_course", "POST", "/training/courses/new",
        (L,    403,  403,  403,  403,  302,  302,  302, L),
        COURSE_FIELDS),
    Row("training.edit_course", "GET", "/training/courses/{course}/edit",
        (L,    403,  403,  403,  403,  200,  403,  200, L)),
    Row("training.edit_course", "POST", "/training/courses/{course}/edit",
        (L,    403,  403,  403,  403,  302,  403,  302, L),
        COURSE_FIELDS),
    Row("training.add_lesson", "GET", "/training/courses/{course}/lessons/new",
        (L,    403,  403,  403,  403,  200,  403,  200, L)),
    Row("training.add_lesson", "POST", "/training/courses/{course}/lessons/new",
        (L,    403,  403,  403,  403,  302,  403,  302, L),
        LESSON_FIELDS),
    Row("training.edit_lesson", "GET", "/training/lessons/{lesson}/edit",
        (L,    403,  403,  403,  403,  200,  403,  200, L)),
    Row("training.edit_lesson", "POST", "/training/lessons/{lesson}/edit",
        (L,    403,  403,  403,  403,  302,  403,  302, L),
        LESSON_FIELDS),
    Row("training.move_lesson", "POST", "/training/lessons/{lesson}/move",
        (L,    403,  403,  403,  403,  302,  403,  302, L),
        {"direction": "down"}),
    Row("training.delete_lesson", "POST", "/training/lessons/{spare}/delete",
        (L,    403,  403,  403,  403,  302,  403,  302, L),
        spare="spare_lesson"),
    Row("training.mark_done", "POST", "/training/lessons/{lesson}/done",
        (L,    302,  302,  302,  302,  302,  302,  302, L)),
    Row("training.undo_done", "POST", "/training/lessons/{lesson}/undo",
        (L,    302,  302,  302,  302,  302,  302,  302, L)),
    Row("training.upload_attachment", "GET",
        "/training/courses/{course}/attachments/new",
        (L,    403,  403,  403,  403,  200,  403,  200, L)),
    Row("training.upload_attachment", "POST",
        "/training/courses/{course}/attachments/new",
        (L,    403,  403,  403,  403,  302,  403,  302, L),
        {"lesson_id": ""}, upload=True),
    Row("training.delete_attachment", "POST", "/training/attachments/{spare}/delete",
        (L,    403,  403,  403,  403,  302,  403,  302, L),
        spare="spare_attachment"),
    Row("training.completion", "GET", "/training/completion",
        (L,    403,  403,  403,  403,  403,  403,  200, L)),
    Row("training.completion_csv", "GET", "/training/completion.csv",
        (L,    403,  403,  403,  403,  403,  403,  200, L)),
    Row("training.lectures_index", "GET", "/training/lectures/",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("training.show_lecture", "GET", "/training/lectures/{lecture}",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("training.lecture_ics", "GET", "/training/lectures/{lecture}.ics",
        (L,    200,  200,  200,  200,  200,  200,  200, L)),
    Row("training.create_lecture", "GET", "/training/lectures/new",
        (L,    403,  403,  403,  403,  200,  200,  200, L)),
    Row("training.create_lecture", "POST", "/training/lectures/new",
        (L,    403,  403,  403,  403,  302,  302,  302, L),
        lecture="新的讲座"),
    Row("training.edit_lecture", "GET", "/training/lectures/{lecture}/edit",
        (L,    403,  403,  403,  403,  200,  403,  200, L)),
    Row("training.edit_lecture", "POST", "/training/lectures/{lecture}/edit",
        (L,    403,  403,  403,  403,  302,  403,  302, L),
        lecture="供应链金融实务讲座（修订）"),
    Row("training.sign_up", "POST", "/training/lectures/{lecture}/signup",
        (L,    302,  302,  302,  302,  302,  302,  302, L)),
    Row("training.withdraw", "POST", "/training/lectures/{lecture}/withdraw",
        (L,    302,  302,  302,  302,  302,  302,  302, L)),
    Row("training.cancel_lecture", "POST", "/training/lectures/{spare}/cancel",
        (L,    403,  403,  403,  403,  302,  403,  302, L),
        spare="spare_lecture"),

    # Signing out ends the reader's session, so it runs last.
    Row("auth.logout", "POST", "/logout",
        (L,    302,  302,  302,  302,  302,  302,  302, L)),
]
# fmt: on

# Endpoints with no row: the static files are public by design.
UNLISTED = {"static"}


@dataclass
class World:
    """The accounts and objects of the table, with a client per reader."""

    app: Flask
    ids: dict[str, Any]
    spares: dict[str, dict[str, Any]]
    clients: dict[str, FlaskClient]
    tokens: dict[str, str]
    api_tokens: dict[str, str]


# -- building the objects -------------------------------------------------------


def _user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def _local_input(value) -> str:
    return to_local(value).strftime("%Y-%m-%dT%H:%M")


def _lecture_fields(title: str) -> dict:
    start = utcnow().replace(second=0, microsecond=0) + timedelta(days=3)
    return {
        "title": title,
        "course_id": "",
        "starts_at": _local_input(start),
        "ends_at": _local_input(start + timedelta(hours=2)),
        "place": "总行 3 楼第一会议室",
        "online_url": "",
        "speaker_username": "expert",
        "speaker_name": "",
        "capacity": "",
        "description": "",
    }


def _pdf_upload() -> dict:
    return {"file": (io.BytesIO(make_pdf("供应链金融课件")), "课件.pdf")}


def _create_accounts(app: Flask) -> dict[str, int]:
    with app.app_context():
        ids = {}
        for username, (role, department, display_name) in ACCOUNTS.items():
            user = create_user(
                db.session, username, PASSWORD, role, department, display_name
            )
            db.session.flush()
            ids[f"user_{username}"] = user.id
        risk = db.session.scalar(
            select(Department).where(Department.name == RISK_DEPARTMENT)
        )
        risk.handles_risk = True
        db.session.commit()
        return ids


def _write_post(body_max: int, author: User | None, **fields) -> forum.Post:
    data = forum.PostInput(
        title=fields.pop("title", POST_FIELDS["title"]),
        body_md=fields.pop("body_md", POST_FIELDS["body_md"]),
        **fields,
    )
    return forum.create_post(db.session, data, author, body_max)


def _create_forum(app: Flask) -> dict[str, Any]:
    """Write a post of each visibility and two replies, then hide one post."""
    body_max = app.config["KB_BODY_MAX_CHARS"]
    with app.app_context():
        corp, corp2, admin = _user("corp"), _user("corp2"), _user("admin")
        corporate = corp.department_id
        ids = {
            "post_all": _write_post(body_max, corp).id,
            "post_department": _write_post(
                body_max, corp, visibility="department", audience_ids=[corporate]
            ).id,
            "post_risk": _write_post(
                body_max,
                corp,
                signal_type="risk",
                severity="medium",
                visibility="department",
                audience_ids=[corporate],
            ).id,
        }
        report, receipt = forum.create_anonymous_report(
            db.session,
            forum.PostInput(
                title="某客户拖欠供应商货款",
                body_md="听说已拖欠三个月。",
                signal_type="risk",
                severity="high",
            ),
            body_max,
            per_hour=100,
        )
        ids["post_anonymous"] = report.id
        ids["receipt"] = receipt
        hidden = _write_post(body_max, corp)
        forum.hide_post(db.session, hidden, admin, "重复发布")
        ids["post_hidden"] = hidden.id
        db.session.flush()
        post_all = db.session.get(forum.Post, ids["post_all"])
        post_department = db.session.get(forum.Post, ids["post_department"])
        ids["reply"] = forum.add_reply(
            db.session, post_all, REPLY_BODY, corp2, body_max
        ).id
        ids["reply_department"] = forum.add_reply(
            db.session, post_department, REPLY_BODY, corp, body_max
        ).id
        db.session.commit()
        # corp follows their own posts, so corp2's reply notified them.
        ids["notification"] = db.session.scalar(
            select(Notification.id).where(Notification.user_id == corp.id).limit(1)
        )
        return ids


def _create_content(app: Flask) -> dict[str, Any]:
    """Write the brief, the client, the questions and answers, the course."""
    body_max = app.config["KB_BODY_MAX_CHARS"]
    with app.app_context():
        corp, expert, expert2 = _user("corp"), _user("expert"), _user("expert2")
        admin = _user("admin")
        brief = articles.create_article(
            db.session,
            articles.ArticleInput(
                title=BRIEF_FIELDS["title"],
                body_md=BRIEF_FIELDS["body_md"],
                industry_codes=[INDUSTRY],
                published_at=utcnow(),
            ),
            corp,
            body_max,
        )
        client = make_client("华东汽车零部件有限公司", 1, industry_code=INDUSTRY)
        ids = {"brief": brief.id, "client": client.credit_code}

        def ask(title: str):
            return questions.ask(
                db.session,
                corp,
                questions.QuestionInput(title=title, industry_codes=[INDUSTRY]),
                body_max=body_max,
            )

        question_open = ask("新能源汽车补贴退坡影响哪些零部件企业？")
        question_closed = ask("今年钢材价格走势如何判断？")
        question_hidden = ask("这条问题重复了，应当隐藏吗？")
        answer = questions.add_answer(
            db.session, expert, question_open, ANSWER_BODY, body_max
        )
        answer_hidden = questions.add_answer(
            db.session, expert2, question_open, "重复的回答。", body_max
        )
        answer_on_hidden_question = questions.add_answer(
            db.session, expert, question_hidden, "可以合并到另一条问题。", body_max
        )
        questions.close(db.session, corp, question_closed)
        questions.hide_question(db.session, admin, question_hidden, "重复提问")
        questions.hide_answer(db.session, admin, answer_hidden, "重复回答")
        course = training.create_course(
            db.session, training.CourseInput("汽车金融基础", "入门课程。", []), expert
        )
        lesson = training.add_lesson(
            db.session, course, training.LessonInput(**LESSON_FIELDS)
        )
        training.add_lesson(
            db.session, course, training.LessonInput("第二课 产品", "正文。")
        )
        subscription = notifications.follow(db.session, corp, "tag", "汽车", None)
        experts.set_profile(
            db.session, expert, "汽车行业", "", industries=[(INDUSTRY, 3)]
        )
        db.session.commit()
        ids.update(
            question_open=question_open.id,
            question_closed=question_closed.id,
            question_hidden=question_hidden.id,
            answer=answer.id,
            answer_hidden=answer_hidden.id,
            answer_on_hidden_question=answer_on_hidden_question.id,
            course=course.id,
            lesson=lesson.id,
            subscription=subscription.id,
        )
        return ids


def _create_spares(app: Flask, ids: dict, expert: FlaskClient) -> dict:
    """Create the objects that allowed readers delete or change, a copy each.

    Every refused reader gets the copy "others", see ``Row``.
    """
    body_max = app.config["KB_BODY_MAX_CHARS"]
    spares: dict[str, dict[str, Any]] = {
        "spare_merge": {},
        "spare_delete": {},
        "spare_risk_post": {},
        "spare_lesson": {},
        "spare_attachment": {},
        "spare_lecture": {},
        "subscription": {"corp": ids["subscription"]},
    }
    with app.app_context():
        corp = _user("corp")
        spares["subscription"]["others"] = notifications.follow(
            db.session, corp, "tag", "钢铁", None
        ).id
        course = db.session.get(training.Course, ids["course"])
        for serial, copy in enumerate(("admin", "others"), start=2):
            spares["spare_merge"][copy] = make_client(
                f"待合并客户{copy}", serial
            ).credit_code
            spares["spare_delete"][copy] = make_client(
                f"待删除客户{copy}", serial + 10
            ).credit_code
        for copy in ("risk", "admin", "others"):
            spares["spare_risk_post"][copy] = _write_post(
                body_max,
                corp,
                signal_type="risk",
                severity="low",
                visibility="department",
                audience_ids=[corp.department_id],
            ).id
        for copy in ("expert", "admin", "others"):
            lesson = training.add_lesson(
                db.session, course, training.LessonInput(f"待删除课时 {copy}", "x")
            )
            db.session.flush()
            spares["spare_lesson"][copy] = lesson.id
        db.session.commit()
    for copy in ("expert", "admin", "others"):
        spares["spare_attachment"][copy] = _upload_attachment(expert, ids["course"])
        spares["spare_lecture"][copy] = _create_lecture(expert, f"待取消讲座 {copy}")
    return spares


def _upload_attachment(expert: FlaskClient, course_id: int, lesson_id="") -> int:
    """Upload a PDF as the course's expert author and return the attachment id."""
    token = csrf_token(expert, "/training/lectures/new")
    response = expert.post(
        f"/training/courses/{course_id}/attachments/new",
        data={"csrf_token": token, "lesson_id": str(lesson_id), **_pdf_upload()},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    with expert.application.app_context():
        return db.session.scalar(select(func.max(training.Attachment.id)))


def _create_lecture(expert: FlaskClient, title: str) -> int:
    token = csrf_token(expert, "/training/lectures/new")
    response = expert.post(
        "/training/lectures/new", data={"csrf_token": token, **_lecture_fields(title)}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return int(response.headers["Location"].rsplit("/", 1)[-1])


@pytest.fixture(scope="module")
def matrix_app(migrated_db, tmp_path_factory):
    """One application for the module, set up like the ``app`` fixture."""
    with module_app(migrated_db, tmp_path_factory, "endpoints") as app:
        yield app


@pytest.fixture(scope="module")
def world(matrix_app) -> World:
    """Create every account and object, sign everyone in, disable "disabled"."""
    app = matrix_app
    ids = _create_accounts(app)
    ids.update(_create_forum(app))
    ids.update(_create_content(app))

    clients = {}
    for reader in READERS:
        client = app.test_client()
        if reader != "anonymous":
            response = login(client, reader)
            assert response.status_code == 302, f"{reader} could not sign in"
        clients[reader] = client

    expert = clients["expert"]
    ids["attachment"] = _upload_attachment(expert, ids["course"], ids["lesson"])
    ids["lecture"] = _create_lecture(expert, "供应链金融实务讲座")
    spares = _create_spares(app, ids, expert)

    with app.app_context():
        api_tokens = {
            username: create_token(db.session, _user(username), "矩阵")
            for username in ("corp", "disabled")
        }
        _user("disabled").active = False
        db.session.commit()

    # A session without an account still gets a CSRF token from the sign-in page.
    tokens = {
        reader: csrf_token(
            client, "/login" if reader in ("anonymous", "disabled") else "/forum/new"
        )
        for reader, client in clients.items()
    }
    return World(app, ids, spares, clients, tokens, api_tokens)


# -- running the table ----------------------------------------------------------


class _Objects(dict):
    """Format mapping: the table's objects, with ``spare`` resolved per reader."""

    def __init__(self, world: World, row: Row, reader: str):
        super().__init__(world.ids)
        if row.spare:
            copies = world.spares[row.spare]
            self["spare"] = copies.get(reader, copies["others"])


def _request_fields(row: Row, objects: _Objects) -> dict:
    if row.lecture:
        return _lecture_fields(row.lecture)
    fields = {name: value.format_map(objects) for name, value in row.data.items()}
    if row.upload:
        fields.update(_pdf_upload())
    return fields


def _send(world: World, row: Row, reader: str):
    objects = _Objects(world, row, reader)
    path = row.path.format_map(objects)
    client = world.clients[reader]
    if row.method == "GET":
        response = client.get(path)
    else:
        fields = {
            "csrf_token": world.tokens[reader],
            **_request_fields(row, objects),
        }
        response = client.post(path, data=fields)
    # A streamed response keeps its request context until it is read and closed.
    response.get_data()
    response.close()
    return path, response


LOGIN_REDIRECT_RE = re.compile(r"^(https?://[^/]+)?/login\?next=")


def _outcome(response) -> int | str:
    """Return the status, or L for a 302 to the sign-in page."""
    location = response.headers.get("Location", "")
    if response.status_code == 302 and LOGIN_REDIRECT_RE.match(location):
        return L
    return response.status_code


def test_table_covers_url_map(matrix_app):
    routed = {
        (rule.endpoint, method)
        for rule in matrix_app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
        if rule.endpoint not in UNLISTED
    }
    listed = {(row.endpoint, row.method) for row in TABLE}
    assert routed - listed == set(), "endpoints without a row in TABLE"
    assert listed - routed == set(), "rows for endpoints that do not exist"


def test_table_rows_are_well_formed():
    for row in TABLE:
        assert len(row.expected) == len(READERS), row.endpoint
        assert row.method in ("GET", "POST"), row.endpoint


def test_bearer_tokens(world, subtests):
    """A token acts as its owner until the owner's account is disabled."""
    client = world.app.test_client()
    cases = [
        ("corp", f"/api/v1/posts/{world.ids['post_department']}", 200),
        ("corp", f"/api/v1/posts/{world.ids['post_hidden']}", 404),
        ("corp", f"/api/v1/people/{world.ids['user_corp']}", 200),
        ("disabled", "/api/v1/posts", 401),
        ("disabled", f"/api/v1/posts/{world.ids['post_all']}", 401),
    ]
    for owner, path, status in cases:
        with subtests.test(owner=owner, path=path):
            headers = {"Authorization": f"Bearer {world.api_tokens[owner]}"}
            response = client.get(path, headers=headers)
            assert response.status_code == status
    with subtests.test(owner="nobody", path="/api/v1/posts"):
        headers = {"Authorization": "Bearer kb_not-a-token"}
        assert client.get("/api/v1/posts", headers=headers).status_code == 401


def test_demoted_expert_loses_authoring(world, subtests):
    """An expert who becomes staff keeps reading but no longer edits their own."""
    app = world.app
    with app.app_context():
        former = create_user(
            db.session, "former", PASSWORD, "expert", "行业研究中心", "冯前专家"
        )
        course = training.create_course(
            db.session, training.CourseInput("票据业务入门", "入门课程。", []), former
        )
        db.session.commit()
        course_id = course.id
    client = app.test_client()
    assert login(client, "former").status_code == 302
    lecture_id = _create_lecture(client, "票据业务讲座")
    with app.app_context():
        _user("former").role = "staff"
        db.session.commit()

    token = csrf_token(client, "/forum/new")
    cases = [
        ("GET", f"/training/courses/{course_id}", 200),
        ("GET", f"/training/lectures/{lecture_id}", 200),
        ("GET", "/training/courses/new", 403),
        ("GET", f"/training/courses/{course_id}/edit", 403),
        ("GET", f"/training/courses/{course_id}/lessons/new", 403),
        ("GET", f"/training/lectures/{lecture_id}/edit", 403),
        ("POST", f"/training/lectures/{lecture_id}/cancel", 403),
    ]
    for method, path, status in cases:
        with subtests.test(method=method, path=path):
            if method == "GET":
                response = client.get(path)
            else:
                response = client.post(path, data={"csrf_token": token})
            assert response.status_code == status


def test_every_endpoint_for_every_reader(world, subtests):
    """Run TABLE in order and compare each row as a whole, one subtest per row.

    Rows that change something come after the rows that read it. The last row
    signs everyone out, so this test runs last in the module.
    """
    for row in TABLE:
        with subtests.test(endpoint=row.endpoint, method=row.method, path=row.path):
            outcomes = {}
            for reader in READERS:
                path, response = _send(world, row, reader)
                outcomes[reader] = _outcome(response)
            expected = dict(zip(READERS, row.expected, strict=True))
            assert outcomes == expected, path
