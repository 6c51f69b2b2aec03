"""The Virtual School's criteria and quality review rounds in the records store, on
SQLite and PostgreSQL: rated once per round, red needs the reason and is improved only
by a corrected final PEP, every change audited."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from pepflow.domain.quality import SEED_CRITERIA
from pepflow.store.quality import QualityRecords, QualityRefused

from .test_ppp_ledger import VS, _pep, finalise

ALL_GREEN = {c.code: ("green", None) for c in SEED_CRITERIA}


def test_criteria_are_seeded_once_and_edited_by_the_virtual_school(sample_store):
    qa = QualityRecords(sample_store)
    assert qa.seed_criteria(actor=VS) == len(SEED_CRITERIA)
    assert qa.seed_criteria(actor=VS) == 0
    qa.save_criterion("send-needs", "SEND needs are met", "EHCP reviews and agencies named", actor=VS)
    qa.save_criterion("actions-agreed", "Actions agreed", "Who and when", active=False, actor=VS)
    codes = [c.code for c in qa.criteria()]
    assert codes[-1] == "send-needs" and "actions-agreed" not in codes
    assert "actions-agreed" in [c.code for c in qa.criteria(include_retired=True)]
    with pytest.raises(QualityRefused, match="lower-case letters"):
        qa.save_criterion("Bad Code", "x", "y", actor=VS)
    with pytest.raises(QualityRefused, match="title is needed"):
        qa.save_criterion("empty-title", " ", "y", actor=VS)
    actions = [e.action for e in sample_store.audit_entries("qa-criteria")]
    assert actions == ["seed", "create", "update"]


def test_two_steps_seeding_at_the_same_moment_keep_one_list(sample_store):
    """The first final PEPs' quality reviews open together: both steps find no criteria
    before either writes. One list is seeded, once audited, and neither step fails
    (it failed with 'UNIQUE constraint failed: qa_criteria.code' in a simulated year)."""
    qa = QualityRecords(sample_store)
    both_counted = threading.Barrier(2, timeout=10)
    waited: set[str] = set()

    def after(_conn, _cursor, statement, _params, _context, _many):
        me = threading.current_thread().name
        if statement.lstrip().upper().startswith("SELECT COUNT(*)") and "qa_criteria" in statement and me not in waited:
            waited.add(me)  # each step's first count only: the step that lost counts again
            both_counted.wait()

    for engine in sample_store.uow.engines:
        sa.event.listen(engine, "after_cursor_execute", after)
    try:
        with ThreadPoolExecutor(2) as pool:
            added = sorted(pool.map(lambda _: qa.seed_criteria(actor="system"), range(2)))
    finally:
        for engine in sample_store.uow.engines:
            sa.event.remove(engine, "after_cursor_execute", after)
    assert not both_counted.broken  # the race was made, not missed
    assert added == [0, len(SEED_CRITERIA)]
    assert [c.code for c in qa.criteria()] == [c.code for c in SEED_CRITERIA]
    assert [e.action for e in sample_store.audit_entries("qa-criteria")] == ["seed"]


def test_a_round_is_rated_red_returned_improved_by_a_correction_and_rated_again(sample_store):
    qa = QualityRecords(sample_store)
    qa.seed_criteria(actor=VS)
    pep = _pep(sample_store, "C-0001", 2026, "autumn")
    with pytest.raises(QualityRefused, match="only a final PEP"):
        qa.open_round(pep.id, actor=VS)
    finalise(sample_store, pep.id, document=True)
    first = qa.open_round(pep.id, actor="system")
    assert qa.open_round(pep.id, actor="system").id == first.id  # the open round, not another

    ratings = {**ALL_GREEN, "smart-targets": ("red", None)}
    with pytest.raises(QualityRefused, match="Targets are SMART: rated red, so say what should improve"):
        qa.rate(first.id, ratings, "red", "Targets need dates", actor=VS)
    with pytest.raises(QualityRefused, match="not rated: .*The child's voice"):
        qa.rate(first.id, {"smart-targets": ("green", None)}, "green", None, actor=VS)
    with pytest.raises(QualityRefused, match="what must be improved"):
        qa.rate(first.id, ALL_GREEN, "red", "", actor=VS)
    assert qa.review(first.id).criteria == ()  # nothing kept from a refused rating

    ratings["smart-targets"] = ("red", "No target has a date or a measure")
    rated = qa.rate(first.id, ratings, "red", "Make the targets SMART", actor=VS)
    assert rated.status.value == "returned" and rated.rating.value == "red"
    assert {c.code: c.rating.value for c in rated.criteria}["smart-targets"] == "red"
    with pytest.raises(QualityRefused, match="cannot be rated again"):
        qa.rate(first.id, ALL_GREEN, "green", None, actor=VS)
    with pytest.raises(QualityRefused, match="with the social worker and the school"):
        qa.open_round(pep.id, actor="system")
    with pytest.raises(QualityRefused, match="no corrected final PEP since it was returned"):
        qa.mark_improved(first.id, actor="ST-0001")

    sample_store.record_document(pep.id, "final", f"{pep.id}-final-v2.docx", content=b"v2", actor="ST-0001",
                                 correction="targets made SMART")
    assert qa.mark_improved(first.id, actor="ST-0001").status.value == "improved"
    second = qa.open_round(pep.id, actor="system")
    assert (second.round, second.final_version) == (2, 2)
    green = qa.rate(second.id, ALL_GREEN, "green", None, actor=VS)
    assert green.status.value == "rated"
    assert [r.rating.value for r in qa.reviews_for(pep.id)] == ["red", "green"]
    actions = [e.action for e in sample_store.audit_entries("pep", pep.id) if e.action.startswith("quality")]
    assert actions == ["quality-review-opened", "quality-rated", "quality-improved", "quality-review-opened",
                       "quality-rated"]


def test_a_criterion_renamed_later_keeps_its_old_title_in_old_ratings(sample_store):
    qa = QualityRecords(sample_store)
    qa.seed_criteria(actor=VS)
    pep = _pep(sample_store, "C-0001", 2026, "autumn")
    finalise(sample_store, pep.id, document=True)
    review = qa.open_round(pep.id, actor="system")
    qa.rate(review.id, ALL_GREEN, "green", None, actor=VS)
    qa.save_criterion("childs-voice", "Child's views in their own words", "As before", actor=VS)
    titles = {c.code: c.title for c in qa.review(review.id).criteria}
    assert titles["childs-voice"] == "The child's voice is heard"


def test_the_dashboard_counts_each_pep_at_its_latest_rating_by_school_worker_and_term(sample_store, clock):
    from datetime import datetime, timezone
    from types import SimpleNamespace

    from pepflow.web.quality_pages import quality_figures

    qa = QualityRecords(sample_store)
    qa.seed_criteria(actor=VS)

    def rated(child, year, term, *overall):
        pep = _pep(sample_store, child, year, term)
        finalise(sample_store, pep.id, document=True)
        for n, rag in enumerate(overall, start=1):
            review = qa.open_round(pep.id, actor="system")
            ratings = {c.code: ("green", None) for c in SEED_CRITERIA}
            if rag != "green":
                ratings["smart-targets"] = (rag, "Targets need dates")
            qa.rate(review.id, ratings, rag, "Make the targets SMART" if rag == "red" else None, actor=VS)
            if rag == "red":
                sample_store.record_document(pep.id, "final", f"{pep.id}-final-v{n + 1}.docx", content=b"v",
                                             actor="ST-0001", correction="improved")
                qa.mark_improved(review.id, actor="ST-0001")

    rated("C-0001", 2026, "autumn", "red", "green")  # counted green: its latest rating
    rated("C-0002", 2026, "autumn", "amber")
    clock.set(datetime(2027, 1, 11, 9, tzinfo=timezone.utc))
    rated("C-0001", 2026, "spring", "green")
    rated("C-0002", 2026, "spring", "green")
    q = quality_figures(SimpleNamespace(store=sample_store))
    assert q["rated"] == 4
    schools = dict(q["by_school"])
    assert dict(schools["Oakridge Primary School (fictional)"]) == {"green": 2}
    assert dict(schools["Fernhollow Academy (fictional)"]) == {"amber": 1, "green": 1}
    workers = dict(q["by_worker"])
    assert dict(workers["Bartholomew Nettleby"]) == {"amber": 1, "green": 1}
    assert [(label, green) for label, _counts, green in q["trend"]] == [("Autumn 2026/27", 50), ("Spring 2026/27", 100)]
