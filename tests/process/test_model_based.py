"""Model-based test of the PEP process (Hypothesis ``RuleBasedStateMachine``).

Rules are what happens in a council: its events (a child comes into care, leaves care,
changes school - right, early, late, twice, in the holidays), schools returning forms
(early, late, twice, for the wrong PEP, with something flagged), business support
deciding returns on the review list (taken in or asked again, before or after the
process reaches them), caseworkers completing their tasks (with what they would enter,
with any date at all, late, or never) and the clock moving on,
across a whole academic year. After every step the invariants a Virtual School relies
on are checked on the real embedded product (engine, workers, records, documents,
outbox):

- at most one open PEP per child;
- a final PEP never changes;
- nothing is mailed about a child after their leaving care was recorded;
- no PEP meeting is on a day its setting is closed (a working day with no setting);
- every PEP progresses or someone has been told: no task waits past its due date
  without an escalation to the PEP co-ordinator, and no step ends in an incident;
- every returned form is taken in once (a file twice is refused);
- no PEP is made final while a form returned for it waits for review;
- every attendee gets each final PEP exactly once.

CI runs a fixed budget (profile ``ci``); ``PEP_HYPOTHESIS_PROFILE=long`` runs the long
profile by hand. Counter-examples found while writing it are plain regression tests in
``test_real_sequences.py``.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from pepflow.casework import local_date
from pepflow.documents.fill import edit_document, fill_form, set_text
from pepflow.domain.enums import DocumentKind, MailStatus, PepStatus
from pepflow.domain.meeting_dates import is_valid_day
from pepflow.engine.errors import InvalidVariables
from pepflow.events import EventRefused
from pepflow.mail.transport import TransientMailError
from pepflow.return_review import decide
from pepflow.store.errors import RecordsError
from pepflow.store.workload import WorkloadQueries
from pepflow.roleplay import RolePlayer
from pepflow.demo import school_answers_for

from .conftest import PepWorld

settings.register_profile(
    "ci", max_examples=3, stateful_step_count=45, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.register_profile(
    "long", max_examples=60, stateful_step_count=120, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
PROFILE = os.environ.get("PEP_HYPOTHESIS_PROFILE", "ci")

START = datetime(2026, 9, 7, 8, 0, tzinfo=timezone.utc)  # Monday of the first week of the autumn term
CHILDREN = ("C-0001", "C-0002", "C-0003", "C-0004", "C-0005", "C-0006", "C-0007")
SETTINGS = ("ES-0001", "ES-0002", "ES-0003", "ES-0004", "ES-0005")
#: how late an escalation may follow a due date: the timer fires at the due instant;
#: the check runs after the step that crossed it
GRACE = timedelta(minutes=1)


def run(coro):
    return asyncio.run(coro)


class PepProcessMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="pep-model-"))
        self.world = PepWorld(f"sqlite:///{self.tmp / 'pep.sqlite3'}", START, self.tmp)
        self.roles = RolePlayer(self.world.store, return_pep_at_first_check=False)
        self.finals: dict[str, tuple] = {}  # PEP id -> its record when it became final
        self.left_at: dict[str, datetime] = {}  # care episode -> when leaving it was recorded
        self.accepted_returns: Counter = Counter()  # PEP id -> returned files taken in

    def teardown(self) -> None:
        self.world.close()

    # ---------------------------------------------------------------- helpers
    @property
    def now(self) -> datetime:
        return self.world.clock.now()

    def idle(self) -> None:
        run(self.world.runtime.run_until_idle())

    def event(self, fn, *args, **kwargs) -> None:
        """A council event: recorded and told, or refused with nothing recorded."""
        before = len(self.world.store.audit_entries())
        try:
            fn(*args, **kwargs)
        except EventRefused:
            assert len(self.world.store.audit_entries()) == before, "a refused event changed the records"
            return
        self.idle()

    # ---------------------------------------------------------------- rules
    @initialize(starts=st.lists(st.sampled_from(("looked-after", "already-in-care", "none")), min_size=7, max_size=7))
    def council_starts(self, starts):
        events = self.world.events
        for child_id, how in zip(CHILDREN, starts):
            episode = self.world.store.current_care_episode(child_id)
            if how == "looked-after" and episode and episode.entered_care_on <= local_date(self.now):
                self.event(events.looked_after, child_id, episode.entered_care_on, actor="model")
            elif how == "already-in-care":
                self.event(events.already_in_care, child_id, actor="model")

    @rule(child=st.sampled_from(CHILDREN))
    def child_comes_into_care(self, child):
        episode = self.world.store.current_care_episode(child)
        on = episode.entered_care_on if episode else local_date(self.now)
        self.event(self.world.events.looked_after, child, on, actor="model")

    @rule(child=st.sampled_from(CHILDREN), setting=st.sampled_from(SETTINGS), ahead=st.integers(-5, 10))
    def child_changes_school(self, child, setting, ahead):
        on = local_date(self.now) + timedelta(days=ahead)
        self.event(self.world.events.setting_changed, child, setting, on, actor="model")

    @rule(child=st.sampled_from(CHILDREN), back=st.integers(0, 3))
    def child_leaves_care(self, child, back):
        before = len(self.world.store.audit_entries())
        episode = self.world.store.current_care_episode(child)
        try:
            self.world.events.left_care(child, local_date(self.now) - timedelta(days=back), reason="model", actor="model")
        except EventRefused:
            assert len(self.world.store.audit_entries()) == before
            return
        self.left_at[episode.id] = self.now
        self.idle()

    @rule(data=st.data())
    def school_returns_a_form(self, data):
        """A designated teacher returns the latest form they were sent (any PEP, any time:
        early, late, twice, for a PEP that is final)."""
        store = self.world.store
        sent = sorted({m.pep_id for m in store.mail_log() if m.kind in ("pep-form", "initial-pep") and m.pep_id})
        if not sent:
            return
        pep_id = data.draw(st.sampled_from(sent))
        form = store.latest_document(pep_id, DocumentKind.FORM)
        answers = school_answers_for(store.pep(pep_id).variant.value, local_date(self.now))
        filled = fill_form(store.document_content(form.id), answers)
        if data.draw(st.booleans()):  # an answer the form cannot read: it waits for review
            try:
                filled = edit_document(filled, lambda root: set_text(root, "school.attendance_percent", "most days"))
            except LookupError:
                pass  # a form with no attendance box (the health visitor's): returned as filled
        twice = data.draw(st.booleans())
        for _ in range(2 if twice else 1):
            before = len(store.documents(pep_id, DocumentKind.RETURNED))
            try:
                self.world.events.form_returned(pep_id, filled, actor="model school")
            except EventRefused:
                assert len(store.documents(pep_id, DocumentKind.RETURNED)) == before
                continue
            self.accepted_returns[pep_id] += 1
            self.idle()

    @rule(data=st.data(), accept=st.booleans())
    def business_support_decides_a_return_on_the_review_list(self, data, accept):
        """Whether or not a review task waits for it (the review page completes the task
        when there is one), early or late."""
        waiting = [r for r in self.world.store.returns.pending() if not self.world.store.pep(r.pep_id).status.is_closed]
        if not waiting:
            return
        stored = data.draw(st.sampled_from(waiting))
        how = ("accept", {}) if accept else ("ask-again", {"query": "Please give the attendance as a percentage."})
        try:
            run(decide(self.world, stored.id, how[0], actor="ST-0011", **how[1]))
        except (RecordsError, ValueError):  # ReturnRefused and the review's refusals are ValueErrors
            return  # refused with a reason on the page
        self.idle()

    @rule(data=st.data(), how=st.sampled_from(("right", "right", "right", "any-date", "never")))
    def caseworker_works_a_task(self, data, how):
        tasks = self.world.engine.user_tasks()
        if not tasks or how == "never":
            return
        task = data.draw(st.sampled_from(sorted(tasks, key=lambda t: t.user_task_key)))
        values = self.roles.variables_for(task, self.now)
        if how == "any-date":
            day = data.draw(st.dates(min_value=date(2026, 9, 1), max_value=date(2027, 8, 31)))
            stamp = datetime(day.year, day.month, day.day, 10, tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")
            if "meetingAt" in values:
                values["meetingAt"] = stamp
            elif "nextPepDate1" in values:
                values["nextPepDate1"] = stamp  # the form's date field (its expression computes the list)
                if "nextMeetingDates" in values:
                    values["nextMeetingDates"] = [stamp, *values["nextMeetingDates"][1:]]
        try:
            self.world.engine.complete_user_task(task.user_task_key, values, actor=self.roles.actor_for(task))
        except InvalidVariables:
            return  # refused with a reason: the person tries again another day
        self.idle()

    @rule(failures=st.integers(1, 12))
    def the_mail_relay_has_trouble(self, failures):
        """The relay refuses for a while: mail waits queued and goes out on retry."""
        self.world.mailer.fail_with = [TransientMailError("421 service not available") for _ in range(failures)]

    @rule(days=st.integers(1, 21))
    def time_passes(self, days):
        run(self.world.runtime.advance(timedelta(days=days)))

    # ---------------------------------------------------------------- invariants
    @invariant()
    def at_most_one_open_pep_per_child(self):
        for child in CHILDREN:
            open_ = [p.id for p in self.world.store.peps_for(child) if not p.status.is_closed]
            assert len(open_) <= 1, f"{child} has open PEPs {open_}"

    @invariant()
    def a_final_pep_never_changes(self):
        store = self.world.store
        for child in CHILDREN:
            for pep in store.peps_for(child):
                if pep.status != PepStatus.FINAL:
                    continue
                now = (pep, {s: store.section(pep.id, s) for s in ("school-return", "meeting-record")},
                       [(d.kind, d.version, d.sha256) for d in store.documents(pep.id)])
                assert self.finals.setdefault(pep.id, now) == now, f"final {pep.id} changed"

    @invariant()
    def nothing_is_mailed_about_a_child_after_leaving_care(self):
        store = self.world.store
        for episode_id, left in self.left_at.items():
            child = store.care_episode(episode_id).child_id
            for pep in store.peps_for(child):
                if pep.care_episode_id != episode_id:
                    continue  # a later episode (the child came back into care) is mailed as usual
                for entry in store.mail_log(pep.id):
                    sent = [e for e in entry.status_history if e.get("status") == MailStatus.SENT.value]
                    for event in sent:
                        at = datetime.fromisoformat(event["at"])
                        assert at <= left, f"{entry.kind} about {pep.id} sent at {at}, after leaving care at {left}"

    @invariant()
    def no_meeting_on_a_day_the_setting_is_closed(self):
        casework = self.world.casework
        for child in CHILDREN:
            for pep in self.world.store.peps_for(child):
                if pep.meeting_at is None or pep.status == PepStatus.CANCELLED:
                    continue
                place = casework.meetings.place_for_pep(pep)
                assert is_valid_day(local_date(pep.meeting_at), place), f"{pep.id} meets on {pep.meeting_at}"

    @invariant()
    def every_pep_progresses_or_someone_was_told(self):
        engine, store = self.world.engine, self.world.store
        incidents = engine.incidents()
        assert incidents == [], f"incidents: {[(i.element_id, i.error_message) for i in incidents]}"
        for task in engine.user_tasks():
            pep_id = task.variables.get("pepId")
            if task.due_date is None:
                assert False, f"{task.element_id} of {pep_id} has no due date"
            if task.due_date + GRACE < self.now:
                raised = [e for e in store.escalations.for_pep(pep_id) if e.raised_at <= self.now]
                assert raised, f"{task.element_id} of {pep_id} due {task.due_date} and nobody was told"

    @invariant()
    def every_returned_form_is_taken_in_once(self):
        store = self.world.store
        for pep_id, accepted in self.accepted_returns.items():
            returned = store.documents(pep_id, DocumentKind.RETURNED)
            assert len(returned) == accepted
            assert len({d.sha256 for d in returned}) == len(returned)
            taken = [a for a in store.audit_entries("pep", pep_id) if a.action == "update" and "form_returned_at" in a.diff]
            assert len(taken) <= 1, f"{pep_id} taken in {len(taken)} times"

    @invariant()
    def no_pep_is_made_final_while_a_return_waits_for_review(self):
        found = WorkloadQueries(self.world.store).finalised_before_review()
        assert found == [], f"made final while a returned form waited for review: {found}"

    @invariant()
    def every_attendee_gets_each_final_pep_once(self):
        store = self.world.store
        for pep_id in self.finals:
            pep = store.pep(pep_id)
            if pep.finalised_at is None or pep.finalised_at >= self.now:
                continue
            sent = Counter(
                store.outbox_message(m.id, with_content=False).recipient_party_id
                for m in store.mail_log(pep_id) if m.kind == "final-pep"
            )
            for attendee in pep.attendee_ids:
                assert sent[attendee] == 1, f"{pep_id}: attendee {attendee} got the final PEP {sent[attendee]} times"


PepProcessMachine.TestCase.settings = settings.get_profile(PROFILE)
TestPepProcess = PepProcessMachine.TestCase
