"""Accounts: password hashing, sign-in throttling, user and token management."""

import hashlib
import logging
import re
from datetime import timedelta
from urllib.parse import unquote, urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session, object_session

from kb.auth.models import ROLES, ApiToken, Department, LoginFailure, User
from kb.dbutil import get_or_create
from kb.errors import Conflict, NotFound, RateLimited, ValidationError
from kb.extensions import db
from kb.timeutil import utcnow

logger = logging.getLogger(__name__)

_hasher = PasswordHasher()
# Verified against when the username is unknown, so both cases cost the same.
_DUMMY_HASH = _hasher.hash("kb-dummy-password")

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{2,64}$")
MIN_PASSWORD_LENGTH = 10
# Lengths of the Department.name, User.display_name and ApiToken.name columns.
DEPARTMENT_NAME_MAX = 100
DISPLAY_NAME_MAX = 100
TOKEN_NAME_MAX = 100


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User | None, password: str) -> bool:
    stored = user.password_hash if user is not None else _DUMMY_HASH
    try:
        ok = _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
    return ok and user is not None


def load_user_from_id(login_id: str) -> User | None:
    """Load the user of a session or remember-me id ``"<user id>:<epoch>"``."""
    user_id, _, epoch = login_id.partition(":")
    if not user_id.isdigit() or not epoch.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.session_epoch != int(epoch) or not user.active:
        return None
    return user


def check_login_allowed(session: Session, username: str, address: str, config) -> None:
    """Raise RateLimited while the account or the address has too many failures."""
    window = timedelta(seconds=config["KB_LOGIN_WINDOW_SECONDS"])
    since = utcnow() - window
    limits = (
        (
            LoginFailure.username,
            username.lower(),
            config["KB_LOGIN_MAX_FAILURES_ACCOUNT"],
        ),
        (LoginFailure.address, address, config["KB_LOGIN_MAX_FAILURES_ADDRESS"]),
    )
    _lock_login_keys(session, [f"account:{username.lower()}", f"address:{address}"])
    for column, value, limit in limits:
        count, oldest = session.execute(
            select(func.count(), func.min(LoginFailure.created_at)).where(
                column == value, LoginFailure.created_at >= since
            )
        ).one()
        if count >= limit:
            wait = int((oldest + window - utcnow()).total_seconds()) + 1
            minutes = max(1, -(-wait // 60))
            raise RateLimited(
                _l("登录失败次数过多，请在 %(minutes)s 分钟后再试。", minutes=minutes),
                retry_after=wait,
            )


def _lock_login_keys(session: Session, keys: list[str]) -> None:
    """Serialise sign-ins per account and per address until the transaction ends.

    On PostgreSQL this takes a transaction-level advisory lock on a stable
    64-bit hash of each key, so parallel guesses count each other's failures.
    SQLite needs nothing here, because writing requests begin with BEGIN
    IMMEDIATE.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    # Sorted, so two sign-ins never take the same two locks in opposite order.
    for key in sorted(keys):
        digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
        session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"),
            {"key": int.from_bytes(digest, "big", signed=True)},
        )


def authenticate(
    session: Session, username: str, password: str, address: str, config
) -> User:
    """Return the user for valid credentials; record and raise on failure.

    Raises RateLimited before checking the password when the account or the
    client address has failed too often, and ValidationError for bad credentials.
    """
    begin_sign_in(session, username, address, config)
    user = check_credentials(session, username, password)
    return record_sign_in(session, username, user, password)


def begin_sign_in(session: Session, username: str, address: str, config) -> None:
    """Count a sign-in attempt as a failure until it succeeds.

    Raises RateLimited when the account or the address has failed too often.
    The count and the new row are written under one lock, so attempts made in
    parallel count each other. The caller commits before the password check,
    which costs an argon2 hash and must not hold SQLite's write lock.
    """
    username = username.strip()
    check_login_allowed(session, username, address, config)
    session.add(LoginFailure(username=username.lower()[:64], address=address[:64]))
    session.flush()


def check_credentials(session: Session, username: str, password: str) -> User | None:
    """Return the active user whose password is ``password``, or None; only reads."""
    user = session.scalar(
        select(User).where(func.lower(User.username) == username.strip().lower())
    )
    if not verify_password(user, password) or not user.active:
        return None
    return user


def record_sign_in(
    session: Session, username: str, user: User | None, password: str
) -> User:
    """Record the outcome of ``check_credentials``; raise ValidationError if None.

    A failure stays counted by ``begin_sign_in``. A success clears the
    account's failures and upgrades an outdated password hash.
    """
    username = username.strip()
    if user is None or not user.active:
        logger.info("Failed sign-in for account %r", username[:64])
        raise ValidationError(_l("用户名或密码不正确。"), field="password")
    session.execute(
        delete(LoginFailure).where(LoginFailure.username == username.lower()[:64])
    )
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def is_safe_next(target: str | None) -> bool:
    """Tell whether ``target`` is a path on this site, whatever its spelling."""
    if not target:
        return False
    # Judge every spelling a browser or proxy might decode the target into.
    seen = set()
    while target not in seen:
        seen.add(target)
        if any(ch in target for ch in "\\\r\n\t") or any(ord(ch) < 32 for ch in target):
            return False
        if not target.startswith("/") or target.startswith("//"):
            return False
        parts = urlsplit(target)
        if parts.scheme or parts.netloc:
            return False
        target = unquote(target)
    return True


def get_or_create_department(session: Session, name: str) -> Department:
    name = name.strip()
    if not name:
        raise ValidationError("部门不能为空。", field="department")
    if len(name) > DEPARTMENT_NAME_MAX:
        raise ValidationError(
            f"部门名称最长 {DEPARTMENT_NAME_MAX} 个字符，当前 {len(name)} 个。",
            field="department",
        )
    return get_or_create(session, Department, name=name)


EMAIL_MAX_LENGTH = 254


_EMAIL_LOCAL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+$")
_EMAIL_DOMAIN = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def _check_email(email: str) -> str:
    """Return ``email`` stripped; raise ValidationError unless it is acceptable.

    The shape is checked (an ASCII local part, "@", a dotted domain, at most
    EMAIL_MAX_LENGTH characters). When KB_MAIL_DOMAINS lists domains, the
    address must be in one of them, so digests of internal posts cannot be
    sent outside the bank. The SMTP server rejects other invalid addresses.
    """
    email = (email or "").strip()
    if not email:
        return ""
    local, _at, domain = email.partition("@")
    if (
        email.count("@") != 1
        or not _EMAIL_LOCAL.match(local)
        or not _EMAIL_DOMAIN.match(domain)
        or len(email) > EMAIL_MAX_LENGTH
    ):
        raise ValidationError(
            str(
                _l(
                    "邮箱地址 %(value)s 无效：需为 name@example.com 的形式，"
                    "不含空格，最长 %(max)s 个字符。",
                    value=repr(email[:80]),
                    max=EMAIL_MAX_LENGTH,
                )
            ),
            field="email",
        )
    allowed = _allowed_mail_domains()
    if allowed and domain.lower() not in allowed:
        raise ValidationError(
            str(
                _l(
                    "邮箱地址 %(value)s 不在允许的域名内（%(domains)s）。",
                    value=repr(email[:80]),
                    domains="、".join(sorted(allowed)),
                )
            ),
            field="email",
        )
    return email


def _allowed_mail_domains() -> set[str]:
    if not has_app_context():
        return set()
    raw = current_app.config.get("KB_MAIL_DOMAINS", "")
    return {part.strip().lower() for part in raw.split(",") if part.strip()}


def set_email(user: User, email: str) -> str:
    """Store ``email`` (empty clears it) after checking its shape; return it."""
    user.email = _check_email(email)
    return user.email


def create_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    department: str,
    display_name: str | None = None,
    email: str = "",
) -> User:
    """Create an account; raise ValidationError or Conflict naming the field.

    ``email`` is optional; the daily digest goes to it when given.
    """
    username = username.strip()
    if not USERNAME_RE.match(username):
        raise ValidationError(
            f"用户名 {username!r} 无效：需为 2–64 位字母、数字、点、横线或下划线。",
            field="username",
        )
    if role not in ROLES:
        raise ValidationError(
            f"角色 {role!r} 无效，可选：{', '.join(ROLES)}。", field="role"
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符。", field="password"
        )
    display_name = (display_name or "").strip() or username
    if len(display_name) > DISPLAY_NAME_MAX:
        raise ValidationError(
            f"显示名称最长 {DISPLAY_NAME_MAX} 个字符，当前 {len(display_name)} 个。",
            field="display_name",
        )
    email = _check_email(email)
    taken = session.scalar(
        select(User.id).where(func.lower(User.username) == username.lower())
    )
    if taken is not None:
        raise Conflict(f"用户名 {username} 已被使用。", field="username")
    user = User(
        username=username,
        display_name=display_name,
        password_hash=hash_password(password),
        role=role,
        department=get_or_create_department(session, department),
        email=email,
    )
    session.add(user)
    session.flush()
    logger.info("Created user %s with role %s", user.id, role)
    return user


def get_user_by_name(session: Session, username: str) -> User:
    user = session.scalar(
        select(User).where(func.lower(User.username) == username.lower())
    )
    if user is None:
        raise NotFound(f"用户 {username} 不存在。", field="username")
    return user


def create_token(session: Session, user: User, name: str) -> str:
    """Create an API token for ``user`` and return it; only its digest is stored."""
    if len(name) > TOKEN_NAME_MAX:
        raise ValidationError(
            f"令牌说明最长 {TOKEN_NAME_MAX} 个字符，当前 {len(name)} 个。",
            field="name",
        )
    token = ApiToken.generate()
    session.add(
        ApiToken(user=user, name=name or "api", token_hash=ApiToken.digest(token))
    )
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    record = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == ApiToken.digest(token))
    )
    if record is None or not record.user.active:
        return None
    record.last_used_at = utcnow()
    return record.user


def sign_out_everywhere(user: User) -> None:
    """Invalidate every session and remember-me cookie of ``user``.

    One UPDATE adds to the stored epoch, so two sign-outs at once both count.
    """
    session = object_session(user)
    session.execute(
        update(User)
        .where(User.id == user.id)
        .values(session_epoch=User.session_epoch + 1)
        .execution_options(synchronize_session=False)
    )
    session.refresh(user, ["session_epoch"])
