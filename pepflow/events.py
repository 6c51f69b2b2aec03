"""The council's events: what happened to a child, recorded as a fact, then told to
the process. The one place each event is handled; the CLI (``pep event ...``,
``pep form-returned``), the web, the demo and the Camunda 8 mode all call it.

For every event:

1. **Check it** against the child's record: the child exists; dates are not before
   the child's birth, not in the future (a change of school may be planned ahead),
   inside the care episode they belong to; the event is not a repeat of one already
   recorded (the same entry into care, the school the child already attends, the same
   returned file). A refusal says why and what to do; nothing is recorded.
2. **Record the fact** in the records store first (care episode, enrolment, returned
   document) with an event-log entry, audited - so the fact survives whatever the
   process is doing.
3. **Tell the process** with a message whose id is the event's (publishing twice is
   refused by the engine, as Zeebe does) and which lives as long as the fact matters:
   a change of school or a returned form waits until the process reaches the point
   where it matters (``Settings.event_message_days``), instead of an hour; messages
   about a care episode are keyed by the care-episode id, so a message can never reach
   the process of a later episode. The process itself re-reads the facts where they
   matter (an early returned form is taken in once, never asked for again).

Free text (a reason for leaving care) stays in the records store; messages carry
identifiers, dates and codes only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from .calendar import MissingTermDates, WorkingDays, academic_year_label, academic_year_of
from .casework import LONDON, local_date
from .domain.enums import DocumentKind, PepStatus
from .domain.meeting_dates import long_date
from .domain.rules import initial_meeting_due
from .domain.settings import Settings
from .engine.errors import InvalidState

#: message names (docs/process-contract.md)
CHILD_LOOKED_AFTER = "child-looked-after"
CHILD_ENTERED_CARE_EMERGENCY = "child-entered-care-emergency"
CHILD_ALREADY_IN_CARE = "child-already-in-care"
CHILD_LEFT_CARE = "child-left-care"
EDUCATION_SETTING_CHANGED = "education-setting-changed"
PEP_FORM_RETURNED = "pep-form-returned"
PEP_MEETING_CHANGED = "pep-meeting-changed"

#: what happened to an arranged PEP meeting (``meeting_changed``)
MEETING_CHANGES = {
    "moved": "moved",
    "cancelled": "cancelled",
    "not-held": "not held",
}

#: how far ahead a planned change of school may be recorded
MAX_DAYS_AHEAD = 120
#: an entry into care recorded later than this is not a new entry: the child is
#: already in care (an initial PEP is long past)
LATE_ENTRY_DAYS = 90


class EventRefused(ValueError):
    """An event the records contradict: the message says why and what to do."""


@dataclass(frozen=True)
class EventOutcome:
    """What an event did, in words a caseworker reads (the CLI prints it, the web
    shows it), with the event-log id and what the process was told."""

    summary: str
    event_id: int | None = None
    message_key: int | None = None
    started_instances: tuple[int, ...] = ()
    correlated_instances: tuple[int, ...] = ()
    warnings: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


class CouncilEvents:
    """Record and tell: one method per kind of council event.

    ``engine`` is the :class:`pepflow.engine.interface.WorkflowEngine` (embedded, or
    Camunda 8 through :class:`pepflow.zeebe.client.ZeebeEngine`); ``casework`` reads a
    returned Word form.
    """

    def __init__(self, store, engine, casework, clock, settings: Settings | None = None, *, zeebe: bool = False) -> None:
        self.store = store
        self.engine = engine
        self.casework = casework
        self.clock = clock
        self.settings = settings or getattr(getattr(casework, "config", None), "settings", None) or Settings()
        self.working_days = WorkingDays()
        self.zeebe = zeebe

    # ---------------------------------------------------------------- helpers
    def _today(self) -> date:
        return local_date(self.clock.now())

    def _keep_for(self) -> timedelta:
        return timedelta(days=self.settings.event_message_days)

    def _child(self, child_id: str):
        return self.store.child(child_id)  # UnknownChild says what to do

    def _check_not_future(self, day: date, what: str) -> None:
        if day > self._today():
            raise EventRefused(
                f"{what} {long_date(day)} is in the future: record it on the day it happens "
                f"(today is {long_date(self._today())})"
            )

    def _check_after_birth(self, child, day: date, what: str) -> None:
        if day < child.date_of_birth:
            raise EventRefused(
                f"{what} {long_date(day)} is before {child.id}'s date of birth "
                f"({long_date(child.date_of_birth)}): check the date"
            )

    def _open_episode(self, child_id: str, what: str):
        episode = self.store.current_care_episode(child_id)
        if episode is None:
            raise EventRefused(
                f"{child_id} is not recorded as in care, so {what} cannot be recorded: record the "
                f"entry into care first (pep event looked-after {child_id} --on DATE)"
            )
        return episode

    def _check_term_dates(self, setting_id: str | None, day: date, what: str) -> None:
        """The PEP this event starts needs the term dates of ``day``'s academic year (the
        setting's own, else the council's): refused now, naming both, rather than an
        operator incident later."""
        calendar = self.store.school_calendar_for(setting_id)
        try:
            calendar.terms_for(academic_year_of(day))
        except MissingTermDates as missing:
            where = self.store.setting(setting_id).name if setting_id else "the council (default term dates)"
            raise EventRefused(
                f"{what} cannot be scheduled: no term dates are loaded for {where} in "
                f"{academic_year_label(missing.academic_year)}. Import them first (pep import term-dates FILE), "
                f"then record the event again"
            ) from None

    def _publish(self, event, name: str, key: str, variables: dict[str, Any], ttl: timedelta):
        try:
            published = self.engine.publish_message(
                name, key, variables, time_to_live=ttl, message_id=f"council-event-{event.id}",
            )
        except InvalidState as exc:  # the same event told twice
            raise EventRefused(f"the process was already told of this event: {exc}") from exc
        self.store.events.told_process(event.id, name, str(published.message_key))
        return published

    def _outcome(self, summary: str, event, published, warnings=(), **details) -> EventOutcome:
        if self.zeebe and published is not None:
            summary += f" (message {published.message_key} published to Camunda 8)"
        return EventOutcome(
            summary=summary, event_id=event.id if event else None,
            message_key=published.message_key if published else None,
            started_instances=tuple(published.started_instances) if published else (),
            correlated_instances=tuple(published.correlated_instances) if published else (),
            warnings=tuple(warnings), details=details,
        )

    # --------------------------------------------------------- entry into care
    def looked_after(self, child_id: str, entered_on: date | None = None, *, emergency: bool = False, actor: str) -> EventOutcome:
        """1a/1b: a child becomes looked after (planned) or entered care in an emergency."""
        child = self._child(child_id)
        entered = entered_on or self._today()
        self._check_after_birth(child, entered, "The date of entry into care")
        self._check_not_future(entered, "The date of entry into care")
        if entered < self._today() - timedelta(days=LATE_ENTRY_DAYS):
            raise EventRefused(
                f"{child_id} entered care on {long_date(entered)}, more than {LATE_ENTRY_DAYS} days ago: an initial "
                f"PEP is long past. Record them as already in care (pep event already-in-care {child_id}); the "
                f"termly PEPs start from the next term"
            )
        for episode in self.store.care_episodes(child_id):
            if episode.is_open and episode.entered_care_on != entered:
                raise EventRefused(
                    f"{child_id} is already in care since {long_date(episode.entered_care_on)} "
                    f"(episode {episode.id}): record leaving care first, or correct the entry date"
                )
            if not episode.is_open and episode.left_care_on and entered <= episode.left_care_on:
                raise EventRefused(
                    f"{child_id} left care on {long_date(episode.left_care_on)}: a new entry into care "
                    f"must be after that date"
                )
        current = self.store.current_care_episode(child_id)
        if current is not None and self._told(child_id, current.id, ("looked-after", "already-in-care")):
            raise EventRefused(
                f"{child_id}'s entry into care on {long_date(current.entered_care_on)} is already recorded "
                f"and its PEP process started: nothing to do"
            )
        setting = self.store.setting_for(child_id, max(entered, self._today()))
        self._check_term_dates(None, max(entered, self._today()), f"{child_id}'s initial PEP")
        if setting is not None:
            self._check_term_dates(setting.id, max(entered, self._today()), f"{child_id}'s initial PEP")
        warnings = []
        due = initial_meeting_due(
            entered, self.settings.initial_meeting_days, self.settings.initial_meeting_day_kind, self.working_days,
            review_working_days=self.settings.initial_cla_review_working_days,
        )
        if due < self._today():
            warnings.append(
                f"recorded late: the initial PEP meeting was due by {long_date(due)}; the PEP co-ordinator "
                f"is told now and no reminder goes to the worker"
            )
        with self.store.atomic():
            episode = self.store.open_care_episode(child_id, entered, emergency=emergency, actor=actor)
            event = self.store.events.record(
                "looked-after", child_id, entered, actor=actor, care_episode_id=episode.id,
                details={"emergency": bool(emergency)},
            )
        name = CHILD_ENTERED_CARE_EMERGENCY if emergency else CHILD_LOOKED_AFTER
        published = self._publish(event, name, child_id, {
            "childId": child_id, "careEpisodeId": episode.id, "enteredCareOn": entered.isoformat(),
            "emergency": bool(emergency),
        }, timedelta(0))
        self._check_started(published, child_id)
        kind = "emergency entry (1b)" if emergency else "planned entry (1a)"
        return self._outcome(
            f"{child_id}: in care from {long_date(entered)}, {kind}; the PEP process started", event, published,
            warnings, care_episode_id=episode.id,
        )

    def already_in_care(self, child_id: str, *, actor: str) -> EventOutcome:
        """A child in care before the council started on this system: the termly cycle."""
        self._child(child_id)
        episode = self._open_episode(child_id, "the start of their termly PEP cycle")
        if self._told(child_id, episode.id, ("looked-after", "already-in-care")):
            raise EventRefused(f"{child_id}'s PEP process for this care episode has already started: nothing to do")
        setting = self.store.setting_for(child_id, self._today())
        self._check_term_dates(setting.id if setting else None, self._today(), f"{child_id}'s next PEP")
        event = self.store.events.record(
            "already-in-care", child_id, self._today(), actor=actor, care_episode_id=episode.id,
        )
        published = self._publish(event, CHILD_ALREADY_IN_CARE, child_id, {
            "childId": child_id, "careEpisodeId": episode.id,
        }, timedelta(0))
        self._check_started(published, child_id)
        return self._outcome(f"{child_id}: termly PEP cycle started", event, published, care_episode_id=episode.id)

    def _told(self, child_id: str, episode_id: str, kinds: tuple[str, ...]) -> bool:
        return any(e.kind in kinds and e.care_episode_id == episode_id for e in self.store.events.for_child(child_id))

    def _check_started(self, published, child_id: str) -> None:
        if not self.zeebe and not published.started_instances:
            raise EventRefused(
                f"no PEP process started for {child_id}: one is still running for this child "
                f"(see pep instances); close it before starting another"
            )

    # ---------------------------------------------------------- leaving care
    def left_care(self, child_id: str, on: date | None = None, *, reason: str = "left care", actor: str) -> EventOutcome:
        """The child left care: the PEP cycle ends wherever it is; nothing more is sent."""
        child = self._child(child_id)
        left = on or self._today()
        episode = self._open_episode(child_id, "leaving care")
        self._check_after_birth(child, left, "The date of leaving care")
        self._check_not_future(left, "The date of leaving care")
        if left < episode.entered_care_on:
            raise EventRefused(
                f"The date of leaving care {long_date(left)} is before {child_id} entered care on "
                f"{long_date(episode.entered_care_on)}: check the date"
            )
        reason = (reason or "").strip() or "left care"
        with self.store.atomic():
            self.store.close_care_episode(episode.id, left, reason, actor=actor)
            event = self.store.events.record(
                "left-care", child_id, left, actor=actor, care_episode_id=episode.id, details={"reason": reason},
            )
        published = self._publish(event, CHILD_LEFT_CARE, episode.id, {"leftCareOn": left.isoformat()}, timedelta(0))
        if self.zeebe:
            summary = f"{child_id}: left care on {long_date(left)}; Camunda 8 ends the PEP process"
        elif published.correlated_instances:
            summary = f"{child_id}: left care on {long_date(left)}; the PEP process is closing"
        else:
            summary = f"{child_id}: left care on {long_date(left)}; no PEP process was running for this care episode"
        return self._outcome(summary, event, published, care_episode_id=episode.id)

    # -------------------------------------------------------- change of school
    def setting_changed(self, child_id: str, setting_id: str, on: date | None = None, *, actor: str) -> EventOutcome:
        """A change of education setting: a new PEP at the new setting within 10 working
        days (statutory guidance). The process acts on it when it can: at once in the
        termly cycle; before the cycle starts (initial PEP still being arranged), as
        soon as it gets there."""
        child = self._child(child_id)
        changed = on or self._today()
        setting = self.store.setting(setting_id)  # UnknownSetting says what to do
        episode = self._open_episode(child_id, "a change of school")
        self._check_after_birth(child, changed, "The date of the change of school")
        if changed < episode.entered_care_on:
            raise EventRefused(
                f"The change of school on {long_date(changed)} is before {child_id} entered care on "
                f"{long_date(episode.entered_care_on)}: update the child's record instead (pep import children)"
            )
        if changed > self._today() + timedelta(days=MAX_DAYS_AHEAD):
            raise EventRefused(
                f"The change of school on {long_date(changed)} is more than {MAX_DAYS_AHEAD} days ahead: "
                f"record it nearer the time"
            )
        for earlier in self.store.events.for_child(child_id, "setting-changed"):
            if earlier.occurred_on == changed and earlier.details.get("setting_id") == setting.id:
                raise EventRefused(
                    f"{child_id}'s move to {setting.name} on {long_date(changed)} is already recorded "
                    f"(by {earlier.recorded_by}): nothing to do"
                )
        enrolments = self.store.enrolments(child_id)
        enrolment = next(
            (e for e in enrolments if e.starts_on <= changed and (e.ends_on is None or changed <= e.ends_on)), None,
        )
        if enrolment is not None and enrolment.setting_id == setting.id and enrolment.starts_on < changed:
            raise EventRefused(
                f"{child_id} already attends {setting.name} ({setting.id}), since "
                f"{long_date(enrolment.starts_on)}: nothing changed, and the PEP in hand stays as it is"
            )
        if enrolment is not None and enrolment.setting_id != setting.id and enrolment.starts_on == changed:
            current = self.store.setting(enrolment.setting_id)
            raise EventRefused(
                f"{child_id}'s record has them starting at {current.name} on that same day "
                f"({long_date(changed)}): if that record is wrong, correct the child's record (pep import children)"
            )
        later = [e for e in enrolments if e.starts_on > changed]
        if later:
            moved = self.store.setting(later[0].setting_id)
            raise EventRefused(
                f"{child_id}'s record already has a move to {moved.name} on {long_date(later[0].starts_on)}, after "
                f"{long_date(changed)}: record changes of school in the order they happen (to bring that move "
                f"forward, correct the child's record with pep import children)"
            )
        self._check_term_dates(setting.id, max(changed, self._today()), f"The PEP at {setting.name}")
        previous = self.store.setting_for(child_id, changed - timedelta(days=1))
        with self.store.atomic():
            if enrolment is None or enrolment.setting_id != setting.id:
                self.store.enrol(child_id, setting.id, changed, actor=actor)
            # else: the council's import already holds this move (from this date)
            event = self.store.events.record(
                "setting-changed", child_id, changed, actor=actor, care_episode_id=episode.id,
                details={"setting_id": setting.id, "previous_setting_id": previous.id if previous else None},
            )
        published = self._publish(event, EDUCATION_SETTING_CHANGED, episode.id, {
            "newSettingId": setting.id, "settingChangedOn": changed.isoformat(),
        }, self._keep_for())
        if self.zeebe or published.correlated_instances:
            summary = f"{child_id}: at {setting.name} from {long_date(changed)}; a new PEP is being scheduled"
        else:
            summary = (
                f"{child_id}: at {setting.name} from {long_date(changed)}; the PEP process will schedule "
                f"the new PEP as soon as the initial PEP is arranged"
            )
        return self._outcome(summary, event, published, setting_id=setting.id)

    # ------------------------------------------------ meeting moved / not held
    def meeting_changed(self, pep_id: str, change: str, new_meeting_at, *, reason: str, actor: str) -> EventOutcome:
        """An arranged PEP meeting was moved, cancelled or not held; what happens next is
        the new date and time it is rearranged for. The PEP record takes the new date
        at once; the process is told, and waits for the new time (the worker records
        the meeting then, not at the old time), with the form's reminder and the
        deadlines to record and finalise worked out again from the new date."""
        from .meetings import MeetingDates
        from .domain.meeting_dates import MeetingDateRefused

        if change not in MEETING_CHANGES:
            raise EventRefused(f"{change!r} is not a change to a meeting: choose one of {', '.join(MEETING_CHANGES)}")
        pep = self.store.pep(pep_id)
        if pep.status.is_closed:
            raise EventRefused(f"{pep_id} is {pep.status.value.replace('-', ' ')}: its meeting cannot change")
        if pep.status not in (PepStatus.NOT_STARTED, PepStatus.IN_PROGRESS, PepStatus.FORM_SENT, PepStatus.FORM_RETURNED):
            raise EventRefused(
                f"{pep_id}'s meeting is already recorded as held: a meeting recorded cannot be moved. If the "
                f"record is wrong, correct it (pep correct {pep_id} --section meeting-record)")
        if pep.meeting_at is None:
            raise EventRefused(
                f"{pep_id} has no meeting arranged yet: arrange it in the task \"Arrange initial PEP meeting\"")
        reason = (reason or "").strip()
        if not reason:
            raise EventRefused("Say why the meeting changed (it is kept in the PEP record)")
        now = self.clock.now()
        old = pep.meeting_at
        if change == "not-held" and old > now:
            raise EventRefused(
                f"The meeting on {long_date(local_date(old))} at {old.astimezone(LONDON):%H:%M} has not happened "
                f"yet: it can be moved or cancelled, not \"not held\"")
        if new_meeting_at <= now:
            raise EventRefused(
                f"The new meeting {long_date(local_date(new_meeting_at))} at "
                f"{new_meeting_at.astimezone(LONDON):%H:%M} is not in the future: enter the date and time it is "
                f"rearranged for")
        if new_meeting_at == old:
            raise EventRefused("The new date and time are the ones already arranged: nothing changed")
        dates = MeetingDates(self.store, self.clock, self.working_days)
        try:
            dates.check(dates.place_for_pep(pep), new_meeting_at, "The new meeting date")
        except MeetingDateRefused as refused:
            raise EventRefused(str(refused)) from None
        with self.store.atomic():
            self.store.update_pep(pep_id, actor=actor, meeting_at=new_meeting_at)
            event = self.store.events.record(
                "meeting-changed", pep.child_id, local_date(now), actor=actor, pep_id=pep_id,
                care_episode_id=pep.care_episode_id,
                details={"change": change, "from": old.isoformat(), "to": new_meeting_at.isoformat(), "reason": reason},
            )
        ttl = max(new_meeting_at - now, timedelta(0)) + self._keep_for()
        published = self._publish(event, PEP_MEETING_CHANGED, pep_id, {
            "changedMeetingAt": new_meeting_at.isoformat(), "meetingChange": change,
        }, ttl)
        what = MEETING_CHANGES[change]
        summary = (f"{pep_id}: the meeting of {long_date(local_date(old))} was {what}; now "
                   f"{long_date(local_date(new_meeting_at))} at {new_meeting_at.astimezone(LONDON):%H:%M}")
        return self._outcome(summary, event, published, pep_id=pep_id)

    # ---------------------------------------------------------- returned form
    def form_returned(self, pep_id: str, data: bytes, *, actor: str, accept: bool = False) -> EventOutcome:
        """Step 4: the designated teacher's Word form came back. It is checked, kept and
        read (refused, nothing kept, when it is not this PEP's form); a PEP that is
        final or cancelled takes nothing in; the same file twice is taken in once.
        What the read-back flagged and what the form changes against an earlier
        return wait for business support's review, unless ``accept`` (the person
        taking it in accepts it as read: recorded as theirs)."""
        from .school_returns import ReturnRefused

        pep = self.store.pep(pep_id)
        try:
            self.casework.returns.check_open(pep_id)
        except ReturnRefused as exc:
            raise EventRefused(str(exc)) from None
        digest = hashlib.sha256(data).hexdigest()
        for document in self.store.documents(pep_id, DocumentKind.RETURNED):
            if document.sha256 == digest:
                raise EventRefused(
                    f"this file was already taken in for {pep_id} on "
                    f"{long_date(document.created_at.astimezone(LONDON).date())} "
                    f"({document.filename}): nothing to do"
                )
        result = self.casework.receive_school_form(pep_id, data, actor=actor, accept=accept)
        report = result.pop("report")
        event = self.store.events.record(
            "form-returned", pep.child_id, self._today(), actor=actor, pep_id=pep_id,
            care_episode_id=pep.care_episode_id, details={"returned_document_id": result["returnedDocumentId"]},
        )
        meeting = pep.meeting_at or self.clock.now()
        ttl = max(meeting - self.clock.now(), timedelta(0)) + self._keep_for()
        published = self._publish(event, PEP_FORM_RETURNED, pep_id, {"schoolReturnId": result["schoolReturnId"]}, ttl)
        # the report says each flag and change in words; the summary says what happens next
        warnings = tuple(report.lines()[1:]) if report.needs_review else ()
        if report.status == "pending":
            summary = (
                f"{pep_id}: form kept (document {result['returnedDocumentId']}) and waiting for business support's "
                f"review: {report.flag_count} flagged, {len(report.changes)} changed against an earlier return "
                f"(`pep form-review show {report.return_id}`)"
            )
        else:
            who = "" if report.decided_by in (None, "system") else f", accepted by {report.decided_by}"
            summary = f"{pep_id}: form taken in (document {result['returnedDocumentId']}{who})"
        return self._outcome(summary, event, published, list(warnings), needsReview=report.status == "pending",
                             flagCount=report.flag_count, changeCount=len(report.changes), **result)

