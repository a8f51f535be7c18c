"""Configuration read from a class and from ``KB_``-prefixed environment variables."""

import os
import secrets
from pathlib import Path

BODY_MAX_CHARS = 300_000
"""Maximum length of a brief body in characters, as documented in the README."""


class ConfigError(RuntimeError):
    """Raised at start-up when the configuration cannot be used."""


class Config:
    ENV = "production"
    TESTING = False
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_DURATION = 14 * 24 * 3600
    WTF_CSRF_TIME_LIMIT = None
    # Form posts carry a brief of up to BODY_MAX_CHARS characters; at up to four
    # bytes per character in UTF-8 plus URL encoding this stays below 4 MB.
    MAX_CONTENT_LENGTH = 4 * 1024 * 1024
    MAX_FORM_MEMORY_SIZE = 4 * 1024 * 1024
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh_CN", "en")
    KB_BODY_MAX_CHARS = BODY_MAX_CHARS
    KB_PER_PAGE = 20
    # Failed sign-ins allowed per account and per client address within the window.
    KB_LOGIN_MAX_FAILURES_ACCOUNT = 5
    KB_LOGIN_MAX_FAILURES_ADDRESS = 20
    KB_LOGIN_WINDOW_SECONDS = 15 * 60
    # Apply the search outbox in a background thread of each web process, so
    # requests never wait for an index commit. When False, every commit that
    # wrote to the outbox applies it before returning (tests, CLI).
    KB_SEARCH_BACKGROUND = True
    # True when a separate `kb search follow` process keeps this host's index,
    # so web workers neither apply the outbox nor run the background thread.
    KB_SEARCH_FOLLOWER = False
    # Seconds between two looks at the outbox for entries written by other
    # processes and hosts: the longest a new document takes to become
    # searchable on a host other than the one that accepted it.
    KB_SEARCH_POLL_SECONDS = 2
    # Seconds a missing outbox number is awaited before it is taken for a
    # rolled-back transaction (PostgreSQL numbers entries before commit).
    KB_SEARCH_GAP_SECONDS = 3600
    # Anonymous risk reports allowed bank-wide per hour, and per browser session
    # (counted in the signed session cookie, never on the server).
    KB_ANON_REPORTS_PER_HOUR = 30
    KB_ANON_REPORTS_PER_SESSION = 5
    # Receipt code look-ups per browser session and hour, against guessing.
    KB_RECEIPT_LOOKUPS_PER_HOUR = 20
    # Outgoing mail for the daily digest; KB_SMTP_HOST empty means no mail.
    KB_SMTP_HOST = ""
    KB_SMTP_PORT = 25
    KB_SMTP_USERNAME = ""
    KB_SMTP_PASSWORD = ""
    KB_SMTP_STARTTLS = False
    KB_SMTP_SSL = False
    KB_SMTP_TIMEOUT = 30
    KB_MAIL_FROM = "kb@localhost"
    # Comma-separated domains that digest addresses must belong to; empty
    # allows any domain.
    KB_MAIL_DOMAINS = ""
    # Largest course attachment accepted, in megabytes.
    KB_UPLOAD_MAX_MB = 50
    # Experts a new question is sent to, and the further experts each
    # escalation adds.
    KB_QUESTION_EXPERTS = 3
    # Working days (Monday to Friday in Asia/Shanghai, minus KB_HOLIDAYS, plus
    # KB_EXTRA_WORKDAYS) a question may wait for an answer before it goes to
    # the next-best experts.
    KB_QUESTION_ESCALATE_DAYS = 2
    # Comma-separated ISO dates: public holidays, and weekend days worked in
    # exchange for them.
    KB_HOLIDAYS = ""
    KB_EXTRA_WORKDAYS = ""
    # The address pages link to in e-mails, such as https://kb.bank.example
    KB_BASE_URL = "http://127.0.0.1:5000"
    # Seconds a SQLite writer waits for another writer's lock before it fails
    # with "database is locked".
    KB_SQLITE_BUSY_SECONDS = 30
    # Reverse proxies or load balancers in front of the app whose
    # X-Forwarded-For and X-Forwarded-Proto headers are trusted; 0 trusts none.
    KB_PROXY_HOPS = 0


class DevelopmentConfig(Config):
    ENV = "development"


class TestingConfig(Config):
    ENV = "testing"
    TESTING = True
    KB_SEARCH_BACKGROUND = False


CONFIGS = {
    "production": Config,
    "development": DevelopmentConfig,
    "testing": TestingConfig,
}


# Settings that may come from the environment, typed like their defaults.
_ENV_SETTINGS = (
    "KB_ANON_REPORTS_PER_HOUR",
    "KB_ANON_REPORTS_PER_SESSION",
    "KB_RECEIPT_LOOKUPS_PER_HOUR",
    "KB_SMTP_HOST",
    "KB_SMTP_PORT",
    "KB_SMTP_USERNAME",
    "KB_SMTP_PASSWORD",
    "KB_SMTP_STARTTLS",
    "KB_SMTP_SSL",
    "KB_SMTP_TIMEOUT",
    "KB_MAIL_FROM",
    "KB_MAIL_DOMAINS",
    "KB_BASE_URL",
    "KB_UPLOAD_MAX_MB",
    "KB_QUESTION_EXPERTS",
    "KB_QUESTION_ESCALATE_DAYS",
    "KB_HOLIDAYS",
    "KB_EXTRA_WORKDAYS",
    "KB_SQLITE_BUSY_SECONDS",
    "KB_SEARCH_FOLLOWER",
    "KB_SEARCH_POLL_SECONDS",
    "KB_SEARCH_GAP_SECONDS",
    "KB_PROXY_HOPS",
)


def _env_value(name: str, raw: str, default):
    if isinstance(default, bool):
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{name}={raw!r} is invalid; use true or false.")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(
                f"{name}={raw!r} is invalid; use a whole number."
            ) from None
    return raw


# Whole-number settings and the values they may take, inclusive.
_RANGES = {
    "KB_UPLOAD_MAX_MB": (1, 2048),
    "KB_QUESTION_EXPERTS": (1, 50),
    "KB_QUESTION_ESCALATE_DAYS": (1, 60),
    "KB_SQLITE_BUSY_SECONDS": (1, 3600),
    "KB_SEARCH_POLL_SECONDS": (1, 300),
    "KB_SEARCH_GAP_SECONDS": (60, 7 * 24 * 3600),
    "KB_PROXY_HOPS": (0, 5),
}


def _check_ranges(settings: dict) -> None:
    for name, (low, high) in _RANGES.items():
        value = settings[name]
        if not low <= value <= high:
            raise ConfigError(
                f"{name}={value!r} is out of range; use a whole number "
                f"from {low} to {high}."
            )


def build_config(overrides: dict | None = None) -> dict:
    """Return the settings: class defaults, then environment, then ``overrides``."""
    overrides = dict(overrides or {})
    env_name = overrides.pop("ENV", None) or os.environ.get("KB_ENV", "production")
    if env_name not in CONFIGS:
        choices = ", ".join(sorted(CONFIGS))
        raise ConfigError(f"KB_ENV={env_name!r} is invalid; use one of: {choices}.")
    base = CONFIGS[env_name]
    settings = {key: getattr(base, key) for key in dir(base) if key.isupper()}

    instance = overrides.pop("INSTANCE_PATH", None) or os.environ.get(
        "KB_INSTANCE_PATH", "instance"
    )
    instance_path = Path(instance).resolve()
    settings["INSTANCE_PATH"] = str(instance_path)
    settings["BABEL_TRANSLATION_DIRECTORIES"] = str(
        Path(__file__).resolve().parent / "translations"
    )
    # Each host keeps its own index; with several hosts sharing an instance
    # folder over the network, point this at a local disk.
    settings["KB_INDEX_DIR"] = os.environ.get(
        "KB_INDEX_DIR", str(instance_path / "search-index")
    )
    settings["KB_JIEBA_CACHE"] = str(instance_path / "jieba.cache")
    settings["SQLALCHEMY_DATABASE_URI"] = os.environ.get(
        "KB_DATABASE_URL", f"sqlite:///{instance_path / 'kb.sqlite3'}"
    )
    for name in _ENV_SETTINGS:
        if name in os.environ:
            settings[name] = _env_value(name, os.environ[name], settings[name])
    secret = os.environ.get("KB_SECRET_KEY")
    if secret:
        settings["SECRET_KEY"] = secret
    settings.update(overrides)
    _check_ranges(settings)

    if not settings.get("SECRET_KEY"):
        if env_name == "production":
            raise ConfigError(
                "KB_SECRET_KEY is missing. Set it to a long random string, for "
                'example: export KB_SECRET_KEY="$(python3 -c '
                "'import secrets; print(secrets.token_hex(32))')\", or set "
                "KB_ENV=development to run with a key kept in the instance folder."
            )
        settings["SECRET_KEY"] = _instance_secret(instance_path)
    return settings


def _instance_secret(instance_path: Path) -> str:
    """Return a development secret kept in the instance folder, creating it once."""
    instance_path.mkdir(parents=True, exist_ok=True)
    key_file = instance_path / "dev-secret-key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()
