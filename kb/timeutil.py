"""Time helpers: the database stores naive UTC, people read Asia/Shanghai."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    """Return the current time as a naive UTC datetime, as stored in the database."""
    return datetime.now(UTC).replace(tzinfo=None)


def to_utc_naive(value: datetime) -> datetime:
    """Convert an aware datetime (or a naive one read as Shanghai time) to naive UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_TZ)
    return value.astimezone(UTC).replace(tzinfo=None)


def local_date_to_utc(day: date) -> datetime:
    """Return midnight of ``day`` in Asia/Shanghai as naive UTC."""
    return to_utc_naive(datetime.combine(day, time.min, tzinfo=LOCAL_TZ))


def to_local(value: datetime) -> datetime:
    """Convert a stored naive UTC datetime to an aware Asia/Shanghai datetime."""
    return value.replace(tzinfo=UTC).astimezone(LOCAL_TZ)
