"""Dates as people in England write them.

A person (a CSV exported from Excel, the command line, a form) may write 3 September
2026 as ``2026-09-03`` (ISO) or ``03/09/2026`` / ``3/9/2026`` (day first, as England
writes it). Anything else is refused with a message that names the formats; a
day-first date is never read month-first, and a two-digit year is refused rather than
guessed.
"""

from __future__ import annotations

import re
from datetime import date

FORMATS = "YYYY-MM-DD (2026-09-03) or DD/MM/YYYY (03/09/2026)"
_DAY_FIRST = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


class InvalidDate(ValueError):
    pass


def parse_day(text: str, what: str = "date") -> date:
    """Read ``text`` as a date, or raise :class:`InvalidDate` saying what is accepted."""
    value = (text or "").strip()
    match = _ISO.match(value)
    if match:
        year, month, day = (int(g) for g in match.groups())
    else:
        match = _DAY_FIRST.match(value)
        if not match:
            raise InvalidDate(f"{what} {text!r} is not a date: write it as {FORMATS}")
        day, month, year = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise InvalidDate(f"{what} {text!r} is not a real date ({exc}); write it as {FORMATS}") from None
