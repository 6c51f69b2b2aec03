"""Reads through Core (issue 16) answer what the ORM answered: inside a transaction
they see its own changes not yet committed (``UnitOfWork.rows`` flushes first), a
collection comes in the ORM's order, and an unknown key gives the same error."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from pepflow.domain.enums import StaffRole
from pepflow.store.errors import RecordsError, UnknownChild, UnknownContact, UnknownRecord
from pepflow.store.mail_repo import already_logged
from pepflow.store.models import CouncilEventRow, MailLogRow
from pepflow.store.quality import QualityRecords
from pepflow.store.workload import WorkloadQueries

from .test_ppp_ledger import SW, _pep


class _Rollback(Exception):
    """Ends a test's transaction without committing it."""


def test_staff_reads_inside_a_transaction_see_its_own_change(sample_store):
    with pytest.raises(_Rollback), sample_store.atomic():
        sample_store.save_staff("ST-0100", "Ola Newhall", "ola.newhall@council.example.org",
                                ["team-manager", "business-support"], team="north", login="ONEWHALL", actor=SW)
        member = sample_store.staff("ST-0100")
        assert member.roles == (StaffRole.BUSINESS_SUPPORT, StaffRole.TEAM_MANAGER)  # by role, as the ORM
        assert sample_store.staff_by_login("onewhall") == member
        assert member in sample_store.staff_with_role("team-manager")
        assert member in sample_store.all_staff()
        assert sample_store.address_for("ST-0100").email == "ola.newhall@council.example.org"
        raise _Rollback
    assert sample_store.staff_by_login("onewhall") is None


def test_a_member_with_a_role_comes_with_all_their_roles(sample_store):
    admin = next(s for s in sample_store.staff_with_role("operator") if s.id == "ST-0030")
    assert admin.roles == (StaffRole.ADMINISTRATOR, StaffRole.OPERATOR)
    ids = [s.id for s in sample_store.all_staff()]
    assert ids == sorted(ids) and len(ids) == len(set(ids)) == 13


def test_contacts_inside_a_transaction_and_unknown_ones(sample_store):
    with pytest.raises(_Rollback), sample_store.atomic():
        sample_store.save_contact("CT-0100", "C-0001", "parent", "Pat Examplewood",
                                  email="pat@example.org", receives_pep=True, actor=SW)
        assert [c.id for c in sample_store.contacts_for("C-0001")] == ["CT-0006", "CT-0100"]
        assert sample_store.contact("CT-0100").receives_pep is True
        assert sample_store.address_for("CT-0100").role == "parent"
        raise _Rollback
    with pytest.raises(UnknownContact, match="CT-0100"):
        sample_store.contact("CT-0100")
    with pytest.raises(UnknownChild, match="C-0404"):
        sample_store.contacts_for("C-0404")


def test_peps_of_a_child_inside_a_transaction(sample_store):
    with pytest.raises(_Rollback), sample_store.atomic():
        spring = _pep(sample_store, "C-0001", 2026, "spring")
        assert sample_store.open_pep("C-0001") == spring
        sample_store.update_pep(spring.id, attendee_ids=["ST-0002", "CT-0006"], actor=SW)
        assert [p.attendee_ids for p in sample_store.peps_for("C-0001")] == [("ST-0002", "CT-0006")]
        raise _Rollback
    assert sample_store.peps_for("C-0001") == [] and sample_store.open_pep("C-0001") is None
    with pytest.raises(UnknownChild, match="C-0404"):
        sample_store.peps_for("C-0404")


def test_returns_inside_a_transaction_and_an_unknown_one(sample_store):
    pep = _pep(sample_store, "C-0001", 2026, "autumn")
    document = sample_store.record_document(pep.id, "returned", "form.docx", content=b"form", actor="system")
    with pytest.raises(_Rollback), sample_store.atomic():
        stored = sample_store.returns.add(pep.id, document.id, form_version=1, latest_form_version=1,
                                          values={"attendance": "96%"}, findings=[{"field": "x"}], changes=[],
                                          actor="system")
        assert sample_store.returns.get(stored.id) == stored
        assert sample_store.returns.for_pep(pep.id) == [stored] == sample_store.returns.pending()
        raise _Rollback
    with pytest.raises(RecordsError, match=f"^there is no returned form {stored.id}$"):
        sample_store.returns.get(stored.id)
    assert sample_store.returns.for_pep(pep.id) == []


def test_an_unknown_quality_review(sample_store):
    with pytest.raises(UnknownRecord, match="no such quality review"):
        QualityRecords(sample_store).review(404)
    assert QualityRecords(sample_store).reviews_for("PEP-NONE") == []


def test_allocations_and_cover_inside_a_transaction(sample_store):
    day = date(2026, 10, 1)
    with pytest.raises(_Rollback), sample_store.atomic():
        sample_store.allocations.allocate("C-0001", "ST-0002", "social-worker", starts_on=day, actor="TM")
        assert ("ST-0002", day) in [(a.staff_id, a.starts_on) for a in sample_store.allocations.for_child("C-0001")]
        assert sample_store.allocations.on("C-0001", "social-worker", day).staff_id == "ST-0002"
        sample_store.cover.reassign_task(101, "C-0001", "ST-0002", reason="covering", actor="TM",
                                         audit_entity=("child", "C-0001"))
        assert sample_store.cover.task_reassignments()[101].staff_id == "ST-0002"
        assert [t.user_task_key for t in sample_store.cover.tasks_given_to("ST-0002")] == [101]
        raise _Rollback
    assert sample_store.cover.task_reassignments() == {} and sample_store.cover.task_reassignment(101) is None


def test_the_calendar_inside_a_transaction_sees_its_new_term_dates(sample_store):
    before = sample_store.school_calendar_for(None)
    with pytest.raises(_Rollback), sample_store.atomic():
        sample_store.save_inset_day(date(2026, 10, 2), actor=SW)
        assert date(2026, 10, 2) in sample_store.school_calendar_for(None).terms_for(2026).inset_days
        raise _Rollback
    after = sample_store.school_calendar_for(None).terms_for(2026)
    assert date(2026, 10, 2) not in after.inset_days and after == before.terms_for(2026)


def test_a_mail_logged_but_not_flushed_is_already_logged(sample_store):
    now = sample_store.clock.now()
    with pytest.raises(_Rollback), sample_store.uow.transaction() as s:
        s.add(MailLogRow(idempotency_key="k-1", pep_id=None, kind="test", recipient="a@example.org",
                         status="queued", status_history=[{"status": "queued"}], created_at=now, updated_at=now))
        found = already_logged(s, "k-1", None)
        assert (found.idempotency_key, found.status_history) == ("k-1", ({"status": "queued"},))
        assert sample_store.mail_entry("k-1") == found
        raise _Rollback
    assert sample_store.mail_entry("k-1") is None


def test_forms_awaited_inside_a_transaction(sample_store):
    pep = _pep(sample_store, "C-0001", 2026, "autumn")
    with pytest.raises(_Rollback), sample_store.atomic():
        sample_store.update_pep(pep.id, status="form-sent", form_sent_at=sample_store.clock.now(), actor=SW)
        assert [a.pep_id for a in WorkloadQueries(sample_store).awaiting_form()] == [pep.id]
        raise _Rollback
    assert WorkloadQueries(sample_store).awaiting_form() == []


def test_the_process_told_of_an_event_in_the_transaction_that_recorded_it(sample_store):
    with sample_store.uow.transaction() as s:
        event = sample_store.events.record("left-care", "C-0001", date(2026, 9, 1), actor=SW,
                                           details={"reason": "adopted", "on": date(2026, 9, 1)})
        held = s.get(CouncilEventRow, event.id)  # an ORM copy of the row, held in the transaction
        told = sample_store.events.told_process(event.id, "ChildLeftCare", "42")
        assert told == event.model_copy(update={"message_name": "ChildLeftCare", "message_key": "42",
                                                "told_process_at": sample_store.clock.now()})
        assert (held.message_name, held.message_key) == ("ChildLeftCare", "42")  # it reads the update
        assert sample_store.events.for_child("C-0001") == [told]
    assert sample_store.events.for_child("C-0001", "left-care") == [told]
    assert told.details == {"reason": "adopted", "on": "2026-09-01"}
    with pytest.raises(UnknownRecord, match="404"):
        sample_store.events.told_process(404, "ChildLeftCare", None)


def test_forms_awaited_say_their_latest_return(sample_store):
    """The simulated schools read whether a form already came back, and what became of
    it, from the same query (the latest return of each PEP)."""
    pep = _pep(sample_store, "C-0001", 2026, "autumn")
    sent = sample_store.clock.now()
    sample_store.update_pep(pep.id, status="form-sent", form_sent_at=sent, actor=SW)
    [waiting] = WorkloadQueries(sample_store).awaiting_form()
    assert (waiting.last_return_status, waiting.last_return_at, waiting.last_decided_at) == (None, None, None)
    document = sample_store.record_document(pep.id, "returned", "form.docx", content=b"form", actor=SW)
    nothing = {"form_version": 1, "latest_form_version": 1, "values": {}, "findings": [], "changes": []}
    first = sample_store.returns.add(pep.id, document.id, **nothing, actor=SW)
    sample_store.clock.advance(timedelta(days=1))
    second = sample_store.returns.add(pep.id, document.id, **nothing, actor=SW)
    sample_store.returns.decide(second.id, "queried", actor=SW, query="Which attendance figure is right?")
    [waiting] = WorkloadQueries(sample_store).awaiting_form()
    assert waiting.last_return_status == "queried"  # the latest of the two, not the first
    assert waiting.last_return_at == sample_store.returns.get(second.id).received_at
    assert waiting.last_decided_at is not None and waiting.last_decided_at.tzinfo is not None
    assert sample_store.returns.get(first.id).status == "pending"


def test_a_pep_made_final_while_a_return_waited_for_review_is_found(sample_store):
    """The simulated year's check (rule 14a): a return that came before the PEP was made
    final and was decided after it, or never, is found; one decided before is not."""
    from .test_ppp_ledger import finalise

    nothing = {"form_version": 1, "latest_form_version": 1, "values": {}, "findings": [], "changes": []}
    pep = _pep(sample_store, "C-0001", 2026, "autumn")
    document = sample_store.record_document(pep.id, "returned", "form.docx", content=b"form", actor=SW)
    reviewed = sample_store.returns.add(pep.id, document.id, **nothing, actor=SW)
    sample_store.clock.advance(timedelta(hours=1))
    sample_store.returns.decide(reviewed.id, "accepted", actor=SW)
    waiting = sample_store.returns.add(pep.id, document.id, **nothing, actor=SW)
    late = sample_store.returns.add(pep.id, document.id, **nothing, actor=SW)
    sample_store.clock.advance(timedelta(hours=1))
    finalise(sample_store, pep.id)
    sample_store.clock.advance(timedelta(hours=1))
    sample_store.returns.decide(late.id, "accepted", actor=SW)
    found = WorkloadQueries(sample_store).finalised_before_review()
    assert [(p, r, d is None) for p, r, _, d in found] == [(pep.id, waiting.id, True), (pep.id, late.id, False)]

