"""Temporal values as text: parsing dates, date-times and durations, formatting them
as FEEL's ``string()`` does, and :func:`to_json_value`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from .values import _BOOLEAN, _CONTEXT, _DATE, _DATETIME, _DT_DURATION, _kind, _LIST, _months, _NUMBER, _split_timedelta, _STRING, _YM_DURATION


# ------------------------------------------------------------ temporal conversions

_DATE_RE = re.compile(r"-?\d{4,}-\d{2}-\d{2}")
_DATETIME_RE = re.compile(
    r"(?P<dt>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)"
    r"(?P<off>Z|[+-]\d{2}:\d{2})?(?:@(?P<zone>[A-Za-z0-9_/+-]+))?"
)
_DURATION_RE = re.compile(
    r"(?P<sign>-)?P(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?"
)


def _parse_date(s: str) -> date | None:
    if not _DATE_RE.fullmatch(s):
        return None
    try:
        return date.fromisoformat(s)
    except ValueError:
        return None


def _parse_datetime(s: str) -> datetime | None:
    m = _DATETIME_RE.fullmatch(s)
    if m is None:
        return None
    text = m["dt"]
    if "." in text:  # Python keeps microseconds only
        head, frac = text.split(".")
        text = f"{head}.{frac[:6].ljust(6, '0')}"
    try:
        value = datetime.fromisoformat(text)
        if m["zone"]:
            if m["off"]:
                return None
            return value.replace(tzinfo=ZoneInfo(m["zone"]))
        if m["off"] and m["off"] != "Z":
            return value.replace(tzinfo=datetime.fromisoformat(f"{text}{m['off']}").tzinfo)
    except (ValueError, KeyError, OSError):
        return None
    return value.replace(tzinfo=timezone.utc)  # "Z" or no offset: UTC


def _parse_duration(s: str) -> timedelta | relativedelta | None:
    m = _DURATION_RE.fullmatch(s)
    if m is None or s.endswith(("P", "T")):
        return None
    sign = -1 if m["sign"] else 1
    ym = m["y"] is not None or m["mo"] is not None
    dt = any(m[g] is not None for g in ("w", "d", "h", "mi", "s"))
    if ym and dt:
        return None  # FEEL has no mixed durations
    try:
        if ym:
            return relativedelta(years=sign * int(m["y"] or 0), months=sign * int(m["mo"] or 0))
        return sign * timedelta(
            weeks=int(m["w"] or 0), days=int(m["d"] or 0), hours=int(m["h"] or 0),
            minutes=int(m["mi"] or 0), seconds=float(m["s"] or 0),
        )
    except OverflowError:
        return None


def _format_number(n: float) -> str:
    if isinstance(n, int):
        return str(n)
    if math.isfinite(n) and n == int(n):
        return str(int(n))
    text = repr(n)
    if "e" in text or "E" in text:
        text = format(n, "f").rstrip("0").rstrip(".")
    return text


def _format_timedelta(v: timedelta) -> str:
    sign, days, hours, minutes, seconds = _split_timedelta(v)
    out = "-P" if sign < 0 else "P"
    if days:
        out += f"{days}D"
    time = ""
    if hours:
        time += f"{hours}H"
    if minutes:
        time += f"{minutes}M"
    if seconds:
        time += f"{_format_number(seconds)}S"
    if time:
        out += "T" + time
    return out if (days or time) else "PT0S"


def _format_relativedelta(v: relativedelta) -> str:
    months = _months(v)
    rest = timedelta(
        days=v.days, hours=v.hours, minutes=v.minutes, seconds=v.seconds,
        microseconds=v.microseconds,
    )
    if not rest:
        years, mon = divmod(abs(months), 12)
        body = (f"{years}Y" if years else "") + (f"{mon}M" if mon else "") or "0M"
        return ("-P" if months < 0 else "P") + body
    if not months:
        return _format_timedelta(rest)
    if (months < 0) != (rest < timedelta(0)):
        raise ValueError(f"cannot write {v!r} as one ISO 8601 duration")
    head = _format_relativedelta(relativedelta(months=months))
    return head + _format_timedelta(rest).lstrip("-")[1:]


def _format_datetime(v: datetime, *, utc: bool) -> str:
    if v.tzinfo is None:
        v = v.replace(tzinfo=timezone.utc)
    if utc:
        v = v.astimezone(timezone.utc)
    text = v.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _to_string(v: Any) -> str | None:
    """FEEL ``string(x)``."""
    if v is None:
        return None
    k = _kind(v)
    if k == _STRING:
        return v
    if k == _BOOLEAN:
        return "true" if v else "false"
    if k == _NUMBER:
        return _format_number(v)
    if k == _DATE:
        return v.isoformat()
    if k == _DATETIME:
        return _format_datetime(v, utc=False)
    if k == _DT_DURATION:
        return _format_timedelta(v)
    if k == _YM_DURATION:
        return _format_relativedelta(v)
    if k == _LIST:
        parts = ("null" if (p := _to_string(e)) is None else _quote(e, p) for e in v)
        return "[" + ", ".join(parts) + "]"
    if k == _CONTEXT:
        items = []
        for key, e in v.items():
            p = _to_string(e)
            items.append(f"{key}:{'null' if p is None else _quote(e, p)}")
        return "{" + ", ".join(items) + "}"
    return str(v)


def _quote(value: Any, text: str) -> str:
    return f'"{text}"' if isinstance(value, str) else text


def to_json_value(v: Any) -> Any:
    """A FEEL result as a JSON-able value (temporal values as ISO 8601 strings)."""
    if v is None or isinstance(v, (bool, str, int)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, datetime):
        return _format_datetime(v, utc=True)
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, timedelta):
        return _format_timedelta(v)
    if isinstance(v, relativedelta):
        return _format_relativedelta(v)
    if isinstance(v, Mapping):
        return {str(k): to_json_value(e) for k, e in v.items()}
    if isinstance(v, (list, tuple)):
        return [to_json_value(e) for e in v]
    raise TypeError(f"cannot convert {type(v).__name__} to a JSON value: {v!r}")
