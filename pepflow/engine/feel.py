"""A FEEL expression evaluator for the subset of FEEL that our Zeebe diagrams use.

Camunda 8 (Zeebe) writes expressions in FEEL (``=expr``). No maintained Python FEEL
library covers what our diagrams need: ``bkflow-feel`` lacks ``if then else``, ``in``
and ``duration()``, and raises on a missing variable where Zeebe gives ``null``. So the
engine compiles FEEL itself: a Lark LALR grammar (built once) parses the text, and the
tree is compiled once into nested Python closures, so evaluating is a few function
calls. :func:`compile_feel` is cached.

Supported (with Zeebe's null-friendly semantics: a missing variable, a missing context
key, a path on a non-context value, a type mismatch or a failed function call give
``null``, never a Python exception):

* names and paths (``a.b.c``; a path on a list maps over it, as in Zeebe), literals
  (numbers, strings with ``\\" \\\\ \\n \\r \\t \\uXXXX`` escapes, ``true``, ``false``,
  ``null``, lists, contexts ``{a: 1, "b c": 2}``, temporal literals ``@"P3D"``),
  comments ``//`` and ``/* */``;
* comparisons ``= != < <= > >=`` and ``x between a and b``; ``and``/``or`` with
  three-valued logic; ``+ - * / **`` and unary minus on numbers, string concatenation,
  date/date-time plus/minus duration, differences of dates/date-times, duration
  arithmetic; division by zero gives ``null``;
* ``if c then a else b``; ``x in [..]``, ``x in someList``, ``x in (1..5)`` /
  ``[1..5]`` / ``[1..5)`` / ``(1..5]``;
* functions ``not``, ``is defined``, ``string``, ``number``, ``string length``,
  ``upper case``, ``lower case``, ``contains``, ``starts with``, ``ends with``,
  ``substring``, ``list contains``, ``count``, ``sum``, ``min``, ``max``, ``date``,
  ``date and time``, ``duration``, ``now``, ``today``;
* properties ``year month day weekday`` (dates), plus ``hour minute second``
  (date-times), ``years months days hours minutes seconds`` (durations).

Value types: number -> ``int``/``float``, date -> ``datetime.date``, date and time ->
aware ``datetime.datetime``, days-time duration -> ``datetime.timedelta``, years-months
duration -> ``dateutil.relativedelta.relativedelta``. Strings are never converted to
temporal values implicitly (as in FEEL): call ``date(x)`` / ``date and time(x)``.

Everything else -- ``for``/``some``/``every``, filters ``l[...]``, function
definitions, unary tests, ``instance of``, named arguments, other built-in functions --
is rejected by :func:`compile_feel` with a :class:`FeelError` naming the construct, so
an unsupported diagram fails loudly instead of computing a wrong value. Known
differences from Zeebe: decimals are binary floats (``0.1 + 0.2 != 0.3``) and there is
no ``time`` type.
"""

from __future__ import annotations

import copy
import functools
import math
import re
from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

__all__ = ["FeelError", "FeelExpression", "compile_feel", "to_json_value"]


class FeelError(ValueError):
    """A FEEL expression cannot be compiled or evaluated; the message quotes it."""

    def __init__(self, source: str, detail: str) -> None:
        super().__init__(f"FEEL expression `{source}`: {detail}")
        self.source = source
        self.detail = detail


# An evaluator takes the variables and the injected "now" and returns a FEEL value.
Evaluator = Callable[[Mapping[str, Any], "datetime | None"], Any]


@dataclass(frozen=True, slots=True)
class FeelExpression:
    """A compiled FEEL expression."""

    source: str
    names: frozenset[str]
    _fn: Evaluator = field(repr=False, compare=False)

    def evaluate(self, context: Mapping[str, Any], *, now: datetime | None = None) -> Any:
        """Evaluate against ``context``; ``now`` is the engine clock's aware instant."""
        try:
            return self._fn(context, now)
        except FeelError:
            raise
        except Exception as exc:  # a bug in this module must not look like a value
            raise FeelError(self.source, f"evaluation failed: {exc!r}") from exc


# --------------------------------------------------------------------------- grammar

# Multi-word names of FEEL built-in functions (supported or not), tokenised as one
# name so that e.g. the ``and`` in ``date and time(`` is not the boolean operator.
_MULTI_WORD_FUNCTIONS = (
    "years and months duration", "date and time", "string length", "upper case",
    "lower case", "substring before", "substring after", "starts with", "ends with",
    "string join", "list contains", "insert before", "index of", "distinct values",
    "duplicate values", "get value", "get entries", "put all", "context put",
    "context merge", "is defined", "get or else", "day of week", "day of year",
    "week of year", "month of year", "last day of month", "round up", "round down",
    "round half up", "round half down", "random number", "is empty", "is blank",
    "to base64", "from json", "to json",
)
_FUNC_NAME_RE = "|".join(
    r"\s+".join(name.split()) for name in sorted(_MULTI_WORD_FUNCTIONS, key=len, reverse=True)
)

_GRAMMAR = r"""
?start: expr

?expr: disjunction
     | "if" expr "then" expr "else" expr          -> if_expr

?disjunction: conjunction
            | disjunction "or" conjunction        -> or_
?conjunction: comparison
            | conjunction "and" comparison        -> and_
?comparison: additive
           | additive COMPARE additive            -> compare
           | additive "between" additive "and" additive -> between
           | additive "in" in_target              -> in_
?in_target: additive
          | "[" expr ".." expr "]"                -> range_cc
          | "[" expr ".." expr ")"                -> range_co
          | "(" expr ".." expr "]"                -> range_oc
          | "(" expr ".." expr ")"                -> range_oo
?additive: multiplicative
         | additive "+" multiplicative            -> add
         | additive "-" multiplicative            -> sub
?multiplicative: unary
               | multiplicative "*" unary         -> mul
               | multiplicative "/" unary         -> div
?unary: power
      | "-" unary                                 -> neg
?power: postfix
      | postfix "**" exponent                     -> pow
?exponent: postfix                                // a ** b ** c is not accepted
         | "-" postfix                            -> neg
?postfix: primary
        | postfix "." NAME                        -> path
        | postfix "[" expr "]"                    -> filter
?primary: NUMBER                                  -> number
        | STRING                                  -> string
        | "@" STRING                              -> temporal
        | "true"                                  -> true
        | "false"                                 -> false
        | "null"                                  -> null
        | NAME                                    -> var
        | NAME "(" [args] ")"                     -> call
        | FUNC_NAME "(" [args] ")"                -> call
        | "(" expr ")"
        | "[" [expr ("," expr)*] "]"              -> list
        | "{" [entry ("," entry)*] "}"            -> context
args: expr ("," expr)*
entry: (NAME | STRING) ":" expr

COMPARE: "!=" | "<=" | ">=" | "=" | "<" | ">"
FUNC_NAME.2: /(?:FUNC_NAMES)(?=\s*\()/
NAME: /[^\W\d]\w*/
NUMBER: /\d+(\.\d+)?/ | /\.\d+/
STRING: /"(?:[^"\\]|\\.)*"/s
COMMENT.3: /\/\/[^\n]*/ | /\/\*(.|\n)*?\*\//
%ignore /\s+/
%ignore COMMENT
""".replace("FUNC_NAMES", _FUNC_NAME_RE)


@functools.cache
def _parser() -> Lark:
    return Lark(_GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=False)


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


def _split_timedelta(v: timedelta) -> tuple[int, int, int, int, float]:
    """(sign, days, hours, minutes, seconds) of a timedelta's absolute value."""
    sign = -1 if v < timedelta(0) else 1
    v = abs(v)
    hours, rest = divmod(v.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    secs: float = seconds + v.microseconds / 1_000_000 if v.microseconds else seconds
    return sign, v.days, hours, minutes, secs


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


# ------------------------------------------------------------------ compiler

_NO_CONST = object()
_MISSING = object()


@dataclass(slots=True)
class _Node:
    fn: Evaluator
    names: frozenset[str]
    const: Any = _NO_CONST
    path: tuple[str, ...] | None = None  # for ``is defined``: variable root + keys


def _const(value: Any) -> _Node:
    if isinstance(value, (list, dict)):
        return _Node(lambda ctx, now, _v=value: copy.deepcopy(_v), frozenset(), value)
    return _Node(lambda ctx, now: value, frozenset(), value)


_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t", "'": "'", "/": "/"}


def _unescape(token: str) -> str:
    body = token[1:-1]

    def repl(m: re.Match[str]) -> str:
        esc = m.group(1)
        if esc[0] == "u":
            return chr(int(esc[1:], 16))
        return _ESCAPES.get(esc, "\\" + esc)  # unknown escapes (e.g. regex \d) stay

    text = re.sub(r"\\(u[0-9a-fA-F]{4}|.)", repl, body, flags=re.S)
    if any("\ud800" <= c <= "\udfff" for c in text):  # join surrogate pairs
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


_UNSUPPORTED_KEYWORDS = (
    (re.compile(r"\bfor\b"), "'for' expressions"),
    (re.compile(r"\b(some|every)\b"), "quantified expressions ('some'/'every')"),
    (re.compile(r"\bsatisfies\b"), "quantified expressions ('some'/'every')"),
    (re.compile(r"\bfunction\s*\("), "function definitions"),
    (re.compile(r"\binstance\s+of\b"), "'instance of'"),
    (re.compile(r"\bin\s*(<|>|!=|=|not\s*\()"), "unary tests after 'in'"),
    (re.compile(r"\bin\s*\([^()]*,"), "unary test lists after 'in'"),
    (re.compile(r"\w\s*\(\s*\w+(\s+\w+)*\s*:"), "named function arguments"),
)


class _Compiler:
    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, detail: str) -> FeelError:
        return FeelError(self.source, detail)

    def compile(self, tree: Tree | Token) -> _Node:
        if isinstance(tree, Token):  # a lone terminal, e.g. ``?start`` inlined a NAME
            raise self.error(f"unexpected {tree.type}")  # pragma: no cover
        method = getattr(self, f"c_{tree.data}", None)
        if method is None:  # pragma: no cover - grammar and compiler out of step
            raise self.error(f"unsupported construct {tree.data!r}")
        return method(*tree.children)

    # -- literals
    def c_number(self, tok: Token) -> _Node:
        text = str(tok)
        return _const(float(text) if "." in text else int(text))

    def c_string(self, tok: Token) -> _Node:
        return _const(_unescape(str(tok)))

    def c_temporal(self, tok: Token) -> _Node:
        text = _unescape(str(tok))
        if text.startswith(("P", "-P")):
            value: Any = _parse_duration(text)
        elif "T" in text:
            value = _parse_datetime(text)
        else:
            value = _parse_date(text)
        if value is None:
            raise self.error(f"invalid temporal literal @{tok}")
        return _const(value)

    def c_true(self) -> _Node:
        return _const(True)

    def c_false(self) -> _Node:
        return _const(False)

    def c_null(self) -> _Node:
        return _const(None)

    def c_list(self, *items: Tree) -> _Node:
        nodes = [self.compile(i) for i in items]
        names = frozenset().union(*(n.names for n in nodes))
        if all(n.const is not _NO_CONST for n in nodes):
            return _const([n.const for n in nodes])
        fns = [n.fn for n in nodes]
        return _Node(lambda ctx, now: [f(ctx, now) for f in fns], names)

    def c_context(self, *entries: Tree) -> _Node:
        keys: list[str] = []
        nodes: list[_Node] = []
        names: set[str] = set()
        for entry in entries:
            key_tok, expr = entry.children
            key = _unescape(str(key_tok)) if key_tok.type == "STRING" else str(key_tok)
            if key in keys:
                raise self.error(f"duplicate context key {key!r}")
            node = self.compile(expr)
            names |= node.names - set(keys)
            keys.append(key)
            nodes.append(node)
        if all(n.const is not _NO_CONST for n in nodes):
            return _const(dict(zip(keys, (n.const for n in nodes))))
        pairs = list(zip(keys, (n.fn for n in nodes)))
        local = any(n.names & set(keys[:i]) for i, n in enumerate(nodes))
        if not local:
            return _Node(lambda ctx, now: {k: f(ctx, now) for k, f in pairs}, frozenset(names))

        def build(ctx: Mapping[str, Any], now: datetime | None) -> dict[str, Any]:
            out: dict[str, Any] = {}
            scope = ChainMap(out, ctx)  # later entries see earlier ones
            for k, f in pairs:
                out[k] = f(scope, now)
            return out

        return _Node(build, frozenset(names))

    # -- names and paths
    def c_var(self, tok: Token) -> _Node:
        name = str(tok)
        return _Node(lambda ctx, now: ctx.get(name), frozenset({name}), path=(name,))

    def c_path(self, base: Tree, tok: Token) -> _Node:
        node = self.compile(base)
        key = str(tok)
        f = node.fn
        path = None if node.path is None else (*node.path, key)
        if node.const is not _NO_CONST:
            return _const(_member(node.const, key))

        def get(ctx: Mapping[str, Any], now: datetime | None) -> Any:
            v = f(ctx, now)
            if type(v) is dict:
                return v.get(key)
            return _member(v, key)

        return _Node(get, node.names, path=path)

    def c_filter(self, base: Tree, expr: Tree) -> _Node:
        """``list[condition]`` (``item``, and a context item's keys, in scope) and
        ``list[index]`` (1-based, negative from the end; out of range is null), as the
        FEEL spec and Camunda's engine: a number selects, anything else filters, and a
        non-list value is a list of one."""
        node, cond = self.compile(base), self.compile(expr)
        fb, fc = node.fn, cond.fn

        def run(ctx: Mapping[str, Any], now: datetime | None) -> Any:
            value = fb(ctx, now)
            if value is None:
                return None
            items = value if isinstance(value, list) else [value]
            probe = fc(ctx, now)
            if isinstance(probe, _NUM_TYPES) and not isinstance(probe, bool) and "item" not in cond.names:
                index = int(probe)
                if index != probe or index == 0 or abs(index) > len(items):
                    return None
                return items[index - 1] if index > 0 else items[index]
            kept = []
            for item in items:
                scope = ChainMap({"item": item}, item if isinstance(item, dict) else {}, ctx)
                if fc(scope, now) is True:
                    kept.append(item)
            return kept

        return _Node(run, node.names | (cond.names - {"item"}))

    # -- operators
    def _binary(self, op: Callable[[Any, Any], Any], left: Tree, right: Tree) -> _Node:
        a, b = self.compile(left), self.compile(right)
        names = a.names | b.names
        if a.const is not _NO_CONST and b.const is not _NO_CONST:
            return _const(op(a.const, b.const))
        fa, fb = a.fn, b.fn
        if b.const is not _NO_CONST:
            cb = b.const
            return _Node(lambda ctx, now: op(fa(ctx, now), cb), names)
        return _Node(lambda ctx, now: op(fa(ctx, now), fb(ctx, now)), names)

    def c_add(self, left: Tree, right: Tree) -> _Node:
        return self._binary(_add, left, right)

    def c_sub(self, left: Tree, right: Tree) -> _Node:
        return self._binary(_sub, left, right)

    def c_mul(self, left: Tree, right: Tree) -> _Node:
        return self._binary(_mul, left, right)

    def c_div(self, left: Tree, right: Tree) -> _Node:
        return self._binary(_div, left, right)

    def c_pow(self, left: Tree, right: Tree) -> _Node:
        return self._binary(_pow, left, right)

    def c_neg(self, operand: Tree) -> _Node:
        node = self.compile(operand)
        if node.const is not _NO_CONST:
            return _const(_neg(node.const))
        f = node.fn
        return _Node(lambda ctx, now: _neg(f(ctx, now)), node.names)

    def c_compare(self, left: Tree, op: Token, right: Tree) -> _Node:
        return self._binary(_COMPARISONS[str(op)], left, right)

    def c_between(self, value: Tree, low: Tree, high: Tree) -> _Node:
        return self._range(value, low, high, _LE, _LE)

    def c_and_(self, left: Tree, right: Tree) -> _Node:
        a, b = self.compile(left), self.compile(right)
        fa, fb = a.fn, b.fn

        def and_(ctx: Mapping[str, Any], now: datetime | None) -> bool | None:
            x = fa(ctx, now)
            if x is False:
                return False
            y = fb(ctx, now)
            if y is False:
                return False
            return True if x is True and y is True else None

        return _Node(and_, a.names | b.names)

    def c_or_(self, left: Tree, right: Tree) -> _Node:
        a, b = self.compile(left), self.compile(right)
        fa, fb = a.fn, b.fn

        def or_(ctx: Mapping[str, Any], now: datetime | None) -> bool | None:
            x = fa(ctx, now)
            if x is True:
                return True
            y = fb(ctx, now)
            if y is True:
                return True
            return False if x is False and y is False else None

        return _Node(or_, a.names | b.names)

    def c_if_expr(self, cond: Tree, then: Tree, other: Tree) -> _Node:
        c, t, e = self.compile(cond), self.compile(then), self.compile(other)
        fc, ft, fe = c.fn, t.fn, e.fn
        return _Node(
            lambda ctx, now: ft(ctx, now) if fc(ctx, now) is True else fe(ctx, now),
            c.names | t.names | e.names,
        )

    def c_in_(self, value: Tree, target: Tree) -> _Node:
        if isinstance(target, Tree) and target.data.startswith("range_"):
            low_op = _LE if target.data[6] == "c" else _LT
            high_op = _LE if target.data[7] == "c" else _LT
            return self._range(value, *target.children, low_op, high_op)
        v, t = self.compile(value), self.compile(target)
        fv, ft = v.fn, t.fn
        if isinstance(t.const, list):
            items = tuple(t.const)

            def in_const(ctx: Mapping[str, Any], now: datetime | None) -> bool:
                x = fv(ctx, now)
                return any(_eq(x, e) is True for e in items)

            return _Node(in_const, v.names)

        def in_(ctx: Mapping[str, Any], now: datetime | None) -> bool | None:
            x, target_value = fv(ctx, now), ft(ctx, now)
            if _kind(target_value) == _LIST:
                return any(_eq(x, e) is True for e in target_value)
            return _eq(x, target_value)

        return _Node(in_, v.names | t.names)

    def _range(
        self,
        value: Tree,
        low: Tree,
        high: Tree,
        low_op: Callable[[Any, Any], bool | None],
        high_op: Callable[[Any, Any], bool | None],
    ) -> _Node:
        v, lo, hi = self.compile(value), self.compile(low), self.compile(high)
        fv, flo, fhi = v.fn, lo.fn, hi.fn

        def within(ctx: Mapping[str, Any], now: datetime | None) -> bool | None:
            x = fv(ctx, now)
            a = low_op(flo(ctx, now), x)
            if a is False:
                return False
            b = high_op(x, fhi(ctx, now))
            if b is False:
                return False
            return True if a is True and b is True else None

        return _Node(within, v.names | lo.names | hi.names)

    # -- functions
    def c_call(self, name_tok: Token, args: Tree | None = None) -> _Node:
        name = " ".join(str(name_tok).split())
        arg_trees = list(args.children) if args is not None else []
        n = len(arg_trees)
        if name in _SPECIAL_ARITY:
            if n != _SPECIAL_ARITY[name]:
                raise self.error(f"{name}() takes {_SPECIAL_ARITY[name]} argument(s), got {n}")
            return getattr(self, "_call_" + name.replace(" ", "_"))(*arg_trees)
        spec = _FUNCTIONS.get(name)
        if spec is None:
            what = "FEEL built-in function" if name in _MULTI_WORD_FUNCTIONS else "function"
            raise self.error(f"{what} '{name}()' is not supported")
        impl, lo, hi = spec
        if not lo <= n <= hi:
            expected = str(lo) if lo == hi else f"{lo} to {hi}" if hi < 255 else f"at least {lo}"
            raise self.error(f"{name}() takes {expected} argument(s), got {n}")
        if name == "date" and n == 2:
            raise self.error("date() takes 1 or 3 arguments, got 2")
        nodes = [self.compile(a) for a in arg_trees]
        names = frozenset().union(*(a.names for a in nodes))

        def safe(*values: Any) -> Any:
            try:
                return impl(*values)
            except (TypeError, ValueError, OverflowError, AttributeError):
                return None  # FEEL: a failed function call is null

        if all(a.const is not _NO_CONST for a in nodes):
            value = safe(*(a.const for a in nodes))
            if value is None and name in _TEMPORAL_CONSTRUCTORS and all(
                isinstance(a.const, str) for a in nodes
            ):
                raise self.error(f"invalid {name} literal {nodes[0].const!r}")
            return _const(value)
        fns = [a.fn for a in nodes]
        if n == 1:
            (f0,) = fns
            return _Node(lambda ctx, now: safe(f0(ctx, now)), names)
        return _Node(lambda ctx, now: safe(*(f(ctx, now) for f in fns)), names)

    def _call_now(self) -> _Node:
        source = self.source

        def now_(ctx: Mapping[str, Any], now: datetime | None) -> datetime:
            if now is None:
                raise FeelError(source, "now() needs the engine clock (no 'now' given)")
            return now if now.tzinfo is not None else now.replace(tzinfo=timezone.utc)

        return _Node(now_, frozenset())

    def _call_today(self) -> _Node:
        source = self.source

        def today_(ctx: Mapping[str, Any], now: datetime | None) -> date:
            if now is None:
                raise FeelError(source, "today() needs the engine clock (no 'now' given)")
            return now.date()

        return _Node(today_, frozenset())

    def _call_is_defined(self, arg: Tree) -> _Node:
        node = self.compile(arg)
        if node.path is None:  # any value, null included, is defined
            return _Node(lambda ctx, now: True, node.names)
        root, *keys = node.path

        def defined(ctx: Mapping[str, Any], now: datetime | None) -> bool:
            v = ctx.get(root, _MISSING)
            for key in keys:
                k = _kind(v)
                if k == _CONTEXT:
                    v = v.get(key, _MISSING)
                elif k == _LIST:
                    return True  # a path on a list is a projection: a list
                else:  # a temporal property, or missing
                    v = _MISSING if v is _MISSING or _member(v, key) is None else v
                if v is _MISSING:
                    return False
            return v is not _MISSING

        return _Node(defined, node.names)


def _syntax_error(source: str, exc: UnexpectedInput) -> FeelError:
    blanked = re.sub(r'"(?:[^"\\]|\\.)*"', '""', source)
    for pattern, construct in _UNSUPPORTED_KEYWORDS:
        if pattern.search(blanked):
            return FeelError(source, f"{construct} are not supported")
    if isinstance(exc, UnexpectedEOF):
        return FeelError(source, "syntax error: unexpected end of expression")
    column = getattr(exc, "column", "?")
    if isinstance(exc, UnexpectedCharacters):
        char = source[exc.pos_in_stream] if exc.pos_in_stream < len(source) else ""
        return FeelError(source, f"syntax error at column {column}: unexpected {char!r}")
    token = getattr(exc, "token", None)
    if token is not None and token.type == "$END":
        return FeelError(source, "syntax error: unexpected end of expression")
    return FeelError(source, f"syntax error at column {column}: unexpected {str(token)!r}")


@functools.lru_cache(maxsize=4096)
def compile_feel(source: str) -> FeelExpression:
    """Compile a FEEL expression (with or without the leading ``=``), cached.

    Raises :class:`FeelError` for syntax errors, unknown or unsupported functions and
    constructs, wrong argument counts and invalid temporal literals.
    """
    text = source.strip()
    if text.startswith("="):
        text = text[1:].strip()
    if not text:
        raise FeelError(source, "empty expression")
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    node = _Compiler(text).compile(tree)
    return FeelExpression(text, node.names, node.fn)
