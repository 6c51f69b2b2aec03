"""The daily check of allocations reads every child's records in a few queries
(:class:`pepflow.store.day_records.DayRecords`): it must answer exactly what the store
answers one child at a time, or a birthday handover would go to the wrong person."""

from __future__ import annotations

from datetime import date

import pytest

from pepflow.meeting_options import contact_options
from pepflow.ownership import assignment_for
from pepflow.sample_data import load_sample_data
from pepflow.store.day_records import DayRecords
from pepflow.store.errors import UnknownChild, UnknownPep


@pytest.fixture
def sample(store):
    load_sample_data(store, actor="test")
    return store


@pytest.mark.parametrize("only", [None, ["C-0001"]], ids=["every-child", "the-check's-children"])
def test_the_day_records_answer_as_the_store_does(sample, only):
    """With ``child_ids`` only those children are read; asked about any other, the
    records answer from the store: the same answers either way."""
    # a planned handover and an ended role, so the dates matter
    sample.allocations.allocate("C-0001", "ST-0002", "social-worker", starts_on=date(2026, 10, 1), actor="TM")
    pep = sample.create_pep("C-0001", 2026, "autumn", actor="test")
    children = [c.id for c in sample.children()]
    assert len(children) > 1
    records = DayRecords(sample, [pep.id], child_ids=only)
    for day in (date(2026, 9, 30), date(2026, 10, 1), date(2028, 6, 1)):
        for child_id in children:
            assert assignment_for(records, child_id, day) == assignment_for(sample, child_id, day)
            setting = sample.setting_for(child_id, day)
            for setting_id in {None, setting.id if setting else None}:
                assert contact_options(records, child_id, setting_id) == contact_options(sample, child_id, setting_id)
    assert records.pep(pep.id) == sample.pep(pep.id)
    for child_id in children:
        assert records.child(child_id) == sample.child(child_id)
        assert records.contacts_for(child_id) == sample.contacts_for(child_id)
        assert records.allocations.for_child(child_id) == sample.allocations.for_child(child_id)
    with pytest.raises(UnknownChild):
        records.child("C-9999")
    with pytest.raises(UnknownPep):
        records.pep("PEP-NONE")


def test_the_day_records_answer_for_an_absent_worker_as_the_store_does(sample):
    """An absence routes the owner's tasks to the cover; the daily check must see it too
    (found when the cover work met the bulk daily check: 'DayRecords' had no cover)."""
    owner = assignment_for(sample, "C-0001", date(2026, 10, 5))
    colleague = next(s.id for s in sample.all_staff() if s.id != owner.staff_id and s.roles == sample.staff(owner.staff_id).roles)
    sample.cover.add_absence(owner.staff_id, colleague, starts_on=date(2026, 10, 5), ends_on=date(2026, 10, 9),
                             reason="Annual leave", actor="TM", today=date(2026, 10, 1))
    records = DayRecords(sample)
    for day in (date(2026, 10, 4), date(2026, 10, 5), date(2026, 10, 9), date(2026, 10, 10)):
        assert assignment_for(records, "C-0001", day) == assignment_for(sample, "C-0001", day)
    assert assignment_for(records, "C-0001", date(2026, 10, 6)).covering_for == owner.staff_id
