"""The process variables of the PEP process: an allow-list with the kind of each.

Camunda 8 shows every process variable to operators (Operate) and exports it to its
search index, so a variable holds identifiers, dates, flags and codes only; names,
addresses, notes and any free text live in the records store. This module is that
rule as data: the embedded engine checks a diagram against it when it is deployed and
every value that enters an instance (start, message, job result, user task
completion, set variables) against it; the workers check their results before they
complete a job (so Camunda 8 gets the same guarantee); the operations view shows a
variable only when it passes. Problems name the variable and the rule, never the value.

To add a variable: add it here (and to ``docs/process-contract.md``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pepflow.domain.enums import ContactRole, OwnerRole, StaffRole


class Kind(StrEnum):
    IDENTIFIER = "identifier"  # C-0001, PEP-C-0001-2026-AUT, ST-0001 ...
    IDENTIFIERS = "list of identifiers"
    DATE = "date (YYYY-MM-DD)"
    DATETIME = "date-time with offset (ISO 8601)"
    DATE_OR_DATETIME = "date or date-time"
    DATES = "list of dates or date-times"
    BOOLEAN = "boolean"
    CODE = "code (lower case letters, digits, hyphens)"
    GROUPS = "candidate group code(s)"
    INTEGER = "whole number"
    LOGIN = "Identity login (user name or e-mail) or empty"
    OPTIONS = "option list ({label, value}: a role and a reference, never a name)"


PEP_VARIABLES: dict[str, Kind] = {
    # who and which records
    "childId": Kind.IDENTIFIER,
    "careEpisodeId": Kind.IDENTIFIER,
    "pepId": Kind.IDENTIFIER,
    "settingId": Kind.IDENTIFIER,
    "newSettingId": Kind.IDENTIFIER,
    "attendeeId": Kind.IDENTIFIER,  # the element of the final PEP's multi-instance
    "attendeeIds": Kind.IDENTIFIERS,
    "inviteeIds": Kind.IDENTIFIERS,
    "formDocumentId": Kind.INTEGER,
    "finalDocumentId": Kind.INTEGER,
    "schoolReturnId": Kind.INTEGER,  # the returned form as read (store.returns; issue 12)
    "loopCounter": Kind.INTEGER,
    # who acts (pepflow.ownership)
    "ownerRole": Kind.CODE,
    "ownerAssignee": Kind.LOGIN,
    "ownerCandidateGroups": Kind.GROUPS,
    "businessSupportGroups": Kind.GROUPS,
    # dates
    "enteredCareOn": Kind.DATE,
    "settingChangedOn": Kind.DATE,
    "leftCareOn": Kind.DATE,
    "formReturnedOn": Kind.DATE,
    "initialMeetingDueAt": Kind.DATETIME,
    "initialMeetingReminderAt": Kind.DATETIME,
    "meetingAt": Kind.DATETIME,
    # a meeting moved, cancelled or not held (message pep-meeting-changed)
    "changedMeetingAt": Kind.DATETIME,
    # when a person should look at a task again (the task's follow-up date)
    "meetingRecordFollowUpAt": Kind.DATETIME,
    "finaliseFollowUpAt": Kind.DATETIME,
    "meetingChange": Kind.CODE,
    "prepareFromAt": Kind.DATETIME,
    "formSendAt": Kind.DATETIME,
    "formReminderAt": Kind.DATETIME,
    "nextPepDate1": Kind.DATE_OR_DATETIME,
    "nextPepDate2": Kind.DATE_OR_DATETIME,
    "nextMeetingDates": Kind.DATES,
    # the deadlines of the waits a person owns (escalations, issue 10)
    "swPartDueAt": Kind.DATETIME,
    "swPartEscalateAt": Kind.DATETIME,
    "meetingRecordDueAt": Kind.DATETIME,
    "finaliseDueAt": Kind.DATETIME,
    # the meeting-date rule's answer (pepflow/meetings.py): a code and dates
    "meetingDateProblem": Kind.CODE,
    "meetingDateRefusedOn": Kind.DATE,
    "meetingDateNextValid": Kind.DATE,
    # flags and codes
    "emergency": Kind.BOOLEAN,
    "hasSettingInput": Kind.BOOLEAN,
    "formAlreadyReturned": Kind.BOOLEAN,
    "isInitial": Kind.BOOLEAN,
    "agedOut": Kind.BOOLEAN,
    "pepApproved": Kind.BOOLEAN,
    "swSectionComplete": Kind.BOOLEAN,
    "developmentInfoRecorded": Kind.BOOLEAN,
    "typedUp": Kind.BOOLEAN,
    # the review of a returned form (pepflow/school_returns.py): counts, flags, codes
    "returnNeedsReview": Kind.BOOLEAN,
    "returnAccepted": Kind.BOOLEAN,
    "returnAskedAgain": Kind.BOOLEAN,  # the return a message names was asked again or withdrawn
    "returnFlagCount": Kind.INTEGER,
    "returnChangeCount": Kind.INTEGER,
    "reviewDecision": Kind.CODE,
    "queryReasonCode": Kind.CODE,
    "variant": Kind.CODE,
    "returnReasonCode": Kind.CODE,
    # why an approved PEP was not finalised (check-finalise): a returned form waits for review
    "finaliseHeldReason": Kind.CODE,
    "venueCode": Kind.CODE,
    # option lists the forms read (set by the process; labels are role + reference)
    "contactOptions": Kind.OPTIONS,
}

#: the Virtual School's quality review of a final PEP (bpmn/pep-quality.bpmn)
QUALITY_VARIABLES: dict[str, Kind] = {
    "pepId": Kind.IDENTIFIER,
    "childId": Kind.IDENTIFIER,
    "qualityReviewId": Kind.INTEGER,
    "qualityReviewerGroups": Kind.GROUPS,
    "qualityRating": Kind.CODE,  # red / amber / green
    "qualityRatingProblem": Kind.CODE,  # why the rating step sent the task back
    "pepImproved": Kind.BOOLEAN,
    "improvementProblem": Kind.CODE,
    "ownerRole": Kind.CODE,
    "ownerAssignee": Kind.LOGIN,
    "ownerCandidateGroups": Kind.GROUPS,
}

#: process id -> its contract; processes without one (tests' small diagrams) are free
CONTRACTS: dict[str, dict[str, Kind]] = {"pep": PEP_VARIABLES, "pep-quality": QUALITY_VARIABLES}

_IDENTIFIER = re.compile(r"^(?=[^\s]*\d)[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$")
_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
_LOGIN = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,253}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$")
_MAX_LIST = 200

# The roles an option label may name: people's roles, never their names.
OPTION_ROLES = frozenset(
    {r.value.replace("-", " ") for r in (*ContactRole, *OwnerRole, *StaffRole)}
    | {"designated teacher", "designated practitioner", "designated person", "carer", "other contact"}
)
_OPTION_LABEL = re.compile(r"^(?P<role>[A-Za-z][A-Za-z' -]{1,60}?)(?: \((?P<ref1>[^()\s]+)\)|, (?P<ref2>\S+))$")


def contract_for(bpmn_process_id: str) -> dict[str, Kind] | None:
    return CONTRACTS.get(bpmn_process_id)


def _is_date(value: Any) -> bool:
    if isinstance(value, date) and not isinstance(value, datetime):
        return True
    if not isinstance(value, str) or not _DATE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_datetime(value: Any) -> bool:
    if isinstance(value, datetime):
        return value.tzinfo is not None
    if not isinstance(value, str) or not _DATETIME.match(value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def is_identifier(value: Any) -> bool:
    return isinstance(value, str) and bool(_IDENTIFIER.match(value))


def option_label_ok(label: Any, value: Any) -> bool:
    """``Foster carer (CT-0006)`` / ``Designated teacher, ES-0001``: a known role and
    the option's own reference."""
    if not isinstance(label, str):
        return False
    match = _OPTION_LABEL.match(label.strip())
    if not match:
        return False
    ref = match.group("ref1") or match.group("ref2")
    return match.group("role").strip().lower() in OPTION_ROLES and ref == value


def value_fits(kind: Kind, value: Any) -> bool:
    """Whether ``value`` is of ``kind``. Null fits every kind (an unset variable)."""
    if value is None:
        return True
    if kind is Kind.IDENTIFIER:
        return is_identifier(value)
    if kind is Kind.IDENTIFIERS:
        return isinstance(value, list) and len(value) <= _MAX_LIST and all(is_identifier(v) for v in value)
    if kind is Kind.DATE:
        return _is_date(value)
    if kind is Kind.DATETIME:
        return _is_datetime(value)
    if kind is Kind.DATE_OR_DATETIME:
        return _is_date(value) or _is_datetime(value)
    if kind is Kind.DATES:
        return isinstance(value, list) and len(value) <= _MAX_LIST and all(_is_date(v) or _is_datetime(v) for v in value)
    if kind is Kind.BOOLEAN:
        return isinstance(value, bool)
    if kind is Kind.CODE:
        return isinstance(value, str) and bool(_CODE.match(value))
    if kind is Kind.GROUPS:
        if isinstance(value, str):
            return bool(_CODE.match(value))
        return isinstance(value, list) and len(value) <= 20 and all(isinstance(v, str) and _CODE.match(v) for v in value)
    if kind is Kind.INTEGER:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is Kind.LOGIN:
        return isinstance(value, str) and (value == "" or bool(_LOGIN.match(value)))
    if kind is Kind.OPTIONS:
        return isinstance(value, list) and len(value) <= _MAX_LIST and all(
            isinstance(o, dict) and set(o) == {"label", "value"} and is_identifier(o["value"])
            and option_label_ok(o["label"], o["value"])
            for o in value
        )
    raise AssertionError(kind)  # pragma: no cover


def check_variables(contract: Mapping[str, Kind], variables: Mapping[str, Any]) -> list[str]:
    """Problems with ``variables`` under ``contract`` (empty: all fit). A problem names
    the variable and its rule, never its value (it may be what someone typed)."""
    problems = []
    for name, value in variables.items():
        kind = contract.get(name)
        if kind is None:
            problems.append(f"'{_safe_name(name)}' is not a variable of this process (the process contract "
                            "allows identifiers, dates and codes only; free text goes to the records store)")
        elif not value_fits(kind, value):
            problems.append(f"'{name}' must be of kind: {kind.value}")
    return problems


def _safe_name(name: str) -> str:
    """A variable name as it may appear in a message: names are keys, not values, but a
    hostile key could be anything, so only a short word-like name is repeated."""
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,60}", name) else "(a name that is not a word)"
