"""What a worker who sends a typed-up PEP back asks business support to change.

The send-back itself is a code in the ``finalise-pep`` form (``returnReasonCode``):
process variables carry codes, never notes. The words - "target 2 needs a date; the
carer's name is misspelt" - are kept here, in the PEP's records (audited), and shown
on the next "Type up PEP" task and the PEP page.
"""

from __future__ import annotations

from .clock import Clock
from .domain.enums import PepSection, PepStatus
from .store import RecordsStore

MAX_COMMENT = 2000


def record_return_comments(store: RecordsStore, clock: Clock, pep_id: str, text: str, *, actor: str) -> None:
    words = (text or "").strip()
    if not words or len(words) > MAX_COMMENT:
        raise ValueError(f"the comments must be 1 to {MAX_COMMENT} characters")
    pep = store.pep(pep_id)
    if pep.status.is_closed:
        raise ValueError(f"{pep_id} is {pep.status.value}: nothing can be sent back")
    if pep.status not in (PepStatus.TYPED_UP, PepStatus.RETURNED_FOR_CHANGES, PepStatus.MEETING_HELD):
        raise ValueError(f"{pep_id} is {pep.status.value}: comments for business support come when it is typed up")
    notes = store.section(pep_id, PepSection.CHECK_NOTES) or {"comments": []}
    notes = {"comments": [*notes.get("comments", []), {"at": clock.now().isoformat(), "by": actor, "text": words}]}
    store.save_section(pep_id, PepSection.CHECK_NOTES, notes, actor=actor)


def return_comments(store: RecordsStore, pep_id: str) -> list[dict]:
    """The comments so far, oldest first: ``{"at", "by", "text"}``."""
    return list((store.section(pep_id, PepSection.CHECK_NOTES) or {}).get("comments", []))
