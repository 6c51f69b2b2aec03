"""Strict mode: the embedded engine refuses what Zeebe refuses.

The embedded engine ran diagrams that would stop in an incident on Camunda 8 (a
``candidateGroups`` expression giving a string, a null ``assignee``, a due date with no
offset). In strict mode - the default, :class:`pepflow.engine.runtime.Engine`
``strict=True`` - each value a diagram's expressions produce is checked here exactly as
Zeebe checks it, and a failure becomes the incident Zeebe raises (type
``EXTRACT_VALUE_ERROR``) or the deployment Zeebe rejects. ``strict=False`` keeps the old
lenient reading (a string split on commas, a time without offset taken as UTC) for
diagrams written for the embedded engine only.

Each rule names the Camunda documentation page it follows and the Zeebe class that
implements it (camunda/camunda, ``zeebe/engine``); ``docs/camunda8.md`` has the table.
Submitted form values are not checked here (``pepflow/engine/form_validation.py``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import DeploymentError, ExpressionError

DOCS = "https://docs.camunda.io/docs"
USER_TASK_ASSIGNMENT = f"{DOCS}/components/modeler/bpmn/user-tasks/#assignments"
USER_TASK_SCHEDULING = f"{DOCS}/components/modeler/bpmn/user-tasks/#scheduling"
TIMER_TIME_DATE = f"{DOCS}/components/modeler/bpmn/timer-events/#time-date"
VARIABLE_MAPPINGS = f"{DOCS}/components/concepts/variables/#inputoutput-variable-mappings"
MESSAGE_BUFFERING = f"{DOCS}/components/concepts/messages/#message-buffering"
MESSAGE_UNIQUENESS = f"{DOCS}/components/concepts/messages/#message-uniqueness"
MESSAGE_START_CARDINALITY = f"{DOCS}/components/concepts/messages/#message-cardinality"
RESOURCE_VERSIONS = f"{DOCS}/components/concepts/process-instance-creation/"  # "latest version"
GRPC_ERRORS = f"{DOCS}/apis-tools/zeebe-api/gateway-service/"
REST_ERRORS = f"{DOCS}/apis-tools/orchestration-cluster-api-rest/orchestration-cluster-api-rest-overview/"


# --------------------------------------------------------------------- date-times
# Zeebe parses a date-time string with java.time.ZonedDateTime.parse, i.e.
# DateTimeFormatter.ISO_ZONED_DATE_TIME: date, 'T', hours and minutes (seconds and up to
# nine fraction digits optional), an offset ('Z' or +hh:mm[:ss]) and optionally a zone
# id in brackets. A date alone, a time without offset, '+0100' or a space for 'T' fail
# with "Invalid date-time format '<value>' for expression '<expression>'."
# (ExpressionProcessor.evaluateDateTimeExpressionString)
_ZONED_DATE_TIME = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt](?P<hour>\d{2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,9}))?)?"
    r"(?P<offset>[Zz]|[+-]\d{2}:\d{2}(?::\d{2})?)"
    r"(?:\[(?P<zone>[A-Za-z0-9_+\-/]+)\])?"
)


def parse_zoned_date_time(text: str) -> datetime:
    """``ZonedDateTime.parse`` in Python; raise ``ValueError`` where Java would."""
    match = _ZONED_DATE_TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"'{text}' is not an ISO 8601 date-time with an offset")
    fraction = (match["fraction"] or "").ljust(6, "0")[:6]
    try:
        local = datetime.fromisoformat(
            f"{match['date']}T{match['hour']}:{match['minute']}:{match['second'] or '00'}.{fraction}"
        )
    except ValueError as exc:
        raise ValueError(f"'{text}': {exc}") from None
    offset_text = match["offset"]
    if offset_text in ("Z", "z"):
        offset = timedelta(0)
    else:
        sign = -1 if offset_text[0] == "-" else 1
        parts = [int(p) for p in offset_text[1:].split(":")]
        if parts[0] > 18 or parts[1] > 59 or (len(parts) > 2 and parts[2] > 59):
            raise ValueError(f"'{text}': offset {offset_text} is out of range")
        offset = sign * timedelta(hours=parts[0], minutes=parts[1], seconds=parts[2] if len(parts) > 2 else 0)
    instant = local.replace(tzinfo=timezone(offset))
    if match["zone"]:
        try:
            zone = ZoneInfo(match["zone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{text}': unknown zone '{match['zone']}'") from None
        # the zone's rules decide, the offset is a preference (ZonedDateTime.ofLocal)
        candidates = [local.replace(tzinfo=zone, fold=f) for f in (0, 1)]
        preferred = [c for c in candidates if c.utcoffset() == offset]
        instant = preferred[0] if preferred else candidates[0]
    return instant.astimezone(timezone.utc)


def _date_time(value: Any, expression: str, where: str, *, nullable: bool, rule: str) -> datetime | None:
    if value is None or (nullable and value == ""):
        if nullable:
            return None
        raise ExpressionError(
            f"{where}: Expected result of the expression '{_bare(expression)}' to be one of "
            f"'[DATE_TIME, STRING]', but was 'NULL'. ({rule})"
        )
    if isinstance(value, datetime):  # a FEEL date and time value
        if value.tzinfo is None:
            raise ExpressionError(f"{where}: a date and time without a zone is not a date-time Zeebe accepts ({rule})")
        return value.astimezone(timezone.utc)
    if not isinstance(value, str):
        raise ExpressionError(
            f"{where}: Expected result of the expression '{_bare(expression)}' to be one of "
            f"'[DATE_TIME, STRING]', but was '{_feel_type(value)}'. ({rule})"
        )
    try:
        return parse_zoned_date_time(value)
    except ValueError:
        raise ExpressionError(
            f"{where}: Invalid date-time format '{value}' for expression '{_bare(expression)}'. "
            f"An ISO 8601 date-time with an offset is needed, e.g. 2026-09-01T09:00:00Z or "
            f"2026-09-01T10:00:00+01:00 ({rule})"
        ) from None


def schedule_date(value: Any, expression: str, where: str) -> datetime | None:
    """``dueDate``/``followUpDate`` of a user task: null or "" means none; otherwise a
    zoned date-time (BpmnUserTaskBehavior.evaluateDateExpression, nullable)."""
    return _date_time(value, expression, where, nullable=True, rule=USER_TASK_SCHEDULING)


def timer_date(value: Any, expression: str, where: str) -> datetime:
    """A timer's ``timeDate``: a zoned date-time; null is an incident (not nullable)."""
    result = _date_time(value, expression, where, nullable=False, rule=TIMER_TIME_DATE)
    assert result is not None
    return result


# -------------------------------------------------------------------- assignments
def assignee(value: Any, expression: str, where: str) -> str | None:
    """``assignee``: an expression must give a string (evaluateStringExpression); null
    or any other type is an incident. An empty string leaves the task unassigned."""
    if not _is_expression(expression):
        return value or None
    if not isinstance(value, str):
        raise ExpressionError(
            f"{where}: Expected result of the expression '{_bare(expression)}' to be 'STRING', "
            f"but was '{_feel_type(value)}'. ({USER_TASK_ASSIGNMENT})"
        )
    return value or None


def candidates(value: Any, expression: str, where: str) -> list[str]:
    """``candidateGroups``/``candidateUsers``: an expression must give a list of
    strings (evaluateArrayOfStringsExpression) - a plain string, even "a,b", is an
    incident; a static value is a comma-separated list (checked at deployment)."""
    if not _is_expression(expression):
        return static_csv(expression, where)
    if not isinstance(value, list):
        raise ExpressionError(
            f"{where}: Expected result of the expression '{_bare(expression)}' to be 'ARRAY', "
            f"but was '{_feel_type(value)}'. ({USER_TASK_ASSIGNMENT})"
        )
    if not all(isinstance(item, str) for item in value):
        raise ExpressionError(
            f"{where}: Expected result of the expression '{_bare(expression)}' to be 'ARRAY' containing "
            f"'STRING' items, but was 'ARRAY' containing at least one non-'STRING' item. ({USER_TASK_ASSIGNMENT})"
        )
    return list(value)


def static_csv(text: str, where: str) -> list[str]:
    """A static candidate list: comma-separated, each entry trimmed; a blank entry
    ('a, ,c') is refused (ExpressionTransformer.parseListOfCsv)."""
    if text == "":
        return []
    values = [part.strip() for part in text.split(",")]
    if any(not v for v in values):
        raise DeploymentError(
            f"{where}: Expected static value to be a list of comma-separated values, e.g. 'a,b,c', "
            f"but found '{text}'. ({USER_TASK_ASSIGNMENT})"
        )
    return values


# ------------------------------------------------------------------ variable names
# The target of an input/output mapping (and a multi-instance inputElement or
# outputCollection) is a path: names of letters, digits and '_', starting with a
# letter, joined by '.', and not a FEEL reserved word (ZeebeExpressionValidator.verifyPath).
_PATH = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*(\.[a-zA-Z][a-zA-Z0-9_]*)*")
_RESERVED = ("null", "true", "false", "function", "if", "then", "else", "for", "between", "instance", "of")


def check_variable_path(path: str | None, where: str) -> None:
    if not path:
        raise DeploymentError(f"{where}: Expected path expression but not found. ({VARIABLE_MAPPINGS})")
    if not _PATH.fullmatch(path):
        raise DeploymentError(
            f"{where}: Expected path expression '{path}' but doesn't match the pattern '{_PATH.pattern}'. "
            f"({VARIABLE_MAPPINGS})"
        )
    if path in _RESERVED:
        raise DeploymentError(
            f"{where}: Expected path expression '{path}' but is one of the reserved words "
            f"({', '.join(_RESERVED)}). ({VARIABLE_MAPPINGS})"
        )


def check_static_schedule(expression: str | None, where: str) -> None:
    """A static dueDate/followUpDate must already be a valid date-time at deployment."""
    if expression and not _is_expression(expression):
        try:
            parse_zoned_date_time(expression.strip())
        except ValueError:
            raise DeploymentError(
                f"{where}: Expected static value to be a valid DateTime, but found '{expression}'. "
                f"({USER_TASK_SCHEDULING})"
            ) from None


# ------------------------------------------------------------------------ messages
def duplicate_message(message_id: str) -> str:
    """The rejection of a second message with the same name, correlation key and id
    while the first is buffered (MessagePublishProcessor: ALREADY_EXISTS)."""
    return (
        f"Expected to publish a new message with id '{message_id}', but a message with that id was "
        f"already published ({MESSAGE_UNIQUENESS})"
    )


def is_new_version(latest_checksum: str | None, latest_resource_name: str | None, checksum: str, resource_name: str) -> bool:
    """A deployed process or form is a duplicate of the latest version only when both
    its content and its resource name are the same (BpmnResourceTransformer
    .isDuplicateOfLatest); otherwise it is the next version."""
    if latest_checksum is None:
        return True
    return not (latest_checksum == checksum and latest_resource_name == resource_name)


# ------------------------------------------------------------------------- helpers
def _is_expression(text: str | None) -> bool:
    return bool(text) and text.strip().startswith("=")


def _bare(expression: str) -> str:
    text = (expression or "").strip()
    return text[1:].strip() if text.startswith("=") else text


def _feel_type(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, (int, float)):
        return "NUMBER"
    if isinstance(value, str):
        return "STRING"
    if isinstance(value, Sequence):
        return "ARRAY"
    if isinstance(value, dict):
        return "OBJECT"
    return type(value).__name__.upper()


def check_deployment(configs) -> None:
    """What Zeebe's deployment validators refuse in a diagram the embedded engine
    would otherwise run: variable paths of mappings and multi-instance elements,
    static candidate lists, static schedule dates."""
    for config in configs.values():
        where = f"{config.element_type} '{config.element_id}'"
        for kind, mappings in (("input", config.inputs), ("output", config.outputs)):
            for mapping in mappings:
                check_variable_path(mapping.target, f"{where} {kind} mapping")
        if config.input_element is not None:
            check_variable_path(config.input_element, f"{where} inputElement")
        if config.output_collection is not None:
            check_variable_path(config.output_collection, f"{where} outputCollection")
        for label, value in (("candidateGroups", config.candidate_groups), ("candidateUsers", config.candidate_users)):
            if value and not _is_expression(value):
                static_csv(value, f"{where} {label}")
        check_static_schedule(config.due_date, f"{where} dueDate")
        check_static_schedule(config.follow_up_date, f"{where} followUpDate")
