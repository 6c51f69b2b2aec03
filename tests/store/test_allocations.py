"""Staff allocations: who is allocated to a child in which role, from when to when;
the PEP owner by age on a date; the CSV columns and kind that feed them."""

from __future__ import annotations

from datetime import date

import pytest

from pepflow.importer import import_csv
from pepflow.ownership import assignment_for
from pepflow.sample_data import load_sample_data
from pepflow.store.allocations import owner_on
from pepflow.store.errors import InvalidRecord


@pytest.fixture
def sample(store):
    load_sample_data(store, actor="test")
    return store


def test_an_allocation_replaces_the_one_running_and_is_audited(sample):
    allocations = sample.allocations
    before = allocations.on("C-0001", "social-worker", date(2026, 9, 20))
    assert before.staff_id == "ST-0001"
    allocation, changed = allocations.allocate("C-0001", "ST-0002", "social-worker", starts_on=date(2026, 10, 1), actor="TM")
    assert changed and allocation.staff_id == "ST-0002"
    assert allocations.on("C-0001", "social-worker", date(2026, 9, 30)).staff_id == "ST-0001"
    assert allocations.on("C-0001", "social-worker", date(2026, 10, 1)).staff_id == "ST-0002"
    # the same again changes nothing and writes no audit entry
    entries = len(sample.audit_entries("child", "C-0001"))
    assert allocations.allocate("C-0001", "ST-0002", "social-worker", starts_on=date(2026, 10, 1), actor="TM")[1] is False
    assert len(sample.audit_entries("child", "C-0001")) == entries
    [entry] = [e for e in sample.audit_entries("child", "C-0001") if e.actor_id == "TM"]
    assert entry.action == "allocate" and entry.diff["social-worker"] == ["ST-0001", "ST-0002"]


def test_a_staff_member_must_hold_the_role_they_are_allocated_in(sample):
    with pytest.raises(InvalidRecord, match="personal adviser"):
        sample.allocations.allocate("C-0004", "ST-0001", "personal-adviser", starts_on=date(2026, 9, 14), actor="x")


def test_the_owner_is_the_allocation_in_the_role_the_age_needs(sample):
    # C-0008 is 15 until 20 January 2027, then his leaving care worker takes over
    assert owner_on(sample, "C-0008", date(2027, 1, 19)).staff_id == "ST-0001"
    owner = owner_on(sample, "C-0008", date(2027, 1, 20))
    assert (owner.role.value, owner.staff_id) == ("leaving-care-worker", "ST-0003")
    # C-0001 has nobody once the social worker's allocation ends: the team manager
    sample.allocations.end("C-0001", "social-worker", on=date(2026, 10, 1), actor="TM")
    assignment = assignment_for(sample, "C-0001", date(2026, 10, 1))
    assert (assignment.assignee, assignment.candidate_groups) == ("", ("team-managers-north",))
    assert "social worker" in assignment.note and "team manager" in assignment.note


def test_children_columns_allocate_and_say_what_does_not_fit(store, tmp_path):
    load_sample_data(store, actor="test")
    path = tmp_path / "children.csv"
    path.write_text(
        "id,given_name,family_name,date_of_birth,locality,social_worker_id,leaving_care_worker_id,entered_care_on\n"
        "C-0200,Sam,Example,2009-11-01,north,ST-0003,,2026-01-01\n"  # 16: an LCW in the old column
        "C-0201,Kim,Example,2009-11-01,north,ST-0001,,2026-01-01\n"  # 16: only a social worker
        "C-0202,Lee,Example,2015-11-01,north,ST-0001,ST-0001,2026-01-01\n"  # not a leaving care worker
    )
    summary = import_csv(store, "children", path, "test")
    assert not summary.ok and [(e.line, e.column) for e in summary.errors] == [(4, "leaving_care_worker_id")]
    path.write_text("\n".join(path.read_text().splitlines()[:3]) + "\n")
    summary = import_csv(store, "children", path, "test")
    assert summary.ok, summary
    notes = " | ".join(w.problem for w in summary.warnings)
    assert "ST-0003 is a leaving care worker, not a social worker" in notes
    assert "C-0201 needs a leaving care worker" in notes and "team manager" in notes
    assert store.allocations.current_for_child("C-0200", date(2026, 9, 14))[0].role.value == "leaving-care-worker"
    assert sorted(summary.changed_children) == ["C-0200", "C-0201"]


def test_staff_logins_are_checked(store, tmp_path):
    path = tmp_path / "staff.csv"
    path.write_text(
        "id,name,email,roles,team,candidate_group,login\n"
        "ST-0901,A Person,a.person@council.example.org,social-worker,north,,a.person\n"
        "ST-0902,B Person,b.person@council.example.org,social-worker,north,,A.Person\n"  # the same login
        "ST-0903,C Person,c.person@council.example.org,social-worker,north,,c person\n"  # not a login
        "ST-0904,D Person,d.person@council.example.org,team-manager,north,,\n"  # a manager needs a group
    )
    summary = import_csv(store, "staff", path, "test")
    assert {(e.line, e.column) for e in summary.errors} == {(3, "login"), (4, "login"), (5, "candidate_group")}
    path.write_text("id,name,email,roles,team,candidate_group\nST-0905,E Person,e.person@council.example.org,social-worker,north,\n")
    summary = import_csv(store, "staff", path, "test")
    assert summary.ok and store.staff("ST-0905").login == "e.person@council.example.org"
    assert "e-mail address" in summary.warnings[0].problem


def test_an_allocations_file_plans_a_handover_and_ends_a_role(sample, tmp_path):
    path = tmp_path / "allocations.csv"
    path.write_text("child_id,staff_id,role,starts_on,ends_on\n"
                    "C-0002,ST-0001,social-worker,2027-01-04,\n"
                    "C-0006,,social-worker,2026-12-01,\n")
    summary = import_csv(sample, "allocations", path, "test")
    assert summary.ok and sorted(summary.changed_children) == ["C-0002", "C-0006"]
    assert sample.allocations.on("C-0002", "social-worker", date(2027, 1, 3)).staff_id == "ST-0002"
    assert sample.allocations.on("C-0002", "social-worker", date(2027, 1, 4)).staff_id == "ST-0001"
    assert sample.allocations.on("C-0006", "social-worker", date(2026, 12, 1)) is None
    again = import_csv(sample, "allocations", path, "test")
    assert again.ok and again.changed_children == []
