"""The product's rules on what a person enters in a user task, checked before the task
completes, so the web and the CLI refuse a bad value there and then with the reason
(the embedded engine calls :meth:`TaskChecks.check`, registered by the composition
root). On Camunda 8, where Tasklist completes the task, the diagram's next step checks
the same values with the same rule and sends the task back with the reason
(``CheckInitialMeetingDateTask``, ``RecordMeetingOutcomeTask``, ``CheckFinaliseTask``).
"""

from __future__ import annotations

from typing import Any

from .casework import Casework, parse_instant
from .engine.errors import InvalidVariables


def _dated_fields(form_id: str, values: dict[str, Any]) -> list[tuple[str, Any]]:
    """(form field, value) for every meeting date the form carries."""
    if form_id == "arrange-initial-meeting":
        return [("meetingAt", values.get("meetingAt"))] if values.get("meetingAt") else []
    fields = [(key, values.get(key)) for key in ("nextPepDate1", "nextPepDate2") if values.get(key)]
    if not fields and values.get("nextMeetingDates"):
        fields = [("nextMeetingDates", d) for d in values["nextMeetingDates"]]
    return fields


class TaskChecks:
    """Meeting dates (the one rule of :mod:`pepflow.domain.meeting_dates`) in the forms
    that set them; no PEP approved as final while a form returned for it waits for
    review."""

    def __init__(self, casework: Casework) -> None:
        self.casework = casework

    def check(self, task, submitted: dict[str, Any]) -> None:
        values = {**task.variables, **submitted}
        pep_id = values.get("pepId")
        if pep_id and task.form_id == "finalise-pep" and submitted.get("pepApproved") is True:
            problem = self.casework.finalise_problem(pep_id)
            if problem is not None:  # returning it for changes stays open to the person
                raise InvalidVariables(problem, problems=[f"pepApproved: {problem}"])
            return
        if not pep_id or task.form_id not in ("arrange-initial-meeting", "record-pep-meeting"):
            return
        pep = self.casework.store.pep(pep_id)
        initial = task.form_id == "arrange-initial-meeting"
        what = "The meeting date" if initial else "The next PEP date"
        problems = []
        # the dates the person sent (checked against the form already): a field left
        # out is empty, not the value an earlier meeting left in the process
        for field, raw in _dated_fields(task.form_id, submitted):
            try:
                instant = parse_instant(raw)
            except (ValueError, TypeError):
                problems.append(f"{field}: {raw!r} is not a date and time")
                continue
            problem = self.casework.meeting_date_problem(pep, [instant], what, initial=initial)
            if problem is not None:
                problems.append(f"{field}: {problem.message}")
        if problems:
            raise InvalidVariables("; ".join(p.split(": ", 1)[1] for p in problems), problems=problems)
