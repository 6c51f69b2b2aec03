"""A PEP's or a child's history as people read it: the audit log, the mail log and
the documents turned into dated sentences, grouped into kinds a reader can filter.

Nothing is dropped: an audit action with no sentence here is shown by its code, so
a new kind of entry appears on the page instead of vanishing. Views of the record
(who opened it, who downloaded what) are a kind of their own, off by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable

from . import words

KINDS: dict[str, str] = {
    "progress": "Progress",
    "late": "Late steps and problems",
    "mail": "Mail",
    "documents": "Documents",
    "changes": "Changes to the child's record",
    "views": "Who viewed the record",
}
DEFAULT_KINDS = ("progress", "late", "mail", "documents", "changes")

FIELD_WORDS = {
    "status": "Status", "meeting_at": "Meeting", "form_sent_at": "Form sent", "form_returned_at": "Form returned",
    "finalised_at": "Finalised", "owner_staff_id": "Owner", "owner_role": "Owner's role", "variant": "Phase",
    "setting_id": "Education setting", "attendee_ids": "Attendees", "is_initial": "Initial PEP",
}
SECTION_WORDS = {
    "social-worker": "the social worker's part", "school-return": "what the school returned",
    "meeting-record": "the meeting record", "check-notes": "the worker's comments for typing up",
}
EVENTS = {
    "meeting-after-statutory-deadline": ("late", "Meeting arranged after the statutory deadline"),
    "meeting-date-refused": ("late", "A meeting date was refused"),
    "owner-not-allocated": ("late", "Nobody was allocated to own the PEP: the team manager's queue has it"),
    "reminder-not-sent": ("late", "A reminder could not be sent"),
    "returned-for-changes": ("progress", "Sent back to business support for changes"),
    "owner-changed": ("progress", "Owner changed"),
    "cancel-reason": ("progress", "PEP cancelled"),
    "correction": ("progress", "Final PEP corrected"),
    "document-password-given": ("documents", "Document password given by phone"),
    "task-reassigned": ("progress", "Task reassigned"),
    "create": ("progress", "PEP record created"),
    "view": ("views", "Viewed the PEP"),
    "download-document": ("views", "Downloaded a document"),
    "allocate": ("changes", "Worker allocated"),
    "end-allocation": ("changes", "Allocation ended"),
    "enrol": ("changes", "Enrolled at an education setting"),
    "handover-blocked": ("late", "Open tasks could not follow the new allocation"),
}


MAIL_EVENTS = {
    "mail-sent": "Mail sent", "mail-withdrawn": "Mail withdrawn (never sent)",
    "mail-retry-scheduled": "Mail not accepted yet: a new attempt is scheduled", "mail-failed": "Mail failed",
    "mail-retry-requested": "Mail queued again",
}


def _after(change: Any) -> Any:
    """The new value of a ``[before, after]`` diff entry ({} when there is none)."""
    if isinstance(change, (list, tuple)) and len(change) == 2:
        return change[1] if change[1] is not None else {}
    return change if change is not None else {}


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str
    who: str
    what: str
    detail: str = ""

    @property
    def kind_words(self) -> str:
        return KINDS.get(self.kind, self.kind)


def _value(field: str, value: Any, person: Callable[[str], str]) -> str:
    if value in (None, "", []):
        return "none"
    if field == "status":
        return words.status(value)
    if field == "variant":
        return words.variant(value)
    if field == "owner_role":
        return words.role(value)
    if field == "owner_staff_id":
        return person(value)
    if field.endswith("_at") or field.endswith("_on"):
        try:
            return words.long_datetime(value) if "T" in str(value) else words.long_date(value)
        except ValueError:
            return str(value)
    if isinstance(value, bool):
        return words.yes_no(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _update_sentences(diff: dict[str, Any], person: Callable[[str], str]) -> tuple[str, str]:
    """An ``update`` entry's diff ({field: [before, after]}) as a headline and detail."""
    parts = []
    headline = "Record updated"
    for field, change in diff.items():
        if not (isinstance(change, (list, tuple)) and len(change) == 2):
            parts.append(f"{FIELD_WORDS.get(field, field)} changed")
            continue
        before, after = change
        label = FIELD_WORDS.get(field, field.replace("_", " ").capitalize())
        if field == "status":
            headline = f"Status: {_value(field, after, person)}"
        elif field == "meeting_at" and before in (None, ""):
            headline = f"Meeting arranged for {_value(field, after, person)}"
            continue
        elif field == "meeting_at":
            headline = f"Meeting moved to {_value(field, after, person)}"
        if before in (None, "", []):
            parts.append(f"{label}: {_value(field, after, person)}")
        else:
            parts.append(f"{label}: {_value(field, before, person)} → {_value(field, after, person)}")
    return headline, "; ".join(parts)


def audit_entry(entry, *, person: Callable[[str], str], element: Callable[[str], str]) -> Entry:
    """One audit entry in words."""
    action, diff = entry.action, entry.diff or {}
    who = person(entry.actor_id)
    code, _, arg = action.partition(":")
    if action == "update":
        what, detail = _update_sentences(diff, person)
        return Entry(entry.at, "progress", who, what, detail)
    if code == "complete-task":
        return Entry(entry.at, "progress", who, f"Completed “{element(arg)}”")
    if code == "view-task":
        return Entry(entry.at, "views", who, f"Opened the task “{element(arg)}”")
    if code in ("save-draft", "discard-draft", "delete-draft"):
        return Entry(entry.at, "views", who, f"Saved a draft of “{element(arg)}”" if code == "save-draft"
                     else f"Discarded a draft of “{element(arg)}”")
    if code in ("save-section", "correct-section"):
        verb = "Recorded" if code == "save-section" else "Corrected"
        return Entry(entry.at, "progress", who, f"{verb} {SECTION_WORDS.get(arg, arg)}")
    if code == "escalate":
        return Entry(entry.at, "late", who, f"Escalated to the PEP co-ordinator: {_escalation(arg)}")
    if code == "resolve-escalation":
        return Entry(entry.at, "late", who, f"Late step done: {_escalation(arg)}")
    if action == "record-document":
        doc = _after(diff.get("document"))
        return Entry(entry.at, "documents", who, f"{words.document_kind(doc.get('kind'))} stored (version {doc.get('version', '?')})",
                     str(doc.get("filename") or ""))
    if action == "record-mail":
        mail = _after(diff.get("mail"))
        return Entry(entry.at, "mail", who, f"{words.mail_kind(mail.get('kind'))}: queued to send",
                     f"to {mail['recipient']}" if mail.get("recipient") else "")
    if code.startswith("mail-"):
        status = _after(diff.get("status"))
        what = MAIL_EVENTS.get(action, action.replace("-", " ").capitalize())
        return Entry(entry.at, "mail", who, what, words.mail_status(status) if status else "")
    if code == "event":
        return Entry(entry.at, "changes", who, f"Council event recorded: {arg.replace('-', ' ')}")
    kind, what = EVENTS.get(action, ("changes" if entry.entity == "child" else "progress", action.replace("-", " ").capitalize()))
    detail = ""
    if action == "cancel-reason" and isinstance(diff.get("reason"), str):
        detail = diff["reason"]
    elif action in ("allocate", "end-allocation", "owner-changed"):
        detail = "; ".join(f"{FIELD_WORDS.get(k, k.replace('_', ' '))}: {_value(k, v[-1] if isinstance(v, (list, tuple)) and v else v, person)}"
                           for k, v in diff.items() if k in ("role", "staff_id", "owner_staff_id", "starts_on", "ends_on"))
    return Entry(entry.at, kind, who, what, detail)


def _escalation(kind: str) -> str:
    from pepflow.escalation import KINDS as ESCALATIONS

    found = ESCALATIONS.get(kind)
    return found.what if found else kind


def build(entries: Iterable[Entry], kinds: Iterable[str]) -> list[Entry]:
    """The entries of the chosen kinds, newest first."""
    chosen = set(kinds)
    return sorted((e for e in entries if e.kind in chosen and e.at is not None), key=lambda e: e.at, reverse=True)


def chosen_kinds(requested: list[str] | None) -> tuple[str, ...]:
    """The kinds a reader asked for; an unknown kind is refused with the list of known ones."""
    if not requested:
        return DEFAULT_KINDS
    unknown = [k for k in requested if k not in KINDS]
    if unknown:
        raise ValueError(f"“{', '.join(unknown)}” is not a kind of history entry; choose from {', '.join(KINDS)}")
    return tuple(dict.fromkeys(requested))
