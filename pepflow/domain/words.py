"""Codes as the words people read: PEP statuses, and instants as UK wall-clock time."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from .enums import PepStatus

LONDON = ZoneInfo("Europe/London")

STATUS_WORDS: dict[PepStatus, str] = {
    PepStatus.NOT_STARTED: "not started",
    PepStatus.IN_PROGRESS: "in progress (social worker's part)",
    PepStatus.FORM_SENT: "form sent to the setting",
    PepStatus.FORM_RETURNED: "form returned by the setting",
    PepStatus.MEETING_HELD: "meeting held",
    PepStatus.TYPED_UP: "typed up, awaiting the worker's check",
    PepStatus.RETURNED_FOR_CHANGES: "returned for changes",
    PepStatus.FINAL: "final",
    PepStatus.CANCELLED: "cancelled",
}


def status_words(status: PepStatus | str) -> str:
    return STATUS_WORDS[PepStatus(status)]


def local_time(instant: datetime) -> str:
    """``Tue 22 Sep 2026 14:30``, in England's time (BST or GMT as the date has it)."""
    return instant.astimezone(LONDON).strftime("%a %d %b %Y %H:%M")
