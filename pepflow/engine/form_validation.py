"""What a person submits for a user task, checked against the task's Camunda Form.

One validator for every way a task is completed: the embedded engine runs it on every
completion (so the web, the CLI, the gRPC/REST facade and the demo all go through it),
and the web runs it on drafts. It accepts exactly the fields of the form:

* a key that is not a field of the form is refused - identifiers the process set
  (``pepId``, ``childId``, ``ownerAssignee``...) are read-only to people;
* each visible field's value must be of the field's type and within its rules
  (required, min/max length, pattern, number range, a date or date-time in the form's
  format, not in the past where the form says so, one of its options - static values,
  or the option list the process set for ``valuesKey``);
* a field hidden by its ``conditional.hide`` takes no value (form-js never submits
  one), a ``readonly`` field keeps its value, a ``disabled`` field takes none;
* an ``expression`` field is computed here from the submitted values (as form-js does
  before submitting); a different value sent for it is refused.

Problems name the field and the rule, never the submitted value (it may be anything a
person typed). Component types this module does not know are refused when the form is
deployed, so no form reaches people unchecked.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from .errors import DeploymentError, InvalidVariables
from .feel import FeelError, FeelExpression, compile_feel

LONDON = ZoneInfo("Europe/London")

# component types that hold no value
DISPLAY_ONLY = frozenset({"text", "html", "image", "spacer", "separator", "button", "iframe", "documentPreview"})
# component types whose value this module checks
VALUE_TYPES = frozenset({
    "textfield", "textarea", "number", "checkbox", "checklist", "radio", "select", "taglist", "datetime",
    "expression",
})
CONTAINERS = frozenset({"group"})

MAX_TEXT = 10_000  # a text field without maxLength still has a bound
MAX_ITEMS = 200
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})?$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

OptionSource = Callable[[str], "list[dict[str, Any]] | None"]


@dataclass(frozen=True)
class FieldRule:
    key: str
    label: str
    kind: str
    subtype: str | None = None
    required: bool = False
    hide: FeelExpression | bool = False
    readonly: bool = False
    disabled: bool = False
    min_length: int | None = None
    max_length: int | None = None
    pattern: re.Pattern[str] | None = None
    validation_type: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    decimal_digits: int | None = None
    serialize_to_string: bool = False
    values: tuple[Any, ...] | None = None  # static options
    values_key: str | None = None  # options from a variable
    values_expression: FeelExpression | None = None
    expression: FeelExpression | None = None  # an expression field's FEEL
    time_format: str | None = None  # datetime: utc_offset / utc_normalize / no_timezone
    disallow_passed: bool = False


@dataclass(frozen=True)
class FormRules:
    form_id: str
    fields: tuple[FieldRule, ...] = field(default_factory=tuple)

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(f.key for f in self.fields)

    def field(self, key: str) -> FieldRule | None:
        return next((f for f in self.fields if f.key == key), None)


# --------------------------------------------------------------------- compiling


def compile_rules(schema: Mapping[str, Any], resource_name: str) -> FormRules:
    """The rules of a form schema; a component this module cannot check is refused."""
    rules: list[FieldRule] = []
    _collect(schema.get("components") or [], rules, resource_name)
    keys = [r.key for r in rules]
    duplicate = next((k for k in keys if keys.count(k) > 1), None)
    if duplicate:
        raise DeploymentError(f"{resource_name}: two fields have the key '{duplicate}'")
    return FormRules(str(schema.get("id")), tuple(rules))


def _collect(components: list, rules: list[FieldRule], resource_name: str) -> None:
    for component in components:
        if not isinstance(component, dict):
            raise DeploymentError(f"{resource_name}: a form component must be an object")
        kind = component.get("type", "")
        key = component.get("key")
        if kind in CONTAINERS:
            if component.get("path"):
                raise DeploymentError(f"{resource_name}: group '{component.get('id')}' has a data path; "
                                      "nested form data is not supported (keep fields at the top level)")
            _collect(component.get("components") or [], rules, resource_name)
            continue
        if kind in DISPLAY_ONLY:
            continue
        if kind not in VALUE_TYPES:
            raise DeploymentError(
                f"{resource_name}: component type '{kind}' ({component.get('id')}) is not supported: "
                f"submitted values could not be checked (supported: {', '.join(sorted(VALUE_TYPES))})")
        if not key:
            raise DeploymentError(f"{resource_name}: {kind} field '{component.get('id')}' has no key")
        if "." in key or "[" in key:
            raise DeploymentError(f"{resource_name}: field key '{key}' must be a plain name")
        rules.append(_rule(component, kind, key, resource_name))


def _feel(text: Any, where: str) -> FeelExpression:
    source = str(text).strip()
    if not source.startswith("="):
        raise DeploymentError(f"{where}: expected a FEEL expression starting with '='")
    try:
        return compile_feel(source[1:])
    except FeelError as exc:
        raise DeploymentError(f"{where}: {exc}") from exc


def _rule(c: dict[str, Any], kind: str, key: str, resource_name: str) -> FieldRule:
    where = f"{resource_name}: field '{key}'"
    validate = c.get("validate") or {}
    hide_text = (c.get("conditional") or {}).get("hide")
    hide: FeelExpression | bool = False
    if isinstance(hide_text, str) and hide_text.strip():
        hide = _feel(hide_text, f"{where} conditional") if hide_text.strip().startswith("=") else hide_text.strip() == "true"
    pattern = None
    if validate.get("pattern"):
        try:
            pattern = re.compile(str(validate["pattern"]))
        except re.error as exc:
            raise DeploymentError(f"{where}: pattern is not a regular expression: {exc}") from exc
    values = None
    if isinstance(c.get("values"), list):
        values = tuple(v.get("value") for v in c["values"] if isinstance(v, dict))
    values_expression = _feel(c["valuesExpression"], f"{where} valuesExpression") if c.get("valuesExpression") else None
    if kind in ("radio", "select", "checklist", "taglist") and values is None and not c.get("valuesKey") and values_expression is None:
        raise DeploymentError(f"{where}: an option field needs values, valuesKey or valuesExpression")
    expression = _feel(c.get("expression", ""), f"{where} expression") if kind == "expression" else None
    for flag in ("readonly", "disabled"):
        if isinstance(c.get(flag), str):
            raise DeploymentError(f"{where}: a FEEL {flag} flag is not supported; use true/false")
    return FieldRule(
        key=key, label=str(c.get("label") or c.get("dateLabel") or key), kind=kind, subtype=c.get("subtype"),
        required=bool(validate.get("required")), hide=hide, readonly=bool(c.get("readonly")),
        disabled=bool(c.get("disabled")), min_length=validate.get("minLength"), max_length=validate.get("maxLength"),
        pattern=pattern, validation_type=validate.get("validationType"), minimum=validate.get("min"),
        maximum=validate.get("max"), decimal_digits=c.get("decimalDigits"),
        serialize_to_string=bool(c.get("serializeToString")), values=values, values_key=c.get("valuesKey"),
        values_expression=values_expression, expression=expression, time_format=c.get("timeSerializingFormat"),
        disallow_passed=bool(c.get("disallowPassedDates")),
    )


# --------------------------------------------------------------------- checking


def validate_submission(
    rules: FormRules, submitted: Mapping[str, Any], context: Mapping[str, Any], *, now: datetime,
    options: OptionSource | None = None, process_variables: frozenset[str] = frozenset(), partial: bool = False,
) -> dict[str, Any]:
    """The values to complete the task with, or :class:`InvalidVariables`.

    ``context`` is what the task sees (its variables); ``options(key)`` gives an option
    list the process did not set; ``process_variables`` are names the process owns
    (their message says so); ``partial`` (a draft) skips required fields and computed
    values but checks everything else.
    """
    problems: list[str] = []
    form = rules.form_id
    for key in submitted:
        if rules.field(key) is None:
            if key in process_variables or key in context:
                problems.append(f"'{_name(key)}' is set by the process, not by a person: it is not a field of form '{form}'")
            else:
                problems.append(f"'{_name(key)}' is not a field of form '{form}'")
    # the form's data is what the person sent: a field of the form they left out is
    # empty, never a value the process holds from an earlier task (a stale date)
    scope = {**{k: v for k, v in context.items() if k not in rules.keys},
             **{k: v for k, v in submitted.items() if rules.field(k) is not None}}
    today = now.astimezone(LONDON).date()
    clean: dict[str, Any] = {}
    for rule in rules.fields:
        present = rule.key in submitted
        value = submitted.get(rule.key)
        if _hidden(rule, scope, now):
            if present and not _empty(value):
                problems.append(f"{rule.label} is hidden for these answers: leave it out")
            continue
        if rule.disabled:
            if present:
                problems.append(f"{rule.label} cannot be changed (disabled)")
            continue
        if rule.kind == "expression":
            if partial:
                continue
            computed = _compute(rule, scope, now)
            if present and _json(value) != _json(computed):
                problems.append(f"{rule.label} is computed by the form: send what it computes or leave it out")
            clean[rule.key] = computed
            scope[rule.key] = computed
            continue
        if rule.readonly:
            if present and _json(value) != _json(context.get(rule.key)):
                problems.append(f"{rule.label} is read-only")
            continue
        if _empty(value) or (rule.kind == "checkbox" and value is False and rule.required):
            if rule.required and not partial:
                problems.append(f"{rule.label} is required")
            elif present:
                clean[rule.key] = value
            continue
        problem = _check(rule, value, scope, today, options)
        if problem:
            problems.append(f"{rule.label} {problem}")
        else:
            clean[rule.key] = value
    if problems:
        raise InvalidVariables(f"form '{form}': " + "; ".join(problems), problems=problems)
    return clean


def _name(key: Any) -> str:
    text = str(key)
    return text if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,60}", text) else "(a key that is not a field name)"


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _hidden(rule: FieldRule, scope: Mapping[str, Any], now: datetime) -> bool:
    if isinstance(rule.hide, bool):
        return rule.hide
    try:
        return rule.hide.evaluate(scope, now=now) is True
    except FeelError:
        return False


def _compute(rule: FieldRule, scope: Mapping[str, Any], now: datetime) -> Any:
    assert rule.expression is not None
    try:
        return rule.expression.evaluate(scope, now=now)
    except FeelError as exc:
        raise InvalidVariables(f"{rule.label} could not be computed", problems=[f"{rule.label} could not be computed"]) from exc


def _options(rule: FieldRule, scope: Mapping[str, Any], options: OptionSource | None, now: datetime | None = None) -> list[Any] | None:
    if rule.values is not None:
        return list(rule.values)
    if rule.values_expression is not None:
        raw = rule.values_expression.evaluate(scope, now=now)
    else:
        raw = scope.get(rule.values_key) if rule.values_key else None
        if raw is None and options is not None and rule.values_key:
            raw = options(rule.values_key)
    if not isinstance(raw, list):
        return None
    return [o.get("value") if isinstance(o, dict) else o for o in raw]


def _check(rule: FieldRule, value: Any, scope: Mapping[str, Any], today: date, options: OptionSource | None) -> str | None:
    kind = rule.kind
    if kind in ("textfield", "textarea"):
        if not isinstance(value, str):
            return "must be text"
        limit = rule.max_length if rule.max_length is not None else MAX_TEXT
        if len(value) > limit:
            return f"must be at most {limit} characters"
        if rule.min_length is not None and len(value) < rule.min_length:
            return f"must be at least {rule.min_length} characters"
        if rule.pattern is not None and not rule.pattern.search(value):
            return "is not in the form's format"
        if rule.validation_type == "email" and not _EMAIL.match(value):
            return "must be an e-mail address"
        return None
    if kind == "number":
        number = value
        if rule.serialize_to_string and isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                return "must be a number"
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
            return "must be a number"
        if rule.minimum is not None and number < rule.minimum:
            return f"must be at least {rule.minimum}"
        if rule.maximum is not None and number > rule.maximum:
            return f"must be at most {rule.maximum}"
        if rule.decimal_digits is not None and round(number, rule.decimal_digits) != number:
            return f"must have at most {rule.decimal_digits} decimal places"
        return None
    if kind == "checkbox":
        return None if isinstance(value, bool) else "must be true or false"
    if kind in ("radio", "select"):
        allowed = _options(rule, scope, options)
        if allowed is None:
            return f"has no option list ('{rule.values_key}' is not set for this task)"
        return None if any(value == a and type(value) is type(a) for a in allowed) else "must be one of the form's options"
    if kind in ("checklist", "taglist"):
        if not isinstance(value, list) or len(value) > MAX_ITEMS:
            return "must be a list of the form's options"
        allowed = _options(rule, scope, options)
        if allowed is None:
            return f"has no option list ('{rule.values_key}' is not set for this task)"
        if len(set(map(_json, value))) != len(value):
            return "lists an option twice"
        if not all(any(v == a and type(v) is type(a) for a in allowed) for v in value):
            return "must list only the form's options"
        return None
    if kind == "datetime":
        return _check_datetime(rule, value, today)
    raise AssertionError(kind)  # pragma: no cover - refused at deploy


def _check_datetime(rule: FieldRule, value: Any, today: date) -> str | None:
    if not isinstance(value, str):
        return "must be a date" if rule.subtype == "date" else "must be a date and time"
    if rule.subtype == "date":
        if not _DATE.match(value):
            return "must be a date (YYYY-MM-DD)"
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return "must be a real date"
    elif rule.subtype == "time":
        if not _TIME.match(value):
            return "must be a time (HH:MM)"
        try:
            time.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return "must be a real time"
        return None
    else:
        if not _DATETIME.match(value):
            return "must be a date and time (YYYY-MM-DDTHH:MM with an offset)"
        try:
            instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return "must be a real date and time"
        if instant.tzinfo is None:
            if rule.time_format in (None, "utc_offset", "utc_normalize"):
                return "must carry its offset from UTC (e.g. +01:00 or Z)"
            instant = instant.replace(tzinfo=LONDON)
        day = instant.astimezone(LONDON).date()
    if rule.disallow_passed and day < today:
        return "must not be in the past"
    return None
