"""FEEL values at run time: their kinds, equality and ordering (null for mixed types),
arithmetic on numbers, strings, temporal values and durations, and ``v.key`` paths.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta


# ------------------------------------------------------------------- value helpers

_NUM_TYPES = (int, float)

# FEEL type names, used to reject mixed-type operations.
_NUMBER, _STRING, _BOOLEAN, _DATE, _DATETIME, _DT_DURATION, _YM_DURATION = (
    "number", "string", "boolean", "date", "date and time",
    "days and time duration", "years and months duration",
)
_LIST, _CONTEXT, _OTHER = "list", "context", "other"

_KIND_BY_TYPE: dict[type, str] = {
    bool: _BOOLEAN, int: _NUMBER, float: _NUMBER, str: _STRING, date: _DATE,
    datetime: _DATETIME, timedelta: _DT_DURATION, relativedelta: _YM_DURATION,
    list: _LIST, tuple: _LIST, dict: _CONTEXT,
}


def _kind(v: Any) -> str:
    k = _KIND_BY_TYPE.get(type(v))
    if k is not None:
        return k
    if isinstance(v, bool):
        return _BOOLEAN
    for t in (datetime, date, timedelta, relativedelta, int, float, str):  # subclasses
        if isinstance(v, t):
            return _KIND_BY_TYPE[t]
    if isinstance(v, Mapping):
        return _CONTEXT
    if isinstance(v, (list, tuple)):
        return _LIST
    return _OTHER


def _months(d: relativedelta) -> int:
    return d.years * 12 + d.months


def _eq(a: Any, b: Any) -> bool | None:
    """FEEL ``=``: null equals only null; different types give null."""
    if a is None or b is None:
        return a is None and b is None
    ta, tb = type(a), type(b)
    if ta in _NUM_TYPES and tb in _NUM_TYPES or ta is str and tb is str:
        return a == b
    ka, kb = _kind(a), _kind(b)
    if ka != kb:
        return None
    if ka == _LIST:
        if len(a) != len(b):
            return False
        results = [_eq(x, y) for x, y in zip(a, b)]
        return False if False in results else (None if None in results else True)
    if ka == _CONTEXT:
        if set(a) != set(b):
            return False
        results = [_eq(a[k], b[k]) for k in a]
        return False if False in results else (None if None in results else True)
    if ka == _YM_DURATION:
        return _months(a) == _months(b)
    try:
        return bool(a == b)
    except TypeError:
        return None


def _ne(a: Any, b: Any) -> bool | None:
    r = _eq(a, b)
    return None if r is None else not r


_ORDERED = frozenset({_NUMBER, _STRING, _DATE, _DATETIME, _DT_DURATION, _YM_DURATION})


def _ordering(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool | None]:
    def compare(a: Any, b: Any) -> bool | None:
        ta, tb = type(a), type(b)
        if ta in _NUM_TYPES and tb in _NUM_TYPES or ta is str and tb is str:
            return op(a, b)
        if a is None or b is None:
            return None
        ka = _kind(a)
        if ka != _kind(b) or ka not in _ORDERED:
            return None
        if ka == _YM_DURATION:
            return op(_months(a), _months(b))
        try:
            return op(a, b)
        except TypeError:  # e.g. naive vs aware datetimes
            return None

    return compare


def _lt(a: Any, b: Any) -> bool:
    return a < b


def _le(a: Any, b: Any) -> bool:
    return a <= b


def _gt(a: Any, b: Any) -> bool:
    return a > b


def _ge(a: Any, b: Any) -> bool:
    return a >= b


_COMPARISONS: dict[str, Callable[[Any, Any], bool | None]] = {
    "=": _eq, "!=": _ne, "<": _ordering(_lt), "<=": _ordering(_le),
    ">": _ordering(_gt), ">=": _ordering(_ge),
}
_LT, _LE = _COMPARISONS["<"], _COMPARISONS["<="]

_TEMPORAL = frozenset({_DATE, _DATETIME})
_DURATIONS = frozenset({_DT_DURATION, _YM_DURATION})


def _add(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta in _NUM_TYPES and tb in _NUM_TYPES or ta is str and tb is str:
        return a + b
    if a is None or b is None:
        return None
    ka, kb = _kind(a), _kind(b)
    try:
        if ka in _TEMPORAL and kb in _DURATIONS:
            return a + b
        if ka in _DURATIONS and kb in _TEMPORAL:
            return b + a
        if ka == kb and ka in _DURATIONS:
            return a + b
    except (OverflowError, ValueError, TypeError):
        return None
    return None


def _sub(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta in _NUM_TYPES and tb in _NUM_TYPES:
        return a - b
    if a is None or b is None:
        return None
    ka, kb = _kind(a), _kind(b)
    try:
        if ka in _TEMPORAL and (kb in _DURATIONS or kb == ka):
            return a - b
        if ka == kb and ka in _DURATIONS:
            return a - b
    except (OverflowError, ValueError, TypeError):
        return None
    return None


def _mul(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta in _NUM_TYPES and tb in _NUM_TYPES:
        return a * b
    if a is None or b is None:
        return None
    ka, kb = _kind(a), _kind(b)
    try:
        if ka == _DT_DURATION and kb == _NUMBER:
            return a * b
        if ka == _NUMBER and kb == _DT_DURATION:
            return b * a
        if ka == _YM_DURATION and kb == _NUMBER:
            return relativedelta(months=int(_months(a) * b))
        if ka == _NUMBER and kb == _YM_DURATION:
            return relativedelta(months=int(_months(b) * a))
    except (OverflowError, ValueError, TypeError):
        return None
    return None


def _div(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta in _NUM_TYPES and tb in _NUM_TYPES:
        if b == 0:
            return None
        if ta is int and tb is int and a % b == 0:
            return a // b
        return a / b
    if a is None or b is None:
        return None
    ka, kb = _kind(a), _kind(b)
    try:
        if ka == _DT_DURATION and kb == _NUMBER:
            return a / b if b != 0 else None
        if ka == kb == _DT_DURATION:
            return a / b if b else None
        if ka == _YM_DURATION and kb == _NUMBER:
            return relativedelta(months=int(_months(a) / b)) if b != 0 else None
        if ka == kb == _YM_DURATION:
            return _months(a) / _months(b) if _months(b) else None
    except (OverflowError, ValueError, TypeError, ZeroDivisionError):
        return None
    return None


def _pow(a: Any, b: Any) -> Any:
    if type(a) in _NUM_TYPES and type(b) in _NUM_TYPES:
        if type(b) is int and abs(b) > 1024:
            a = float(a)  # no unbounded big-int arithmetic
        try:
            r = a**b
        except (OverflowError, ZeroDivisionError):
            return None
        return r if isinstance(r, _NUM_TYPES) else None  # negative ** fraction is complex
    return None


def _neg(a: Any) -> Any:
    if type(a) in _NUM_TYPES:
        return -a
    k = _kind(a)
    if k == _DT_DURATION or k == _YM_DURATION:
        return -a
    return None


def _split_timedelta(v: timedelta) -> tuple[int, int, int, int, float]:
    """(sign, days, hours, minutes, seconds) of a timedelta's absolute value."""
    sign = -1 if v < timedelta(0) else 1
    v = abs(v)
    hours, rest = divmod(v.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    secs: float = seconds + v.microseconds / 1_000_000 if v.microseconds else seconds
    return sign, v.days, hours, minutes, secs


_PROPERTIES: dict[str, dict[str, Callable[[Any], Any]]] = {
    _DATE: {
        "year": lambda v: v.year, "month": lambda v: v.month, "day": lambda v: v.day,
        "weekday": lambda v: v.isoweekday(),
    },
    _DATETIME: {
        "year": lambda v: v.year, "month": lambda v: v.month, "day": lambda v: v.day,
        "weekday": lambda v: v.isoweekday(), "hour": lambda v: v.hour,
        "minute": lambda v: v.minute, "second": lambda v: v.second,
    },
    _DT_DURATION: {
        "days": lambda v: _split_timedelta(v)[1],
        "hours": lambda v: _split_timedelta(v)[2],
        "minutes": lambda v: _split_timedelta(v)[3],
        "seconds": lambda v: _split_timedelta(v)[4],
    },
    _YM_DURATION: {"years": lambda v: v.years, "months": lambda v: v.months},
}


def _member(v: Any, key: str) -> Any:
    """``v.key``: context entry, temporal property, or projection over a list."""
    if type(v) is dict:
        return v.get(key)
    if v is None:
        return None
    k = _kind(v)
    if k == _CONTEXT:
        return v.get(key)
    if k == _LIST:
        return [_member(e, key) for e in v]
    prop = _PROPERTIES.get(k, {}).get(key)
    return None if prop is None else prop(v)
