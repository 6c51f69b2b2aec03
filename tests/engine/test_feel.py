"""The FEEL subset evaluator (pepflow.engine.feel)."""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta

from pepflow.engine.feel import FeelError, FeelExpression, compile_feel, to_json_value

UTC = timezone.utc
NOW = datetime(2026, 9, 1, 9, 30, tzinfo=UTC)

CONTEXT: dict[str, Any] = {
    "pepId": "pep-1",
    "n": 7,
    "f": 2.5,
    "zero": 0,
    "flag": True,
    "off": False,
    "nothing": None,
    "name": "Ada",
    "child": {"settingId": "s-9", "age": 12, "address": {"town": "Leeds"}, "empty": None},
    "items": [1, 2, 3],
    "people": [{"name": "A", "age": 3}, {"name": "B"}],
    "dueIso": "2026-09-01T09:00:00Z",
    "dayIso": "2026-09-01",
    "badDay": "2026-02-30",
    "mixedDuration": "P1Y2D",
    "someDate": date(2026, 9, 1),
    "someInstant": datetime(2026, 9, 1, 9, 0, tzinfo=UTC),
}

CASES: list[tuple[str, Any]] = [
    # literals
    ("1", 1),
    ("1.5", 1.5),
    (".5", 0.5),
    ("-3", -3),
    ('"a\\"b\\\\c\\n\\t\\u00e9"', 'a"b\\c\n\té'),
    ('"\\ud83d\\ude00"', "\U0001f600"),
    ("true", True),
    ("false", False),
    ("null", None),
    ("[1, 2]", [1, 2]),
    ("[]", []),
    ('{a: 1, "b c": 2}', {"a": 1, "b c": 2}),
    ("{a: n, b: a + 1}", {"a": 7, "b": 8}),
    ("{}", {}),
    ('@"P3D"', timedelta(days=3)),
    ('@"2026-09-01"', date(2026, 9, 1)),
    ('@"2026-09-01T09:00:00Z"', datetime(2026, 9, 1, 9, tzinfo=UTC)),
    ("1 // a comment", 1),
    ("/* block */ 2", 2),
    # names and paths
    ("pepId", "pep-1"),
    ("child.settingId", "s-9"),
    ("child.address.town", "Leeds"),
    ("missing", None),
    ("child.missing", None),
    ("missing.deeper.still", None),
    ("n.something", None),
    ("pepId.length", None),
    ("people.name", ["A", "B"]),
    ("people.age", [3, None]),
    ("{a: {b: 1}}.a.b", 1),
    # comparisons
    ("n = 7", True),
    ("n != 7", False),
    ("n < 10", True),
    ("n <= 7", True),
    ("n > 7", False),
    ("n >= 7.0", True),
    ("f > 2", True),
    ('name = "Ada"', True),
    ('name < "Bob"', True),
    ("flag = true", True),
    ("flag != false", True),
    ("nothing = null", True),
    ("missing = null", True),
    ("n = null", False),
    ("null = null", True),
    ("n != null", True),
    ("missing != null", False),
    ("missing > 5", None),
    ("n < null", None),
    ('n < "8"', None),
    ('n = "7"', None),
    ("flag < true", None),
    ("[1, 2] = [1, 2]", True),
    ("[1, 2] = [1, 3]", False),
    ("{a: 1} = {a: 1}", True),
    ("n between 1 and 7", True),
    ("n between 8 and 9", False),
    ('date("2026-09-01") < date("2026-09-02")', True),
    ('date("2026-09-01") = date("2026-09-01")', True),
    ('date("2026-09-01") = date and time("2026-09-01T00:00:00Z")', None),
    ('date("2026-09-01") < date and time("2026-09-01T00:00:00Z")', None),
    ('date and time("2026-09-01T10:00:00+01:00") = date and time("2026-09-01T09:00:00Z")', True),
    ('date and time(dueIso) < date and time("2026-09-02T00:00:00Z")', True),
    ('duration("P1D") > duration("PT23H")', True),
    ('duration("P1Y") > duration("P11M")', True),
    ('duration("P1Y") = duration("P12M")', True),
    ('duration("P1D") < duration("P1M")', None),
    ('dayIso = date("2026-09-01")', None),  # strings are not converted implicitly
    # three-valued logic
    ("true and true", True),
    ("true and false", False),
    ("false and null", False),
    ("null and false", False),
    ("true and null", None),
    ("missing and true", None),
    ("1 and true", None),
    ("true or null", True),
    ("null or true", True),
    ("false or false", False),
    ("false or null", None),
    ("null or null", None),
    ("not(true)", False),
    ("not(false)", True),
    ("not(null)", None),
    ("not(1)", None),
    ("n > 5 and flag", True),
    ("n > 10 or child.age >= 12", True),
    ("n > 5 and (off or flag)", True),
    # arithmetic
    ("1 + 2", 3),
    ("n - 10", -3),
    ("n * 2", 14),
    ("n / 2", 3.5),
    ("8 / 2", 4),
    ("1.5 * 2", 3.0),
    ("n / zero", None),
    ("n / 0.0", None),
    ("2 ** 10", 1024),
    ("2 ** -1", 0.5),
    ("-2 ** 2", -4),
    ("-n", -7),
    ("-(1 + 2) * 3", -9),
    ("1 + 2 * 3", 7),
    ("(1 + 2) * 3", 9),
    ("10 - 2 - 3", 5),
    ('"ab" + "cd"', "abcd"),
    ('"ab" + 1', None),
    ("n + missing", None),
    ("n + true", None),
    ('"ab" * 2', None),
    ("[1] + [2]", None),
    ("-true", None),
    ('-"a"', None),
    # temporal arithmetic
    ('date("2026-09-01") + duration("P3D")', date(2026, 9, 4)),
    ('date("2026-09-01") - duration("P1D")', date(2026, 8, 31)),
    ('date("2026-01-31") + duration("P1M")', date(2026, 2, 28)),
    ('duration("P1Y2M") + date("2026-09-01")', date(2027, 11, 1)),
    ('date and time("2026-09-01T09:00:00Z") + duration("PT2H")',
     datetime(2026, 9, 1, 11, tzinfo=UTC)),
    ('date and time("2026-09-01T09:00:00Z") + duration("P28D")',
     datetime(2026, 9, 29, 9, tzinfo=UTC)),
    ('date and time("2026-09-03T09:00:00Z") - date and time("2026-09-01T07:30:00Z")',
     timedelta(days=2, hours=1, minutes=30)),
    ('date("2026-09-10") - date("2026-09-01")', timedelta(days=9)),
    ('date("2026-09-10") - date and time("2026-09-01T00:00:00Z")', None),
    ('duration("P1D") + duration("PT12H")', timedelta(days=1, hours=12)),
    ('duration("P1Y") + duration("P2M")', relativedelta(years=1, months=2)),
    ('duration("P1D") + duration("P1M")', None),
    ('duration("PT1H") * 3', timedelta(hours=3)),
    ('duration("P1D") / duration("PT1H")', 24.0),
    ('-duration("P1D")', timedelta(days=-1)),
    ('date("2026-09-01") + 1', None),
    ("someInstant + duration(\"PT30M\") = now()", True),
    ("someDate = today()", True),
    ("now() > someInstant", True),
    ("now() - duration(\"PT30M\") = someInstant", True),
    # properties
    ('date("2026-09-01").year', 2026),
    ('date("2026-09-01").month', 9),
    ('date("2026-09-01").day', 1),
    ('date("2026-09-01").weekday', 2),
    ('date and time("2026-09-01T09:15:30Z").hour', 9),
    ('date and time("2026-09-01T09:15:30Z").minute', 15),
    ("now().year", 2026),
    ("today().month", 9),
    ('duration("P1DT2H").hours', 2),
    ('duration("P1Y2M").months', 2),
    ('date("2026-09-01").nope', None),
    # if-then-else
    ("if n > 5 then \"big\" else \"small\"", "big"),
    ("if n > 50 then \"big\" else \"small\"", "small"),
    ("if missing then 1 else 2", 2),
    ("if 1 then 1 else 2", 2),
    ("if n > 5 then if n > 6 then \"a\" else \"b\" else \"c\"", "a"),
    ("if n > 50 then 1 else if n > 5 then 2 else 3", 2),
    ("(if flag then 10 else 0) + 1", 11),
    ("if off then 1 else n + 1", 8),
    # in
    ("n in [1, 7]", True),
    ("n in [1, 2]", False),
    ("n in items", False),
    ("2 in items", True),
    ('pepId in ["pep-1", "pep-2"]', True),
    ("missing in [1, null]", True),
    ("n in 7", True),
    ("n in (1..7)", False),
    ("n in [1..7]", True),
    ("n in [7..9)", True),
    ("n in (7..9]", False),
    ("n in [m..9]", None),
    ('date("2026-09-05") in [date("2026-09-01")..date("2026-09-30")]', True),
    # list functions
    ("list contains(items, 2)", True),
    ("list contains(items, 5)", False),
    ("list contains(missing, 5)", None),
    ('list contains(["a", null], null)', True),
    ("count(items)", 3),
    ("count([])", 0),
    ("count(pepId)", None),
    ("sum(items)", 6),
    ("sum(1, 2, 3.5)", 6.5),
    ("sum([])", None),
    ('sum([1, "a"])', None),
    ("min(items)", 1),
    ("max(items)", 3),
    ("max(4, 9, 2)", 9),
    ('min(["b", "a"])', "a"),
    ('max([1, "a"])', None),
    ("min([])", None),
    ('max([date("2026-01-01"), date("2026-03-01")])', date(2026, 3, 1)),
    # is defined
    ("is defined(n)", True),
    ("is defined(nothing)", True),
    ("is defined(missing)", False),
    ("is defined(child.settingId)", True),
    ("is defined(child.empty)", True),
    ("is defined(child.nope)", False),
    ("is defined(missing.nope)", False),
    ("is defined(n.nope)", False),
    ("is defined(null)", True),
    ("is defined(1)", True),
    ("not(is defined(missing))", True),
    # string functions
    ("string(n)", "7"),
    ("string(2.5)", "2.5"),
    ("string(4 / 2)", "2"),
    ("string(true)", "true"),
    ("string(null)", None),
    ("string(missing)", None),
    ('string(date("2026-09-01"))', "2026-09-01"),
    ('string(date and time("2026-09-01T09:00:00Z"))', "2026-09-01T09:00:00Z"),
    ('string(duration("PT2H30M"))', "PT2H30M"),
    ('string([1, "a"])', '[1, "a"]'),
    ('number("12")', 12),
    ('number("-1.5")', -1.5),
    ('number("abc")', None),
    ("number(5)", None),
    ('string length("héllo")', 5),
    ("string length(5)", None),
    ("string length(missing)", None),
    ('upper case("abc")', "ABC"),
    ('lower case("ABC")', "abc"),
    ("upper case(n)", None),
    ('contains("foobar", "oba")', True),
    ('contains("foobar", "x")', False),
    ("contains(missing, \"x\")", None),
    ('starts with("foobar", "foo")', True),
    ('ends with("foobar", "bar")', True),
    ('ends with("foobar", "foo")', False),
    ('substring("foobar", 3)', "obar"),
    ('substring("foobar", 3, 3)', "oba"),
    ('substring("foobar", -2, 1)', "a"),
    ('substring("foobar", 1, 100)', "foobar"),
    ("substring(n, 1)", None),
    ('string length(name) > 2 and starts with(name, "A")', True),
    # temporal functions
    ('date("2026-09-01")', date(2026, 9, 1)),
    ("date(dayIso)", date(2026, 9, 1)),
    ("date(2026, 9, 1)", date(2026, 9, 1)),
    ("date(someInstant)", date(2026, 9, 1)),
    ("date(dueIso)", None),
    ("date(badDay)", None),
    ("date(missing)", None),
    ('date and time("2026-09-01T09:00:00Z")', datetime(2026, 9, 1, 9, tzinfo=UTC)),
    ('date and time("2026-09-01T09:00:00")', datetime(2026, 9, 1, 9, tzinfo=UTC)),
    ('date and time("2026-09-01T09:00:00.123456789Z")',
     datetime(2026, 9, 1, 9, 0, 0, 123456, tzinfo=UTC)),
    ('date and time("2026-09-01T10:00:00+01:00")', datetime(2026, 9, 1, 9, tzinfo=UTC)),
    ('date and time("2026-09-01T10:00:00@Europe/London")', datetime(2026, 9, 1, 9, tzinfo=UTC)),
    ("date and time(dueIso)", datetime(2026, 9, 1, 9, tzinfo=UTC)),
    ("date and time(dayIso)", None),
    ("date and time(n)", None),
    ('duration("P3D")', timedelta(days=3)),
    ('duration("PT2H")', timedelta(hours=2)),
    ('duration("P1DT2H30M")', timedelta(days=1, hours=2, minutes=30)),
    ('duration("PT1.5S")', timedelta(seconds=1.5)),
    ('duration("-P2D")', timedelta(days=-2)),
    ('duration("P2W")', timedelta(days=14)),
    ('duration("P1Y2M")', relativedelta(years=1, months=2)),
    ('duration("P14M")', relativedelta(years=1, months=2)),
    ("duration(mixedDuration)", None),
    ("duration(n)", None),
    # multi-word names are not operators
    ('date and time("2026-09-01T09:00:00Z") > someInstant and true', False),
    ("flag and date and time(dueIso) = someInstant", True),
]


@pytest.mark.parametrize(("source", "expected"), CASES, ids=[c[0] for c in CASES])
def test_evaluates(source: str, expected: Any) -> None:
    result = compile_feel(source).evaluate(CONTEXT, now=NOW)
    assert result == expected
    assert type(result) is type(expected)


def test_int_stays_int_and_bool_is_not_a_number() -> None:
    assert type(compile_feel("1 + 2").evaluate({})) is int
    assert compile_feel("true = 1").evaluate({}) is None
    assert compile_feel("x + 1").evaluate({"x": True}) is None


def test_leading_equals_and_whitespace_are_accepted() -> None:
    expr = compile_feel("= n > 5")
    assert expr.source == "n > 5"
    assert expr.evaluate({"n": 6}) is True


def test_names_lists_top_level_variables() -> None:
    expr = compile_feel('if child.age > limit then upper case(name) else {a: 1, b: a}.b')
    assert expr.names == frozenset({"child", "limit", "name"})
    assert compile_feel("1 + 2").names == frozenset()


def test_compile_is_cached() -> None:
    assert compile_feel("n > 5 and flag") is compile_feel("n > 5 and flag")


def test_constant_lists_are_not_shared_between_evaluations() -> None:
    expr = compile_feel("[1, [2]]")
    first = expr.evaluate({})
    first[1].append(3)
    assert expr.evaluate({}) == [1, [2]]


def test_context_may_be_any_mapping() -> None:
    from types import MappingProxyType

    assert compile_feel("a.b = 1").evaluate(MappingProxyType({"a": {"b": 1}})) is True


@pytest.mark.parametrize(
    ("source", "context", "expected"),
    [
        ("[a, b][item != null]", {"a": "2027-01-05", "b": None}, ["2027-01-05"]),
        ("[a, b][item != null]", {"a": "x"}, ["x"]),  # a missing variable is null
        ("items[item > 1]", {"items": [1, 2, 3]}, [2, 3]),
        ("items[1]", {"items": [1, 2, 3]}, 1),
        ("items[-1]", {"items": [1, 2, 3]}, 3),
        ("items[4]", {"items": [1, 2, 3]}, None),
        ("items[a > 1]", {"items": [{"a": 1}, {"a": 2}]}, [{"a": 2}]),
        ("x[item = 3]", {"x": 3}, [3]),  # a single value is a list of one
        ("x[1]", {"x": None}, None),
    ],
)
def test_filters(source, context, expected) -> None:
    """As the record-pep-meeting form's expression field computes its dates."""
    assert compile_feel(source).evaluate(context) == expected


def test_expression_object() -> None:
    expr = compile_feel("n = 1")
    assert isinstance(expr, FeelExpression)
    assert "n = 1" in repr(expr)


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("for x in items return x * 2", "'for' expressions"),
        ("some x in items satisfies x > 2", "quantified"),
        ("every x in items satisfies x > 2", "quantified"),
        ("function(x) x + 1", "function definitions"),
        ("x instance of number", "instance of"),
        ("x in > 5", "unary tests"),
        ("x in (1, 2)", "unary test lists"),
        ("substring(string: \"a\", start position: 1)", "named function arguments"),
        ("frobnicate(1)", "function 'frobnicate()' is not supported"),
        ("floor(1.5)", "function 'floor()' is not supported"),
        ('string join(["a"], ",")', "FEEL built-in function 'string join()' is not supported"),
        ('get or else(x, 1)', "'get or else()' is not supported"),
        ("string length()", "string length() takes 1 argument(s), got 0"),
        ('substring("a")', "substring() takes 2 to 3 argument(s), got 1"),
        ("not(true, false)", "not() takes 1 argument(s)"),
        ("now(1)", "now() takes 0 argument(s)"),
        ("is defined(a, b)", "is defined() takes 1 argument(s)"),
        ("date(2026, 9)", "date() takes 1 or 3 arguments"),
        ("sum()", "sum() takes at least 1 argument(s)"),
        ('duration("3 days")', "invalid duration literal"),
        ('date("2026-13-01")', "invalid date literal"),
        ('date("2026-02-" + "30")', "invalid date literal"),
        ('duration("P1Y2D")', "invalid duration literal"),
        ('date and time("tomorrow")', "invalid date and time literal"),
        ('@"soon"', "invalid temporal literal"),
        ("{a: 1, a: 2}", "duplicate context key"),
        ("1 +", "unexpected end"),
        ("(1 + 2", "unexpected end"),
        ("1 + * 2", "syntax error at column 5"),
        ("a < b < c", "syntax error"),
        ("2 ** 3 ** 2", "syntax error"),
        ("n # 2", "unexpected '#'"),
        ('"unterminated', "syntax error"),
        ("", "empty expression"),
        ("=", "empty expression"),
    ],
)
def test_compile_errors_name_the_construct_and_quote_the_source(source: str, fragment: str) -> None:
    with pytest.raises(FeelError) as info:
        compile_feel(source)
    message = str(info.value)
    assert fragment in message
    assert source.strip().lstrip("=").strip() in message


def test_now_without_clock_is_an_error() -> None:
    for source in ("now()", "today() > x"):
        with pytest.raises(FeelError, match="needs the engine clock") as info:
            compile_feel(source).evaluate({"x": 1})
        assert source in str(info.value)


def test_now_and_today_use_the_injected_clock() -> None:
    assert compile_feel("now()").evaluate({}, now=NOW) == NOW
    late = datetime(2026, 9, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert compile_feel("today()").evaluate({}, now=late) == date(2026, 9, 1)


def test_naive_datetimes_in_the_context_compare_to_null_not_crash() -> None:
    ctx = {"naive": datetime(2026, 9, 1, 9), "aware": datetime(2026, 9, 1, 9, tzinfo=UTC)}
    assert compile_feel("naive < aware").evaluate(ctx) is None


def test_unexpected_python_errors_become_feel_errors() -> None:
    class Hostile(dict):  # a context whose lookups blow up
        def get(self, key: str, default: Any = None) -> Any:
            raise RuntimeError("boom")

    with pytest.raises(FeelError, match="evaluation failed") as info:
        compile_feel("x + 1").evaluate(Hostile())
    assert "x + 1" in str(info.value)


def test_huge_powers_do_not_hang() -> None:
    assert compile_feel("10 ** 100000000").evaluate({}) is None
    assert compile_feel("(-8) ** 0.5").evaluate({}) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (True, True),
        (3, 3),
        (2.5, 2.5),
        (float("nan"), None),
        ("x", "x"),
        (date(2026, 9, 1), "2026-09-01"),
        (datetime(2026, 9, 1, 9, tzinfo=UTC), "2026-09-01T09:00:00Z"),
        (datetime(2026, 9, 1, 10, tzinfo=timezone(timedelta(hours=1))), "2026-09-01T09:00:00Z"),
        (datetime(2026, 9, 1, 9, 0, 0, 500000, tzinfo=UTC), "2026-09-01T09:00:00.500000Z"),
        (datetime(2026, 9, 1, 9), "2026-09-01T09:00:00Z"),
        (timedelta(days=3), "P3D"),
        (timedelta(hours=2, minutes=30), "PT2H30M"),
        (timedelta(days=1, hours=2, seconds=1.5), "P1DT2H1.5S"),
        (timedelta(0), "PT0S"),
        (timedelta(days=-2), "-P2D"),
        (timedelta(hours=-1), "-PT1H"),
        (relativedelta(years=1, months=2), "P1Y2M"),
        (relativedelta(months=3), "P3M"),
        (relativedelta(years=-1), "-P1Y"),
        (relativedelta(), "P0M"),
        (relativedelta(months=1, days=2), "P1M2D"),
        ([date(2026, 9, 1), {"d": timedelta(days=1)}], ["2026-09-01", {"d": "P1D"}]),
        ((1, 2), [1, 2]),
    ],
)
def test_to_json_value(value: Any, expected: Any) -> None:
    result = to_json_value(value)
    assert result == expected
    json.dumps(result)


def test_to_json_value_round_trips_through_feel() -> None:
    ctx = {"x": to_json_value(compile_feel('duration("P1DT2H")').evaluate({}))}
    assert compile_feel('duration(x) = duration("PT26H")').evaluate(ctx) is True
    instant = compile_feel('date and time("2026-09-01T10:00:00+01:00")').evaluate({})
    ctx = {"t": to_json_value(instant)}
    assert ctx["t"] == "2026-09-01T09:00:00Z"
    assert compile_feel("date and time(t).hour").evaluate(ctx) == 9


def test_to_json_value_rejects_unknown_types() -> None:
    with pytest.raises(TypeError):
        to_json_value(object())


def test_evaluation_is_fast() -> None:
    expr = compile_feel("child.age >= 12 and pepId != null")
    ctx = CONTEXT
    runs = 20_000
    start = time.perf_counter()
    for _ in range(runs):
        expr.evaluate(ctx)
    per_call = (time.perf_counter() - start) / runs
    assert per_call < 50e-6, f"{per_call * 1e6:.1f} µs per evaluation"
