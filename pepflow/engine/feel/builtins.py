"""The built-in functions of the supported subset, with their argument counts; a
failed call is null, as in Zeebe.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, timezone
from typing import Any

from .temporal import _parse_date, _parse_datetime, _parse_duration, _to_string
from .values import _DATE, _DATETIME, _eq, _kind, _LIST, _LT, _NUM_TYPES, _NUMBER, _ORDERED, _STRING


# ------------------------------------------------------------------ built-ins

_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _fn_not(x: Any) -> Any:
    return (not x) if type(x) is bool else None


def _fn_string(x: Any) -> Any:
    return _to_string(x)


def _fn_number(s: Any) -> Any:
    if type(s) is not str or not _NUMBER_RE.fullmatch(s):
        return None
    if re.fullmatch(r"[+-]?\d+", s):
        return int(s)
    value = float(s)
    return value if math.isfinite(value) else None


def _str_fn(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a string function: any non-string argument gives null."""

    def call(*args: Any) -> Any:
        if all(isinstance(a, str) for a in args):
            return fn(*args)
        return None

    return call


def _fn_substring(s: Any, start: Any, length: Any = ...) -> Any:
    if not isinstance(s, str) or _kind(start) != _NUMBER:
        return None
    start = int(start)
    begin = start - 1 if start > 0 else len(s) + start
    if start == 0 or begin < 0:
        return None
    if length is ...:
        return s[begin:]
    if _kind(length) != _NUMBER or length < 0:
        return None
    return s[begin : begin + int(length)]


def _fn_list_contains(lst: Any, item: Any) -> Any:
    if _kind(lst) != _LIST:
        return None
    return any(_eq(e, item) is True for e in lst)


def _fn_count(lst: Any) -> Any:
    return len(lst) if _kind(lst) == _LIST else None


def _items(args: tuple[Any, ...]) -> Any:
    if len(args) == 1 and _kind(args[0]) == _LIST:
        return list(args[0])
    if len(args) == 1 and args[0] is None:
        return None
    return list(args)


def _fn_sum(*args: Any) -> Any:
    items = _items(args)
    if not items or any(type(e) not in _NUM_TYPES for e in items):
        return None
    return sum(items)


def _extreme(pick_first: Callable[[Any, Any], bool | None]) -> Callable[..., Any]:
    def fn(*args: Any) -> Any:
        items = _items(args)
        if not items:
            return None
        best = items[0]
        for e in items[1:]:
            r = pick_first(e, best)
            if r is None:
                return None
            if r:
                best = e
        if len(items) == 1 and (best is None or _kind(best) not in _ORDERED):
            return None
        return best

    return fn


def _fn_date(*args: Any) -> Any:
    if len(args) == 3:
        if not all(type(a) is int or (type(a) is float and a == int(a)) for a in args):
            return None
        try:
            return date(*(int(a) for a in args))
        except ValueError:
            return None
    (x,) = args
    k = _kind(x)
    if k == _STRING:
        return _parse_date(x)
    if k == _DATETIME:
        return x.date()
    if k == _DATE:
        return x
    return None


def _fn_date_and_time(x: Any) -> Any:
    k = _kind(x)
    if k == _STRING:
        return _parse_datetime(x)
    if k == _DATETIME:
        return x if x.tzinfo is not None else x.replace(tzinfo=timezone.utc)
    return None


def _fn_duration(x: Any) -> Any:
    return _parse_duration(x) if isinstance(x, str) else None


# name -> (implementation, min args, max args). ``now``, ``today`` and ``is defined``
# are compiled specially.
_FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int]] = {
    "not": (_fn_not, 1, 1),
    "string": (_fn_string, 1, 1),
    "number": (_fn_number, 1, 1),
    "string length": (_str_fn(len), 1, 1),
    "upper case": (_str_fn(str.upper), 1, 1),
    "lower case": (_str_fn(str.lower), 1, 1),
    "contains": (_str_fn(lambda s, sub: sub in s), 2, 2),
    "starts with": (_str_fn(lambda s, p: s.startswith(p)), 2, 2),
    "ends with": (_str_fn(lambda s, p: s.endswith(p)), 2, 2),
    "substring": (_fn_substring, 2, 3),
    "list contains": (_fn_list_contains, 2, 2),
    "count": (_fn_count, 1, 1),
    "sum": (_fn_sum, 1, 255),
    "min": (_extreme(_LT), 1, 255),
    "max": (_extreme(lambda a, b: _LT(b, a)), 1, 255),
    "date": (_fn_date, 1, 3),
    "date and time": (_fn_date_and_time, 1, 1),
    "duration": (_fn_duration, 1, 1),
}
_SPECIAL_ARITY = {"now": 0, "today": 0, "is defined": 1}
_TEMPORAL_CONSTRUCTORS = frozenset({"date", "date and time", "duration"})
