"""England's clock on process variables and records: instants are stored in UTC and
read as the wall-clock time and date in England (Europe/London, summer time included)."""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


def at_local(day: date, hour: int = 9, minute: int = 0) -> datetime:
    """A wall-clock time in England on ``day``, as an aware UTC instant."""
    return datetime.combine(day, time(hour, minute), LONDON).astimezone(timezone.utc)


def iso(instant: datetime) -> str:
    return instant.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def parse_instant(value: str | datetime) -> datetime:
    """ISO date-time from a variable; a time without offset is England local time (what
    a person types into a form)."""
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        if len(text) == 10:  # a bare date: the working day starts at 09:00
            return at_local(date.fromisoformat(text))
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=LONDON)
    return parsed.astimezone(timezone.utc)


def local_date(instant: datetime) -> date:
    return instant.astimezone(LONDON).date()
