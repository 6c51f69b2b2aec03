"""Every change writes an audit entry in the same transaction: both or neither."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from pepflow.store import InvalidRecord, RecordsStore, UnknownChild

ADMIN = "ST-0030"


class BrokenClock:
    """A clock that fails: nothing may be stored without its audit stamp."""

    def now(self) -> datetime:
        raise RuntimeError("the clock is broken")


def test_each_change_is_audited_with_who_when_what(sample_store, clock):
    clock.advance(timedelta(hours=1))
    sample_store.save_child(
        "C-0100",
        "Ada",
        "Newcomb",
        date(2015, 3, 1),
        locality="north",
        social_worker_id="ST-0001",
        actor=ADMIN,
    )
    entry = sample_store.audit_entries("child", "C-0100")[-1]
    assert (entry.actor_id, entry.at, entry.entity, entry.entity_id, entry.action) == (
        ADMIN,
        clock.now(),
        "child",
        "C-0100",
        "create",
    )
    assert entry.diff["date_of_birth"] == [None, "2015-03-01"]
    assert entry.diff["social_worker_id"] == [None, "ST-0001"]

    clock.advance(timedelta(days=1))
    sample_store.save_child(
        "C-0100",
        "Ada",
        "Newcomb-Hart",
        date(2015, 3, 1),
        locality="north",
        social_worker_id="ST-0001",
        actor="ST-0001",
    )
    update = sample_store.audit_entries("child", "C-0100")[-1]
    assert (update.action, update.actor_id, update.at) == ("update", "ST-0001", clock.now())
    assert update.diff == {"family_name": ["Newcomb", "Newcomb-Hart"]}

    # saving the same values again changes nothing and audits nothing
    sample_store.save_child(
        "C-0100",
        "Ada",
        "Newcomb-Hart",
        date(2015, 3, 1),
        locality="north",
        social_worker_id="ST-0001",
        actor="ST-0001",
    )
    assert len(sample_store.audit_entries("child", "C-0100")) == 2


def test_a_peps_history_is_in_one_place(sample_store):
    pep = sample_store.create_pep("C-0001", 2026, "autumn", actor="ST-0001")
    sample_store.record_pep_view(pep.id, actor="ST-0020")
    sample_store.update_pep(pep.id, status="form-sent", actor="ST-0011")
    sample_store.save_section(pep.id, "social-worker", {"views": "x"}, actor="ST-0001")
    sample_store.record_document(pep.id, "form", "f.docx", content=b"doc", actor="ST-0001")
    sample_store.record_mail(
        "k",
        pep_id=pep.id,
        kind="pep-form",
        recipient="dt@oakridge-primary.example.org",
        actor="ST-0011",
    )
    sample_store.set_mail_status("k", "sent", actor="ST-0011")
    assert [e.action for e in sample_store.audit_entries("pep", pep.id)] == [
        "create",
        "view",
        "update",
        "save-section:social-worker",
        "record-document",
        "record-mail",
        "mail-status",
    ]
    assert sample_store.audit_entries("pep", pep.id)[2].diff == {
        "status": ["not-started", "form-sent"]
    }


def test_a_failed_change_leaves_no_audit_entry(sample_store):
    before = sample_store.audit_entries()
    with pytest.raises(UnknownChild):
        sample_store.create_pep("C-0404", 2026, "autumn", actor="ST-0001")
    with pytest.raises(InvalidRecord):
        sample_store.save_staff("ST-0100", "New Person", "not-an-email", ["operator"], actor=ADMIN)
    with pytest.raises(InvalidRecord, match="actor"):
        sample_store.save_staff(
            "ST-0100", "New Person", "new@council.example.org", ["operator"], actor=""
        )
    assert sample_store.audit_entries() == before


def test_a_transaction_that_fails_keeps_neither_the_changes_nor_their_audit(sample_store):
    before = sample_store.audit_entries()
    with pytest.raises(RuntimeError, match="later step failed"):
        with sample_store.atomic():
            pep = sample_store.create_pep("C-0001", 2026, "autumn", actor="ST-0001")
            sample_store.update_pep(pep.id, status="in-progress", actor="ST-0001")
            # inside the transaction the change and its audit are visible...
            assert len(sample_store.audit_entries("pep", pep.id)) == 2
            raise RuntimeError("a later step failed")
    # ...and after the failure neither is there
    assert sample_store.current_pep("C-0001") is None
    assert sample_store.audit_entries() == before


def test_no_change_is_stored_without_its_audit_entry(database_url, sample_store):
    broken = RecordsStore(database_url, BrokenClock())
    try:
        with pytest.raises(RuntimeError, match="clock is broken"):
            broken.save_child("C-0100", "Ada", "Newcomb", date(2015, 3, 1), actor=ADMIN)
        with pytest.raises(RuntimeError, match="clock is broken"):
            broken.set_carer("C-0001", None, actor=ADMIN)
    finally:
        broken.close()
    with pytest.raises(UnknownChild):
        sample_store.child("C-0100")
    assert sample_store.child("C-0001").carer_contact_id == "CT-0006"


def test_audit_stamps_are_aware_utc(sample_store):
    entry = sample_store.audit_entries()[0]
    assert entry.at.tzinfo is not None
    assert entry.at == datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc)
    assert entry.actor_id == ADMIN
