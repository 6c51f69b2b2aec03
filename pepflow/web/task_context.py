"""What the person deciding at a task needs to see beside its form (issue 14): the
worker checking and finalising sees the typed-up PEP (its sections from the records
store, in words); business support typing it up again sees why it was sent back
(the reason from the finalise form, and the worker's comments). Both see a form
returned for the PEP that still waits for review (a health visitor's form, one that
came after the meeting started): its answers are not in the PEP until it is reviewed."""

from __future__ import annotations

import json
import re
from typing import Any

from pepflow.domain.enums import PepSection

SECTION_TITLES = {
    PepSection.SOCIAL_WORKER: "Social worker's part",
    PepSection.SCHOOL_RETURN: "From the school's returned form",
    PepSection.MEETING_RECORD: "Meeting record",
}
RETURN_REASONS = {
    "typing-errors": "Typing errors", "section-missing": "Section missing or incomplete",
    "targets-not-smart": "Targets not SMART", "attendees-or-dates": "Attendees or dates wrong",
    "other": "Other (see the comments)",
}


def words(key: str) -> str:
    """``nextMeetingDates`` / ``next_meeting_dates`` -> "Next meeting dates"."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key).replace("_", " ").replace("-", " ").strip().lower()
    return text[:1].upper() + text[1:]


def shown(value: Any) -> str:
    from .pages import _ukdate

    if value is None or value == "" or value == []:
        return "–"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}(T.*)?", value):
        return _ukdate(value)
    if isinstance(value, list):
        return "; ".join(shown(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{words(k)}: {shown(v)}" for k, v in value.items())
    return str(value) if not isinstance(value, (int, float)) else json.dumps(value)


def context_for(web, task) -> dict[str, Any]:
    pep_id = task.variables.get("pepId")
    out: dict[str, Any] = {"sections": [], "send_back": None, "returns_waiting": []}
    if not isinstance(pep_id, str):
        return out
    if task.element_id in ("TypeUpPepTask", "CheckAndFinalisePepTask"):
        out["returns_waiting"] = [
            {"id": stored.id, "received": stored.received_at, "flags": len(stored.findings)}
            for stored in web.store.returns.pending_for(pep_id)
        ]
    if task.element_id == "CheckAndFinalisePepTask":
        for section, title in SECTION_TITLES.items():
            content = web.store.section(pep_id, section)
            if content:
                out["sections"].append({"title": title, "rows": [(words(k), shown(v)) for k, v in content.items()]})
    if task.element_id == "TypeUpPepTask":
        code = task.variables.get("returnReasonCode")
        if code:
            out["send_back"] = RETURN_REASONS.get(code, words(code))
    return out
