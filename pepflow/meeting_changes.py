"""A PEP meeting moved, cancelled or not held (:meth:`pepflow.events.CouncilEvents.meeting_changed`):
the process's step that works the dates out again from the new meeting
(``RescheduleMeetingTask``, ``RescheduleMeetingDuringFormTask``: task type
``reschedule-pep-meeting``).

The form's reminder and the deadlines to record the meeting and to finalise the PEP
all count from the meeting (docs/process-rules.md rules 10, 12, 14), so they move
with it; the form itself is not sent again (a form already sent or returned stands).
"""

from __future__ import annotations

from typing import Any

from .casework import SYSTEM, iso, local_date, parse_instant


def reschedule_meeting(casework, pep_id: str, changed_meeting_at: str) -> dict[str, Any]:
    store = casework.store
    pep = store.pep(pep_id)
    meeting = parse_instant(changed_meeting_at)
    if pep.meeting_at != meeting:  # recorded by the event first; a replay finds it done
        pep = store.update_pep(pep_id, actor=SYSTEM, meeting_at=meeting)
    sent_on = local_date(pep.form_sent_at) if pep.form_sent_at else local_date(casework.clock.now())
    deadlines = casework.deadlines.write_up_deadlines(pep, meeting)  # the one rule for them
    store.escalations.resolve(pep.id, ("meeting-not-recorded",), "meeting rearranged")
    return {
        "meetingAt": iso(meeting),
        "formReminderAt": iso(casework.deadlines.form_reminder_at(pep, meeting, sent_on)),
        **deadlines,
    }
