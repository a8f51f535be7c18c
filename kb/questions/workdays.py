"""Working days in Asia/Shanghai for the escalation of unanswered questions.

A working day is Monday to Friday, minus the public holidays in KB_HOLIDAYS,
plus the weekend days in KB_EXTRA_WORKDAYS that are worked in exchange for a
holiday (调休). Both settings are comma-separated ISO dates such as
``2025-10-01,2025-10-02``. An invalid date raises ConfigError naming the
setting, so a typing mistake never silently counts a holiday as a working day.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from kb.config import ConfigError
from kb.timeutil import to_local, to_utc_naive

# Past this many calendar days without a single working day the settings must
# be wrong (a year of holidays); stop instead of looping for ever.
MAX_SCAN_DAYS = 366


def parse_dates(name: str, raw: str) -> frozenset[date]:
    """Parse a comma-separated list of ISO dates from the setting ``name``."""
    days = set()
    for part in (raw or "").split(","):
        text = part.strip()
        if not text:
            continue
        try:
            days.add(date.fromisoformat(text))
        except ValueError:
            raise ConfigError(
                f"{name} contains the invalid date {text[:40]!r}; use "
                "comma-separated ISO dates such as 2025-10-01,2025-10-02."
            ) from None
    return frozenset(days)


@dataclass(frozen=True)
class WorkCalendar:
    holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()

    @classmethod
    def from_config(cls, config) -> "WorkCalendar":
        """Build the calendar from KB_HOLIDAYS and KB_EXTRA_WORKDAYS.

        Raises ConfigError for an invalid date, or for a date listed in both.
        """
        holidays = parse_dates("KB_HOLIDAYS", config.get("KB_HOLIDAYS", ""))
        extra = parse_dates("KB_EXTRA_WORKDAYS", config.get("KB_EXTRA_WORKDAYS", ""))
        both = sorted(holidays & extra)
        if both:
            listed = ", ".join(day.isoformat() for day in both)
            raise ConfigError(
                f"{listed} is listed in both KB_HOLIDAYS and KB_EXTRA_WORKDAYS; "
                "keep each date in one of them."
            )
        return cls(holidays, extra)

    def is_workday(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def add_workdays(self, start: date, count: int) -> date:
        """Return the ``count``-th working day after ``start`` (``start`` itself
        does not count, so ``count`` 0 returns ``start``)."""
        day = start
        remaining = count
        scanned = 0
        while remaining > 0:
            day += timedelta(days=1)
            scanned += 1
            if self.is_workday(day):
                remaining -= 1
                scanned = 0
            elif scanned > MAX_SCAN_DAYS:
                raise ConfigError(
                    f"No working day in the {MAX_SCAN_DAYS} days after "
                    f"{start.isoformat()}; check KB_HOLIDAYS."
                )
        return day

    def due_at(self, start: datetime, count: int) -> datetime:
        """Return when ``count`` working days have passed since ``start``.

        Both are naive UTC as stored. The result is the same Shanghai clock
        time as ``start`` on the ``count``-th working day after its local date.
        For example, a question routed on Friday at 10:00 with ``count`` 2 is
        due on Tuesday at 10:00 when Monday and Tuesday are working days.
        """
        local = to_local(start)
        day = self.add_workdays(local.date(), count)
        return to_utc_naive(datetime.combine(day, local.timetz()))
