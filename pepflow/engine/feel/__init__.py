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

The package: :mod:`.grammar` parses, :mod:`.compiler` (with :mod:`.calls`) compiles
the tree into closures over :mod:`.values` (kinds, comparisons, arithmetic, paths),
:mod:`.temporal` (dates, date-times and durations as text) and :mod:`.builtins`;
:mod:`.expression` holds the compiled :class:`FeelExpression` and :class:`FeelError`.
"""

from __future__ import annotations

from .compiler import compile_feel
from .expression import FeelError, FeelExpression
from .temporal import to_json_value

__all__ = ["FeelError", "FeelExpression", "compile_feel", "to_json_value"]
