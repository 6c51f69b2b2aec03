"""Pupil Premium Plus: requests per target, the Virtual School's decisions, the ledger of
a financial year (1 April - 31 March, counted when approved) and its CSV, on SQLite and
PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from pepflow.domain.enums import PepSection
from pepflow.domain.quality import financial_year_of, parse_money
from pepflow.ppp import ledger, ledger_csv
from pepflow.store.ppp import PppRecords, PppRefused

SW = "ST-0001"
VS = "ST-0021"
TARGETS = {"targets": [{"target": "Read a chapter book each week"}, {"target": "Times tables to 12 by Easter"},
                       {"target": "Join an after-school club"}]}


def _pep(store, child_id: str, year: int, term: str):
    pep = store.create_pep(child_id, year, term, actor=SW)
    store.save_section(pep.id, PepSection.SCHOOL_RETURN, TARGETS, actor=SW)
    return pep


def finalise(store, pep_id: str, *, document: bool = False) -> None:
    """A PEP through its steps to final (and its final document, when asked)."""
    for status in ("meeting-held", "typed-up"):
        store.update_pep(pep_id, status=status, actor=SW)
    if document:
        store.record_document(pep_id, "final", f"{pep_id}-final-v1.docx", content=b"final", actor="system")
    store.update_pep(pep_id, status="final", finalised_at=store.clock.now(), actor=SW)


def _at(clock, text: str) -> None:
    clock.set(datetime.fromisoformat(text).replace(tzinfo=timezone.utc))


def test_a_request_is_for_a_target_the_pep_has_and_an_amount_in_pounds_and_pence(sample_store):
    pep = _pep(sample_store, "C-0001", 2026, "autumn")
    ppp = PppRecords(sample_store)
    made = ppp.request(pep.id, 2, "£1,250.50", "Maths tutor, one hour a week for the term", actor=SW)
    assert made.amount == Decimal("1250.50") and made.target_number == 2 and made.setting_id == "ES-0001"
    for target, amount, words in [
        (4, "100", r"3 target\(s\), numbered 1, 2, 3: there is no target 4"),
        (0, "100", "there is no target 0"),
        ("two", "100", "whole number"),
        (1, "-50", "cannot be negative"),
        (1, "0", "more than £0.00"),
        (1, "12.345", "more than two decimal places"),
        (1, "1000000", "more than £10,000.00, the most"),
        (1, "lots", "not an amount in pounds and pence"),
        (1, "", "is needed"),
    ]:
        with pytest.raises(PppRefused, match=words):
            ppp.request(pep.id, target, amount, "Tutoring", actor=SW)
    with pytest.raises(PppRefused, match="what the money is for is needed"):
        ppp.request(pep.id, 1, "10", "  ", actor=SW)
    with pytest.raises(ValueError, match="not as a float"):
        parse_money(12.5)
    assert [x.id for x in ppp.for_pep(pep.id)] == [made.id]  # nothing refused was kept
    audit = [e for e in sample_store.audit_entries("pep", pep.id) if e.action == "ppp-requested"]
    assert len(audit) == 1 and audit[0].diff["amount"] == [None, "1250.50"]


def test_a_request_names_a_target_by_its_own_number(sample_store):
    pep = sample_store.create_pep("C-0001", 2026, "autumn", actor=SW)
    sample_store.save_section(pep.id, PepSection.SCHOOL_RETURN, {"targets": [
        {"target": "Reading", "number": 2}, {"target": "Maths", "number": 5}]}, actor=SW)
    ppp = PppRecords(sample_store)
    assert ppp.request(pep.id, 5, "120", "Maths tutor", actor=SW).target_number == 5
    with pytest.raises(PppRefused, match="numbered 2, 5: there is no target 1"):
        ppp.request(pep.id, 1, "120", "Maths tutor", actor=SW)


def test_a_pep_without_targets_gets_no_request(sample_store):
    pep = sample_store.create_pep("C-0002", 2026, "autumn", actor=SW)
    with pytest.raises(PppRefused, match="no targets recorded yet"):
        PppRecords(sample_store).request(pep.id, 1, "100", "Tutoring", actor=SW)


def test_decisions_are_made_once_and_a_refusal_says_why(sample_store):
    pep = _pep(sample_store, "C-0001", 2026, "autumn")
    ppp = PppRecords(sample_store)
    one = ppp.request(pep.id, 1, "300", "Reading books and a reading mentor", actor=SW)
    with pytest.raises(PppRefused, match="the reason for refusing is needed"):
        ppp.decide(one.id, False, "", actor=VS)
    refused = ppp.decide(one.id, False, "The school's own pupil premium covers books", actor=VS)
    assert refused.status.value == "refused" and refused.financial_year is None
    with pytest.raises(PppRefused, match="already refused"):
        ppp.decide(one.id, True, None, actor=VS)
    with pytest.raises(PppRefused, match="impact is recorded for money approved"):
        ppp.record_impact(one.id, "Reads more", at_pep_id=pep.id, actor=SW)


def test_the_ledger_of_a_financial_year_counts_approvals_either_side_of_1_april(sample_store, clock):
    ppp = PppRecords(sample_store)
    _at(clock, "2027-01-10T10:00:00")
    spring = _pep(sample_store, "C-0001", 2026, "spring")
    other = _pep(sample_store, "C-0002", 2026, "spring")
    a = ppp.request(spring.id, 1, "400.00", "Tutor", actor=SW)
    b = ppp.request(spring.id, 2, "250.50", "Maths software licence", actor=SW)
    c = ppp.request(other.id, 3, "99.99", "Club fees", actor="ST-0002")
    d = ppp.request(other.id, 1, "1000", "Laptop", actor="ST-0002")
    _at(clock, "2027-03-31T22:30:00")  # 31 March, 23:30 in London (BST): still 2026-27
    ppp.decide(a.id, True, None, actor=VS)
    ppp.decide(d.id, False, "A laptop was funded last year", actor=VS)
    _at(clock, "2027-03-31T23:30:00")  # 1 April, 00:30 in London: 2027-28
    ppp.decide(b.id, True, "Approved for the summer term", actor=VS)
    _at(clock, "2027-04-20T09:00:00")
    ppp.decide(c.id, True, None, actor=VS)
    assert financial_year_of(datetime(2027, 3, 31).date()) == 2026

    old, new = ledger(sample_store, 2026), ledger(sample_store, 2027)
    assert [x.id for x in old.approved] == [a.id] and [x.id for x in old.refused] == [d.id]
    assert old.total == Decimal("400.00")
    assert sorted(x.id for x in new.approved) == [b.id, c.id] and new.total == Decimal("350.49")
    assert new.by_child["C-0001"].approved == Decimal("250.50")
    assert new.by_school["ES-0002"].approved == Decimal("99.99")
    assert old.by_school["ES-0002"].refused_count == 1 and old.by_school["ES-0002"].approved == Decimal("0.00")
    assert ledger(sample_store, 2025).total == Decimal("0.00")

    rows = list(csv.DictReader(io.StringIO(ledger_csv(sample_store, 2027))))
    requests = [r for r in rows if r["request_id"]]
    assert {r["request_id"] for r in requests} == {str(b.id), str(c.id)}
    assert sum(Decimal(r["amount"]) for r in requests) == Decimal("350.49")
    totals = {r["school_id"]: r["amount"] for r in rows if r["status"] == "school total"}
    assert totals == {"ES-0001": "250.50", "ES-0002": "99.99"}
    assert [r["amount"] for r in rows if r["status"] == "total"] == ["350.49"]
    assert all(r["financial_year"] == "2027-28" for r in rows)
    old_rows = list(csv.DictReader(io.StringIO(ledger_csv(sample_store, 2026))))
    refused_row = next(r for r in old_rows if r["request_id"] == str(d.id))
    assert refused_row["status"] == "refused" and refused_row["amount"] == "0.00"
    assert refused_row["decision_reason"] == "A laptop was funded last year"


def test_impact_of_last_terms_spend_is_recorded_at_the_next_pep(sample_store, clock):
    ppp = PppRecords(sample_store)
    autumn = _pep(sample_store, "C-0001", 2026, "autumn")
    spent = ppp.request(autumn.id, 1, "500", "Reading mentor", actor=SW)
    ppp.decide(spent.id, True, None, actor=VS)
    finalise(sample_store, autumn.id)
    _at(clock, "2027-01-12T10:00:00")
    spring = _pep(sample_store, "C-0001", 2026, "spring")
    assert [x.id for x in ppp.last_terms_spend(spring.id)] == [spent.id]
    with pytest.raises(PppRefused, match="later PEP"):
        ppp.record_impact(spent.id, "Reading age up 9 months", at_pep_id=autumn.id, actor=SW)
    done = ppp.record_impact(spent.id, "Reading age up 9 months in a term", at_pep_id=spring.id, actor=SW)
    assert done.impact_pep_id == spring.id
    assert [x.id for x in ppp.last_terms_spend(spring.id)] == [spent.id]  # shown where it was reviewed
    assert any(e.action == "ppp-impact" for e in sample_store.audit_entries("pep", spring.id))


def test_formula_like_words_in_the_csv_are_not_run_by_a_spreadsheet(sample_store):
    pep = _pep(sample_store, "C-0001", 2026, "autumn")
    ppp = PppRecords(sample_store)
    ppp.decide(ppp.request(pep.id, 1, "10", "=HYPERLINK(\"http://x\")", actor=SW).id, True, None, actor=VS)
    text = ledger_csv(sample_store, financial_year_of(sample_store.clock.now().date()))
    assert "'=HYPERLINK" in text
