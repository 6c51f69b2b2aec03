"""A compiled FEEL expression, the error every FEEL failure raises, and the node the
compiler builds (an evaluator closure with the names it reads and, when known, its
constant value).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
