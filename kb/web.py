"""Response headers, template helpers and per-request hooks."""

from flask import Flask, g, request
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.routing import IntegerConverter

from kb.errors import ValidationError
from kb.i18n import local_date, local_datetime


class RecordIdConverter(IntegerConverter):
    """``int`` URL parts limited to what a database integer column can store.

    A larger number would raise OverflowError in the database driver. Here it
    does not match the route, so the request gets a 404.
    """

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(url_map, *args, **kwargs)


def register_url_converters(app: Flask) -> None:
    """Install converters; must run before any blueprint adds routes."""
    app.url_map.converters["int"] = RecordIdConverter


def parse_id(raw) -> int | None:
    """Read a record id typed in a form or URL; None unless it is 1 to 2**63-1.

    Only ASCII digits count: "²" and "１" pass str.isdigit but are not ids.
    """
    text = str(raw or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        return None
    value = int(text)
    return value or None


def _unread_count() -> int:
    """Unread inbox entries of the signed-in user, for the header badge."""
    from flask import has_request_context
    from flask_login import current_user

    from kb.extensions import db
    from kb.notifications.services import unread_count

    # Templates rendered outside a request (e-mails, CLI) have no current user.
    if not has_request_context() or not current_user.is_authenticated:
        return 0
    return unread_count(db.session, current_user)


def _queue_count() -> int:
    """Unanswered questions waiting for the signed-in user, for the header badge."""
    from flask import has_request_context
    from flask_login import current_user

    from kb.extensions import db
    from kb.questions.routing import queue_unanswered_count

    if not has_request_context() or not current_user.is_authenticated:
        return 0
    return queue_unanswered_count(db.session, current_user)


def is_page_load() -> bool:
    """Tell whether the request is a person opening a page.

    An image, script or frame that points at a page URL sends the reader's
    cookies too; browsers mark such requests with ``Sec-Fetch-Dest``. Views
    that record something on GET (a view count, a notification read) skip
    those requests and HEAD requests, so a post cannot make its readers'
    browsers record views or read receipts elsewhere.
    """
    if request.method != "GET":
        return False
    return request.headers.get("Sec-Fetch-Dest", "document") == "document"


# GET views that also write: a view count, a read receipt, an access log row.
WRITING_GET_ENDPOINTS = frozenset(
    {"forum.show", "clients.show", "api.client_record", "notifications.open"}
)


def register_web_hooks(app: Flask) -> None:
    """Install security headers and the helpers every template uses."""

    @app.before_request
    def reject_nul_characters():
        # PostgreSQL text columns cannot store U+0000, so such input would
        # fail with a 500 there and be stored on SQLite.
        for name, value in request.form.items(multi=True):
            if "\x00" in value:
                raise ValidationError(
                    _(
                        "字段 %(field)s 含有空字符（U+0000），请删除后重新提交。",
                        field=name,
                    ),
                    field=name,
                )

    @app.before_request
    def note_writing_requests():
        # Read by kb.dbutil before the request's first query, which opens the
        # transaction (signing in reads the user in a later hook).
        g.kb_writes = (
            request.method not in ("GET", "HEAD", "OPTIONS")
            or request.endpoint in WRITING_GET_ENDPOINTS
        )

    app.add_template_filter(local_datetime, "datetime")
    app.add_template_filter(local_date, "date")

    @app.context_processor
    def inject_globals():
        return {
            "current_locale": str(get_locale()),
            "kb_unread_count": _unread_count(),
            "kb_queue_count": _queue_count(),
        }

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' https: data:; style-src 'self'; "
            "script-src 'self'; object-src 'none'; base-uri 'self'; "
            "frame-ancestors 'none'; form-action 'self'",
        )
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
