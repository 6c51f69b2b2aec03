"""Escalations: a wait that a person owns ran past its deadline.

Each kind names the step, who owns it and what the PEP co-ordinator can do. The
deadlines are computed with the PEP's dates (``Casework.schedule_pep_dates``) and
passed to the diagram's boundary timers; the rules, who is told and their sources are
in ``docs/process-rules.md``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EscalationKind:
    code: str
    what: str  # the late step, as a noun phrase ("the record of the PEP meeting")
    owner: str  # who owns it: "worker" (SW / LCW / PA) or "business-support"
    variable: str  # the process variable of the timer that raises it
    next_step: str
    due_variable: str = ""  # the deadline the message names, when not the timer's own

    @property
    def deadline_variable(self) -> str:
        return self.due_variable or self.variable


KINDS: dict[str, EscalationKind] = {
    "initial-meeting": EscalationKind(
        "initial-meeting", "the initial PEP meeting", "worker", "initialMeetingDueAt",
        "Please contact the worker; if they are away, reassign the task so the meeting is arranged.",
    ),
    "social-worker-part": EscalationKind(
        "social-worker-part", "the social worker's part of the PEP form", "worker", "swPartEscalateAt",
        "The form cannot go to the school until it is done. Please contact the worker or reassign the task.",
        due_variable="swPartDueAt",
    ),
    "form-not-sent": EscalationKind(
        "form-not-sent", "sending the PEP form to the school", "worker", "swPartDueAt",
        "The form has not gone because the worker's part is not done. The meeting date stands: "
        "please contact the worker or reassign the task.",
    ),
    "meeting-not-recorded": EscalationKind(
        "meeting-not-recorded", "the record of the PEP meeting", "worker", "meetingRecordDueAt",
        "If the meeting was held, the worker records it (attendees and next dates); if it was not, "
        "it needs rearranging. Please contact the worker or reassign the task.",
    ),
    "final-pep-late": EscalationKind(
        "final-pep-late", "the final PEP", "business-support", "finaliseDueAt",
        "The PEP is being typed up or checked. Please contact business support and the worker.",
    ),
}


def kind(code: str) -> EscalationKind:
    try:
        return KINDS[code]
    except KeyError:
        raise ValueError(
            f"unknown escalation {code!r} in the diagram's task header 'escalation'; known: {', '.join(KINDS)}"
        ) from None
