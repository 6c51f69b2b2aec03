"""The reads the casework makes at almost every step, counted in SQL statements: a PEP
or a member of staff by key is one statement with its collection, a saved section one,
the school calendar's freshness check one (issue 16, "fewer statements per job"), and
each still answers what it answered before."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from pepflow.store.day_records import DayRecords
from pepflow.store.errors import UnknownPep, UnknownStaff


@contextmanager
def counted(store):
    statements: list[str] = []

    def _count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    for engine in store.uow.engines:  # the reads' kept connections have an engine of their own
        sa.event.listen(engine, "before_cursor_execute", _count)
    try:
        yield statements
    finally:
        for engine in store.uow.engines:
            sa.event.remove(engine, "before_cursor_execute", _count)


@pytest.fixture
def pep(sample_store):
    child = sample_store.children()[0]
    pep = sample_store.create_pep(child.id, 2026, "autumn", actor="test")
    staff = [s.id for s in sample_store.all_staff()[:2]]
    return sample_store.update_pep(pep.id, actor="test", attendee_ids=[staff[1], staff[0]])


def test_a_pep_by_key_is_one_statement_with_its_attendees(sample_store, pep):
    with counted(sample_store) as statements:
        read = sample_store.pep(pep.id)
    assert len(statements) == 1
    assert read == pep and len(read.attendee_ids) == 2
    with pytest.raises(UnknownPep):
        sample_store.pep("PEP-NONE")


def test_a_saved_section_is_one_statement_and_a_missing_one_still_knows_its_pep(sample_store, pep):
    sample_store.save_section(pep.id, "school-return", {"attendance": "96%"}, actor="test")
    with counted(sample_store) as statements:
        assert sample_store.section(pep.id, "school-return") == {"attendance": "96%"}
    assert len(statements) == 1
    assert sample_store.section(pep.id, "school-meeting") is None
    with pytest.raises(UnknownPep):
        sample_store.section("PEP-NONE", "school-return")


def test_a_member_of_staff_is_one_statement_with_their_roles(sample_store):
    member = next(s for s in sample_store.all_staff() if s.login)
    with counted(sample_store) as statements:
        by_key = sample_store.staff(member.id)
        by_login = sample_store.staff_by_login(member.login.upper())
    assert len(statements) == 2
    assert by_key == by_login == member and member.roles
    assert sample_store.staff_by_login("nobody-here") is None
    with pytest.raises(UnknownStaff):
        sample_store.staff("ST-NONE")


def test_the_calendar_freshness_check_is_one_statement(sample_store):
    first = sample_store.school_calendar_for(None)
    with counted(sample_store) as statements:
        assert sample_store.school_calendar_for(None) is first
    assert len(statements) == 1


def test_the_daily_check_reads_the_tasks_given_to_colleagues_once(sample_store):
    child = sample_store.children()[0]
    staff = sample_store.all_staff()[0]
    for key in (101, 102, 103):
        sample_store.cover.reassign_task(key, child.id, staff.id, actor="test", reason="covering",
                                         audit_entity=("child", child.id))
    records = DayRecords(sample_store)
    with counted(sample_store) as statements:
        given = [records.cover.task_reassignment(key) for key in (101, 102, 103, 104)]
    assert len(statements) == 1
    assert given == [sample_store.cover.task_reassignment(key) for key in (101, 102, 103, 104)]
    assert given[-1] is None and given[0].staff_id == staff.id
