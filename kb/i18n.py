"""Locale and time-zone selection and the date filters used by templates."""

from datetime import datetime

from flask import current_app, has_request_context, session
from flask_babel import format_datetime
from flask_login import current_user

from kb.timeutil import to_local


def select_locale() -> str:
    """Return the signed-in user's language, else the one kept in the session.

    Outside a request (command line, background thread) it is the default.
    """
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated:
        if current_user.locale in languages:
            return current_user.locale
    chosen = session.get("locale")
    if chosen in languages:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def local_datetime(value: datetime | None, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """Format a stored naive UTC datetime in Asia/Shanghai time."""
    if value is None:
        return ""
    return format_datetime(to_local(value), fmt, rebase=False)


def local_date(value: datetime | None) -> str:
    return local_datetime(value, "yyyy-MM-dd")
