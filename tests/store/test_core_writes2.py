"""Quality rounds, school return decisions, care episodes, enrolments and document
bytes through Core (issue 16): the same records, audit entries and errors as the ORM
gave, reads inside a transaction seeing its own changes, loaded ORM copies expired
after a Core write, and the orders the callers rely on."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from pepflow.domain.quality import SEED_CRITERIA
from pepflow.store import RecordsError, UnknownRecord
from pepflow.store.errors import DuplicateRecord, InvalidRecord, UnknownCareEpisode, UnknownChild, UnknownPep
from pepflow.store.models import CareEpisodeRow, SchoolReturnRow
from pepflow.store.quality import QualityRecords, QualityRefused
from pepflow.store.quality_models import QualityReviewRow

from .test_ppp_ledger import VS, _pep, finalise

ALL_GREEN = {c.code: ("green", None) for c in SEED_CRITERIA}


def audit(store, entity, entity_id):
    return [(a.actor_id, a.action, a.diff) for a in store.audit_entries(entity, entity_id)]


def test_seeding_inside_a_transaction_is_seen_by_the_criteria_in_order(sample_store, clock):
    qa = QualityRecords(sample_store)
    with sample_store.atomic():
        assert qa.seed_criteria(actor=VS) == len(SEED_CRITERIA)
        criteria = qa.criteria()
    assert [c.code for c in criteria] == [c.code for c in SEED_CRITERIA]
    assert [c.position for c in criteria] == list(range(1, len(SEED_CRITERIA) + 1))
    assert all(c.active for c in criteria)
    assert audit(sample_store, "qa-criteria", "list") == [
        (VS, "seed", {"criteria": [None, [c.code for c in SEED_CRITERIA]]})]


def test_rounds_read_their_own_writes_and_expire_loaded_copies(sample_store, clock):
    store, qa = sample_store, QualityRecords(sample_store)
    qa.seed_criteria(actor=VS)
    with pytest.raises(UnknownPep):
        qa.open_round("PEP-C-0001-2030-AUT", actor=VS)
    with pytest.raises(UnknownRecord, match="no such quality review"):
        qa.rate(9999, ALL_GREEN, "green", None, actor=VS)
    with pytest.raises(UnknownRecord, match="no such quality review"):
        qa.mark_improved(9999, actor=VS)
    pep = _pep(store, "C-0001", 2026, "autumn")
    finalise(store, pep.id, document=True)
    assert qa.final_peps_without_review() == [pep.id]
    with store.atomic():
        opened = qa.open_round(pep.id, actor="system")
        assert qa.final_peps_without_review() == []  # its own new round
        assert qa.open_round(pep.id, actor="system") == opened == qa.review(opened.id)
        with store.uow.transaction() as s:
            loaded = s.get(QualityReviewRow, opened.id)
        rated = qa.rate(opened.id, {**ALL_GREEN, "smart-targets": ("red", "No dates")}, "red", "Add dates", actor=VS)
        assert (loaded.status, loaded.rating, loaded.returned_at) == ("returned", "red", clock.now())
    assert rated == qa.review(opened.id) and rated.returned_at == clock.now()
    assert [c.code for c in rated.criteria] == [c.code for c in SEED_CRITERIA]  # the criteria's order
    assert audit(store, "pep", pep.id)[-2:] == [
        ("system", "quality-review-opened", {"round": [None, 1], "final_version": [None, 1]}),
        (VS, "quality-rated", {"round": [None, 1], "rating": [None, "red"], "criteria": [None, {
            c.title: ("red" if c.code == "smart-targets" else "green") for c in SEED_CRITERIA}],
            "returned_for_improvement": [None, True]})]
    with pytest.raises(QualityRefused, match="no corrected final PEP since it was returned"):
        qa.mark_improved(opened.id, actor=VS)


def test_final_peps_without_a_round_come_oldest_first(sample_store, clock):
    store, qa = sample_store, QualityRecords(sample_store)
    later = _pep(store, "C-0001", 2026, "autumn")
    finalise(store, later.id, document=True)
    with store.uow.transaction() as s:  # finalised earlier, made later
        s.execute(sa.text("UPDATE peps SET finalised_at = :at WHERE id = :id"),
                  {"at": clock.now().replace(year=2020), "id": later.id})
    other = _pep(store, "C-0002", 2026, "autumn")
    finalise(store, other.id, document=True)
    assert qa.final_peps_without_review() == [later.id, other.id]


def _pending_return(store, clock):
    pep = store.create_pep("C-0001", 2026, "autumn", actor="ST-0001")
    document = store.record_document(pep.id, "returned", "r.docx", content=b"r", actor="ES-0001")
    return pep, store.returns.add(pep.id, document.id, form_version=1, latest_form_version=1, values={"a": 1},
                                  findings=[], changes=[], actor="ES-0001")


@pytest.mark.parametrize("edits", [None, {"sdq": 15}])
def test_a_decision_is_written_audited_and_read_back_fresh(sample_store, clock, edits):
    store = sample_store
    pep, added = _pending_return(store, clock)
    with pytest.raises(RecordsError, match="there is no returned form 9999"):
        store.returns.decide(9999, "accepted", actor="BS-0001")
    with store.atomic():
        with store.uow.transaction() as s:
            loaded = s.get(SchoolReturnRow, added.id)
        decided = store.returns.decide(added.id, "queried", actor="BS-0001", edits=edits, query="Which SDQ?")
        assert loaded.status == "queried" and loaded.edits == edits  # the loaded copy was expired
        assert store.returns.get(added.id) == decided
    assert store.returns.get(added.id) == decided
    assert (decided.status, decided.edits, decided.query, decided.decided_at, decided.decided_by) == (
        "queried", edits, "Which SDQ?", clock.now(), "BS-0001")
    assert audit(store, "pep", pep.id)[-1] == ("BS-0001", "school-return-queried", {
        "return_id": [added.id, added.id], "status": ["pending", "queried"],
        **({"edits": [None, edits]} if edits else {}), "query": [None, "Which SDQ?"]})
    with store.uow.rows() as conn:  # no edits: still SQL NULL, not a JSON null
        nulls = conn.execute(sa.text("SELECT count(*) FROM school_returns WHERE edits IS NULL")).scalar()
    assert nulls == (1 if edits is None else 0)
    with pytest.raises(RecordsError, match=f"returned form {added.id} of {pep.id} was already queried by BS-0001"):
        store.returns.decide(added.id, "accepted", actor="BS-0001")


def test_care_episodes_and_enrolments_through_core(sample_store, clock):
    store = sample_store
    with pytest.raises(UnknownChild):
        store.open_care_episode("C-9999", date(2026, 9, 1), actor="ST-0001")
    with pytest.raises(UnknownCareEpisode):
        store.care_episode("CE-9999-1")
    with pytest.raises(UnknownChild):
        store.care_episodes("C-9999")
    assert store.enrolments("C-9999") == []
    before = store.care_episodes("C-0001")
    for episode in before:
        if episode.is_open:
            store.close_care_episode(episode.id, episode.entered_care_on, "returned home", actor="ST-0001")
    with store.atomic():
        opened = store.open_care_episode("C-0001", date(2030, 1, 5), emergency=True, actor="ST-0001")
        assert store.care_episode(opened.id) == opened
        assert store.care_episodes("C-0001")[-1] == opened  # by entry date, its own new one last
        assert store.open_care_episode("C-0001", date(2030, 1, 5), actor="ST-0001") == opened
        with pytest.raises(InvalidRecord, match=f"already in care \\(episode {opened.id} from 2030-01-05\\)"):
            store.open_care_episode("C-0001", date(2030, 2, 1), actor="ST-0001")
    assert opened.id == f"CE-0001-{len(before) + 1}"
    assert (opened.child_id, opened.emergency, opened.left_care_on, opened.left_care_reason) == (
        "C-0001", True, None, None)
    assert audit(store, "care-episode", opened.id) == [("ST-0001", "create", {
        "child_id": [None, "C-0001"], "entered_care_on": [None, "2030-01-05"], "emergency": [None, True]})]
    store.close_care_episode(opened.id, date(2030, 3, 1), "adopted", actor="ST-0001")
    with pytest.raises(DuplicateRecord, match="'CE-0001-1' already exists"):
        store.open_care_episode("C-0001", date(2030, 4, 1), episode_id="CE-0001-1", actor="ST-0001")
    with store.uow.transaction() as s:
        assert s.get(CareEpisodeRow, opened.id).left_care_reason == "adopted"
    with store.atomic():
        store.enrol("C-0001", "ES-0002", date(2031, 1, 5), actor="ST-0001")
        mine = store.enrolments("C-0001")
    assert mine == store.enrolments("C-0001")
    assert [e.starts_on for e in mine] == sorted(e.starts_on for e in mine) and mine[-1].setting_id == "ES-0002"


def test_document_bytes_inside_a_transaction_and_unknown_ids(sample_store):
    store = sample_store
    pep = store.create_pep("C-0001", 2026, "autumn", actor="ST-0001")
    with store.atomic():
        document = store.record_document(pep.id, "returned", "r.docx", content=b"bytes", actor="ES-0001")
        assert store.document_content(document.id) == b"bytes"
    with pytest.raises(UnknownRecord, match="no such document version"):
        store.document_content(999999)
