"""The project's exceptions and the one place that turns errors into responses."""

import logging
import sqlite3

from flask import Flask, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from kb.extensions import db

logger = logging.getLogger(__name__)


class KbError(Exception):
    """Root of the errors that services raise for the caller to report."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationError(KbError):
    """Raised when input breaks a rule; ``field`` names the form field if one."""

    status = 400
    code = "invalid"


class NotFound(KbError):
    """Raised when a record does not exist or the caller may not know it exists."""

    status = 404
    code = "not_found"


class PermissionDenied(KbError):
    """Raised when the caller is known but may not perform the action."""

    status = 403
    code = "forbidden"


class Conflict(KbError):
    """Raised when the action clashes with the current state, such as a taken name."""

    status = 409
    code = "conflict"


class RateLimited(KbError):
    """Raised when too many attempts were made; ``retry_after`` is in seconds."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


ERROR_TITLES = {
    400: _l("请求无效"),
    401: _l("需要登录"),
    403: _l("无权访问"),
    404: _l("页面不存在"),
    405: _l("不支持的请求方法"),
    413: _l("提交的内容过大"),
    429: _l("尝试次数过多"),
    500: _l("服务器内部错误"),
    503: _l("系统繁忙"),
}

# PostgreSQL error codes of a transaction that lost to a concurrent one:
# serialization failure, deadlock detected, lock not available.
_CONTENTION_SQLSTATES = {"40001", "40P01", "55P03"}
BUSY_RETRY_SECONDS = 5


UNAVAILABLE_MESSAGE = (
    "数据库暂时无法连接，请稍后再试。The database cannot be reached; try again "
    "in a moment."
)
UNAVAILABLE_PAGE = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>503</title></head>
<body><h1>服务暂不可用 · Service unavailable</h1><p>{UNAVAILABLE_MESSAGE}</p>
<p>填写的内容尚未保存：返回上一页可找回。Nothing was saved: go back to keep what
you entered.</p></body></html>
"""


def is_contention(error: OperationalError) -> bool:
    """Tell whether the database gave up waiting for another transaction."""
    original = error.orig
    if isinstance(original, sqlite3.OperationalError):
        text = str(original)
        return "database is locked" in text or "database is busy" in text
    return getattr(original, "sqlstate", None) in _CONTENTION_SQLSTATES


def wants_json() -> bool:
    """Tell whether the current request expects a JSON error body."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and not request.accept_mimetypes["text/html"]


def error_response(status: int, code: str, message: str, field: str | None = None):
    """Build the JSON or HTML response for an error with the given HTTP status.

    JSON bodies name the offending parameter in ``field`` when there is one.
    """
    if wants_json():
        body = {"error": code, "message": message}
        if field:
            body["field"] = field
        response = jsonify(body)
        response.status_code = status
        return response
    title = str(ERROR_TITLES.get(status, _l("出错了")))
    html = render_template(
        "errors/error.html", status=status, title=title, message=message
    )
    return html, status


def register_error_handlers(app: Flask) -> None:
    """Install the handlers that map HTTP errors and KbError to responses."""

    @app.errorhandler(CSRFError)
    def handle_csrf(error: CSRFError):
        message = _("表单已过期或缺少安全令牌，请刷新页面后重新提交。")
        return error_response(400, "csrf_failed", message)

    @app.errorhandler(413)
    def handle_too_large(error: HTTPException):
        limit_mb = app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
        message = _("提交的内容超过 %(limit)s MB 的上限。", limit=limit_mb)
        return error_response(413, "too_large", message)

    @app.errorhandler(HTTPException)
    def handle_http(error: HTTPException):
        status = error.code or 500
        message = _(ERROR_TITLES.get(status, error.name))
        if status in (400, 405) and error.description and wants_json():
            message = error.description
        return error_response(status, error.name.lower().replace(" ", "_"), message)

    @app.errorhandler(KbError)
    def handle_kb_error(error: KbError):
        response = error_response(error.status, error.code, error.message, error.field)
        if isinstance(error, RateLimited):
            response = app.make_response(response)
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    @app.errorhandler(OperationalError)
    def handle_database_busy(error: OperationalError):
        if not is_contention(error):
            return database_unavailable(error)
        db.session.rollback()
        # The error page reads only: waiting for the write lock again would
        # fail the same way.
        g.kb_writes = False
        logger.warning(
            "Database busy on %s %s: %s", request.method, request.path, error.orig
        )
        message = _(
            "系统繁忙，内容未保存。请稍后重新提交，返回上一页可找回填写的内容。"
        )
        response = app.make_response(error_response(503, "busy", message))
        response.headers["Retry-After"] = str(BUSY_RETRY_SECONDS)
        return response

    def database_unavailable(error: OperationalError):
        # The usual error page reads the signed-in user and the locale from
        # the database, so this response is built without either.
        try:
            db.session.rollback()
        except OperationalError:
            pass
        logger.error(
            "Database unavailable on %s %s: %s",
            request.method,
            request.path,
            str(error.orig).strip().splitlines()[0] if error.orig else error,
        )
        if wants_json():
            response = jsonify({"error": "unavailable", "message": UNAVAILABLE_MESSAGE})
        else:
            response = app.make_response(UNAVAILABLE_PAGE)
            response.content_type = "text/html; charset=utf-8"
        response.status_code = 503
        response.headers["Retry-After"] = str(BUSY_RETRY_SECONDS)
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        db.session.rollback()
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", _("服务器内部错误，请稍后再试。"))
