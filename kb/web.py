"""Response headers, template helpers and per-request hooks."""

from flask import Flask, abort, g, has_request_context, request
from flask.wrappers import Response
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.routing import IntegerConverter

from kb.errors import ValidationError
from kb.i18n import local_date, local_datetime

# Largest record id: the id columns are INTEGER, 32 bits on PostgreSQL.
MAX_RECORD_ID = 2**31 - 1


class RecordIdConverter(IntegerConverter):
    """``int`` URL parts limited to what a database integer column can store.

    A larger number makes PostgreSQL raise "integer out of range". Here it
    does not match the route, so the request gets a 404.
    """

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", MAX_RECORD_ID)
        super().__init__(url_map, *args, **kwargs)


class HttpsAwareResponse(Response):
    """Response that marks every cookie ``Secure`` when the request came over HTTPS.

    ``request.is_secure`` reads the WSGI URL scheme, which gunicorn sets from
    ``X-Forwarded-Proto`` for the proxies in ``FORWARDED_ALLOW_IPS``. Over plain
    HTTP (development on 127.0.0.1) cookies stay without the flag, since a
    browser would not send a ``Secure`` cookie back over HTTP.
    """

    def set_cookie(self, key: str, *args, **kwargs) -> None:
        if has_request_context() and request.is_secure:
            kwargs["secure"] = True
        super().set_cookie(key, *args, **kwargs)


# One year, in seconds.
HSTS_MAX_AGE = 365 * 24 * 3600


def register_url_converters(app: Flask) -> None:
    """Install converters; must run before any blueprint adds routes."""
    app.url_map.converters["int"] = RecordIdConverter


def parse_id(raw) -> int | None:
    """Read a record id typed in a form or URL; None unless 1 to MAX_RECORD_ID.

    Only ASCII digits count: "²" and "１" pass str.isdigit but are not ids.
    """
    text = str(raw or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        return None
    value = int(text)
    if value > MAX_RECORD_ID:
        return None
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

# GET views that log every read in the client access log, an audit trail, so
# unlike forum.show they cannot skip loads that are not page loads. A browser
# loading one as an image, script, style or other embed gets 404 instead.
EMBED_REJECTED_ENDPOINTS = frozenset({"clients.show", "api.client_record"})

# Sec-Fetch-Dest of a page load or a script's fetch. Requests from outside a
# browser send no such header and count as page loads.
PAGE_DESTINATIONS = frozenset({"document", "empty"})


def register_web_hooks(app: Flask) -> None:
    """Install security headers and the helpers every template uses."""
    app.response_class = HttpsAwareResponse

    @app.before_request
    def note_writing_requests():
        # Read by kb.dbutil before the request's first query, which opens the
        # transaction (signing in reads the user in a later hook).
        g.kb_writes = (
            request.method not in ("GET", "HEAD", "OPTIONS")
            or request.endpoint in WRITING_GET_ENDPOINTS
        )

    @app.before_request
    def reject_embedded_client_reads():
        # Briefs and posts may show images from this site, so a body with
        # ![](/clients/CODE) would make every reader's browser load the client
        # page and add an access log row under the reader's name.
        if request.endpoint not in EMBED_REJECTED_ENDPOINTS:
            return
        if request.headers.get("Sec-Fetch-Dest", "document") not in PAGE_DESTINATIONS:
            abort(404)

    @app.before_request
    def reject_nul_in_forms():
        # PostgreSQL cannot store NUL in text and SQLite can, so both reject
        # it here. Uploads (multipart) are left alone: their views raise the
        # body size limit before the form is parsed.
        if request.mimetype != "application/x-www-form-urlencoded":
            return
        for name, value in request.form.items(multi=True):
            if "\x00" in value:
                raise ValidationError(
                    _(
                        "字段 %(field)s 含有空字符（U+0000），请删除后重新提交。",
                        field=name,
                    ),
                    field=name,
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
        if request.is_secure:
            response.headers.setdefault(
                "Strict-Transport-Security", f"max-age={HSTS_MAX_AGE}"
            )
        if request.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
