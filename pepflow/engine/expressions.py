"""The bridge between SpiffWorkflow's script engine and Zeebe's expressions.

Zeebe writes FEEL as ``=expression`` and takes anything else as a literal (``P28D``,
``2026-09-01T09:00:00Z``). Spiff would evaluate Python; here every evaluation goes
through FEEL, and any failure names the expression and the element.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimeDateEventDefinition

from . import strict
from .errors import ExpressionError
from .feel import FeelError, compile_feel, to_json_value


def evaluate(expression: str | None, context: Mapping[str, Any], now: datetime, where: str) -> Any:
    """Evaluate a Zeebe expression: FEEL after '=', otherwise the literal text."""
    if expression is None:
        return None
    text = expression.strip()
    if not text.startswith("="):
        return text
    try:
        value = compile_feel(text[1:]).evaluate(context, now=now)
    except FeelError as exc:
        raise ExpressionError(f"{where}: {exc}") from exc
    return to_json_value(value)


class ZeebeScriptEngine(PythonScriptEngine):
    """Script engine for the embedded engine: FEEL only, no Python, no scripts."""

    def __init__(self, now: Callable[[], datetime], *, strict: bool = True) -> None:
        super().__init__()
        self._now = now
        self.strict = strict

    def now(self) -> datetime:
        return self._now()

    def evaluate(self, task, expression, external_context=None):
        try:
            value = evaluate(expression, task.data, self._now(), _element(task))
            if self.strict and _is_time_date(task, expression):
                # a timer's timeDate: a date-time with offset, as Zeebe parses it (strict.py);
                # handed to Spiff in UTC so that it never guesses a zone
                return strict.timer_date(value, expression, _element(task)).isoformat()
        except ExpressionError as exc:
            exc.task = task  # the incident names the element, as Zeebe's does
            raise
        return value

    def evaluate_for(self, element_id: str, expression: str, data: Mapping[str, Any]) -> Any:
        return evaluate(expression, data, self._now(), f"element '{element_id}'")

    def execute(self, task, script, external_context=None):
        raise ExpressionError(f"{_element(task)}: scripts are not supported by the embedded engine")


def _is_time_date(task, expression) -> bool:
    definition = getattr(task.task_spec, "event_definition", None)
    definitions = [definition, *getattr(definition, "event_definitions", ())]
    return any(isinstance(d, TimeDateEventDefinition) and d.expression == expression for d in definitions)


def _element(task) -> str:
    spec = task.task_spec
    return f"element '{getattr(spec, 'bpmn_id', None) or spec.name}'"


# --- the clock SpiffWorkflow's timers read -----------------------------------------
# Spiff's timer module reads the wall clock itself (``datetime`` ``.now`` with UTC). We replace that
# module-level name with a datetime whose ``now`` asks the clock of the engine that is
# stepping (a context variable), so timers follow an injected - possibly simulated -
# clock and several engines in one process do not disturb each other.

_current_now: contextvars.ContextVar[Callable[[], datetime] | None] = contextvars.ContextVar(
    "pepflow_engine_now", default=None
)


class _EngineDatetime(datetime):
    @classmethod
    def now(cls, tz=None):  # noqa: D401 - mirrors datetime.now
        source = _current_now.get()
        if source is None:
            raise RuntimeError(
                "SpiffWorkflow read the time outside an engine step; the engine's clock must be set"
            )
        value = source().astimezone(tz or timezone.utc)
        return _Now(
            value.year, value.month, value.day, value.hour, value.minute, value.second,
            value.microsecond, tzinfo=value.tzinfo,
        )


class _Now(_EngineDatetime):
    """'Now' as Spiff's timers compare it. Spiff asks ``due < now``; a timer due at
    this very instant should fire, so against this value '<' means '<='. (Python
    gives the subclass's reflected comparison priority.)"""

    def __gt__(self, other):
        return datetime.__ge__(self, other)

    def __lt__(self, other):
        return datetime.__le__(self, other)


spiff_timer.datetime = _EngineDatetime


class clock_scope:
    """Within this scope Spiff's timers read ``now`` from the given callable."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self._token: contextvars.Token | None = None

    def __enter__(self) -> None:
        self._token = _current_now.set(self._now)

    def __exit__(self, *exc) -> None:
        _current_now.reset(self._token)
