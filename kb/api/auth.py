"""API authentication: the browser session or ``Authorization: Bearer TOKEN``."""

from functools import wraps

from flask import g, jsonify, request
from flask_login import current_user

from kb.auth.services import user_for_token
from kb.extensions import db


def api_login_required(view):
    """Return 401 in JSON unless a session or a bearer token identifies the user."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            user = (
                user_for_token(db.session, token.strip())
                if scheme.lower() == "bearer"
                else None
            )
            if user is None:
                return _unauthorized("The bearer token is invalid or revoked.")
            db.session.commit()
            g.api_user = user
        elif current_user.is_authenticated:
            g.api_user = current_user._get_current_object()
        else:
            return _unauthorized("Sign in or send Authorization: Bearer TOKEN.")
        return view(*args, **kwargs)

    return wrapper


def _unauthorized(message: str):
    response = jsonify(error="unauthorized", message=message)
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="kb"'
    return response
