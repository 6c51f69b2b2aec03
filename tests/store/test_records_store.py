"""Each RecordsStore method, on SQLite and PostgreSQL (the sample data as background)."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from pepflow.calendar import MissingTermDates, SchoolCalendar
from pepflow.domain import InvalidStatusChange, OwnerRole, PepStatus, StaffRole, TermName, Variant
from pepflow.store import (
    ClosedPep,
    InvalidRecord,
    MissingAddress,
    OpenPepExists,
    RecordsError,
    UnknownCareEpisode,
    UnknownChild,
    UnknownPep,
    UnknownRecord,
    UnknownSetting,
    UnknownStaff,
)

SW = "ST-0001"
MEETING = datetime(2026, 9, 25, 9, 30, tzinfo=timezone.utc)


def test_unknown_child_says_which_and_what_to_do(store):
    with pytest.raises(UnknownChild) as caught:
        store.child("C-9999")
    assert str(caught.value) == (
        "No child with id 'C-9999' in the records store: check the id, or import the child "
        "with `pep import children`"
    )
    assert isinstance(caught.value, LookupError)
    with pytest.raises(UnknownChild, match="C-9999"):
        store.create_pep("C-9999", 2026, "autumn", actor=SW)


def test_child_and_setting_lookups(sample_store):
    child = sample_store.child("C-0001")
    assert (child.full_name, child.date_of_birth, child.locality) == (
        "Poppy Examplewood",
        date(2016, 5, 14),
        "north",
    )
    assert child.social_worker_id == SW and child.carer_contact_id == "CT-0006"
    assert [c.id for c in sample_store.children()][:2] == ["C-0001", "C-0002"]
    setting = sample_store.setting("ES-0001")
    assert setting.kind == "primary" and setting.locality == "north"
    with pytest.raises(UnknownSetting, match="ES-9999"):
        sample_store.setting("ES-9999")
    assert len(sample_store.settings()) == 5


def test_addresses(sample_store):
    teacher = sample_store.designated_teacher_address("ES-0001")
    assert (teacher.name, teacher.email) == (
        "Priya Hollowell",
        "designated.teacher@oakridge-primary.example.org",
    )
    assert str(teacher) == "Priya Hollowell <designated.teacher@oakridge-primary.example.org>"
    assert sample_store.virtual_school_address().email == "virtual.school@council.example.org"
    assert sample_store.pep_coordinator_address().email == "ingrid.larkspur@council.example.org"
    assert sample_store.address_for("CT-0006").email == "beryl.kindlewood@carers.example.org"
    assert sample_store.address_for("ST-0002").email == "bartholomew.nettleby@council.example.org"
    assert sample_store.address_for("ES-0002").role == "designated-teacher"
    with pytest.raises(MissingAddress, match="no e-mail"):
        sample_store.address_for("CT-0005")
    with pytest.raises(UnknownRecord, match="neither"):
        sample_store.address_for("XX-1")


def test_missing_addresses_are_clear(store):
    with pytest.raises(MissingAddress, match="virtual-school role"):
        store.virtual_school_address()
    with pytest.raises(MissingAddress, match="pep-coordinator role"):
        store.pep_coordinator_address()
    store.save_setting("ES-0100", "Not in education", "none", actor="ST-0030")
    with pytest.raises(MissingAddress, match="no designated teacher"):
        store.designated_teacher_address("ES-0100")
    with pytest.raises(MissingAddress, match="locality 'east'"):
        store.business_support_group("east")


def test_early_years_recipients_are_health_visitor_carers_and_flagged_parents(sample_store):
    recipients = sample_store.early_years_recipients("C-0005")
    assert [(a.party_id, a.role) for a in recipients] == [
        ("CT-0001", "health-visitor"),
        ("CT-0002", "foster-carer"),
        ("CT-0003", "foster-carer"),
        ("CT-0004", "parent"),
    ]
    assert sample_store.early_years_recipients("C-0001")[0].party_id == "CT-0006"
    with pytest.raises(UnknownChild):
        sample_store.early_years_recipients("C-0404")


def test_staff_roles_and_groups(sample_store):
    assert [s.id for s in sample_store.staff_with_role(StaffRole.BUSINESS_SUPPORT)] == [
        "ST-0011",
        "ST-0012",
        "ST-0013",
        "ST-0014",
    ]
    assert sample_store.business_support_group("north") == "business-support-north"
    assert sample_store.business_support_group("south") == "business-support-south"
    admin = sample_store.staff("ST-0030")
    assert admin.roles == (StaffRole.ADMINISTRATOR, StaffRole.OPERATOR)
    with pytest.raises(UnknownStaff, match="ST-0999"):
        sample_store.staff("ST-0999")
    updated = sample_store.save_staff(
        "ST-0030",
        "Juno Ashgrove",
        "juno.ashgrove@council.example.org",
        ["operator"],
        actor="ST-0030",
    )
    assert updated.roles == (StaffRole.OPERATOR,)
    assert sample_store.audit_entries("staff", "ST-0030")[-1].diff == {
        "roles": [["administrator", "operator"], ["operator"]]
    }
    assert len(sample_store.all_staff()) == 13


def test_email_addresses_are_validated_on_entry(store):
    with pytest.raises(InvalidRecord, match="staff ST-0100 email: 'not-an-address' is not a valid"):
        store.save_staff("ST-0100", "Nobody", "not-an-address", ["operator"], actor="ST-0030")
    with pytest.raises(InvalidRecord, match="designated teacher email"):
        store.save_setting(
            "ES-0100",
            "School",
            "primary",
            designated_teacher_name="T",
            designated_teacher_email="t@school",
            actor="ST-0030",
        )
    with pytest.raises(InvalidRecord, match="kind: 'castle' is not one of"):
        store.save_setting("ES-0100", "School", "castle", actor="ST-0030")
    assert store.audit_entries() == []


def test_save_child_checks_its_references(sample_store):
    with pytest.raises(UnknownStaff, match="ST-0999"):
        sample_store.save_child(
            "C-0100", "Ada", "Newcomb", date(2015, 1, 1), social_worker_id="ST-0999", actor=SW
        )
    with pytest.raises(InvalidRecord, match="like 'C-0001'"):
        sample_store.save_child("K-1", "Ada", "Newcomb", date(2015, 1, 1), actor=SW)
    with pytest.raises(UnknownRecord, match="linked to child C-0001"):
        sample_store.set_carer("C-0001", "CT-0002", actor=SW)  # Wren's carer, not Poppy's
    sample_store.set_carer("C-0001", None, actor=SW)
    assert sample_store.child("C-0001").carer_contact_id is None


def test_contacts(sample_store):
    contact = sample_store.save_contact("CT-0100", "C-0001", "parent", "Pat Examplewood", actor=SW)
    assert contact.receives_pep is False and contact.email is None
    with pytest.raises(InvalidRecord, match="e-mail address is required"):
        sample_store.save_contact("CT-0101", "C-0001", "health-visitor", "Hal Visitor", actor=SW)
    with pytest.raises(UnknownChild):
        sample_store.save_contact("CT-0102", "C-0404", "parent", "Nobody", actor=SW)
    assert [c.id for c in sample_store.contacts_for("C-0001")] == ["CT-0006", "CT-0100"]
    assert sample_store.contact("CT-0100").name == "Pat Examplewood"


def test_enrolments_and_the_setting_on_a_date(sample_store):
    assert sample_store.setting_for("C-0006", date(2026, 12, 18)).id == "ES-0001"
    assert sample_store.setting_for("C-0006", date(2027, 1, 4)).id == "ES-0004"
    assert sample_store.setting_for("C-0005", date(2026, 12, 1)) is None
    enrolments = sample_store.enrolments("C-0006")
    assert [(e.setting_id, e.ends_on) for e in enrolments] == [
        ("ES-0001", date(2027, 1, 3)),
        ("ES-0004", None),
    ]
    with pytest.raises(InvalidRecord, match="date order"):
        sample_store.enrol("C-0006", "ES-0002", date(2026, 10, 1), actor=SW)
    with pytest.raises(UnknownSetting):
        sample_store.enrol("C-0006", "ES-0999", date(2027, 6, 1), actor=SW)


def test_care_episodes(sample_store):
    episode = sample_store.current_care_episode("C-0002")
    assert (episode.id, episode.entered_care_on, episode.emergency) == (
        "CE-0002-1",
        date(2026, 9, 21),
        True,
    )
    # the same entry again is the same episode; a different one while in care is refused
    assert sample_store.open_care_episode("C-0002", date(2026, 9, 21), actor=SW) == episode
    with pytest.raises(InvalidRecord, match="already in care"):
        sample_store.open_care_episode("C-0002", date(2026, 10, 1), actor=SW)
    with pytest.raises(InvalidRecord, match="before entry"):
        sample_store.close_care_episode("CE-0002-1", date(2026, 1, 1), "returned home", actor=SW)
    closed = sample_store.close_care_episode(
        "CE-0002-1", date(2027, 2, 1), "Returned home", actor=SW
    )
    assert not closed.is_open and sample_store.current_care_episode("C-0002") is None
    again = sample_store.open_care_episode("C-0002", date(2027, 5, 3), emergency=True, actor=SW)
    assert again.id == "CE-0002-2"
    assert sample_store.care_episode("CE-0002-2").emergency
    with pytest.raises(UnknownCareEpisode):
        sample_store.care_episode("CE-404")


def test_school_calendar_for_a_setting_and_the_council(sample_store):
    council = sample_store.school_calendar_for()
    assert isinstance(council, SchoolCalendar)
    assert council.terms_for(2026).terms[0].starts_on == date(2026, 9, 3)
    assert date(2026, 11, 27) in council.terms_for(2026).inset_days
    college = sample_store.school_calendar_for("ES-0003")
    assert college.setting_name == "Riverbend College (fictional)"
    assert college.terms_for(2026).terms[0].starts_on == date(2026, 9, 7)
    assert not college.is_school_day(date(2026, 9, 7))  # the college's INSET day
    assert college.terms_for(2027).terms[0].starts_on == date(2027, 9, 2)  # council fallback
    primary = sample_store.school_calendar_for("ES-0001")
    assert not primary.is_school_day(date(2027, 2, 22))  # its own INSET day
    assert council.is_school_day(date(2027, 2, 22))
    with pytest.raises(MissingTermDates, match="2028/29"):
        primary.terms_for(2028)
    with pytest.raises(UnknownSetting):
        sample_store.school_calendar_for("ES-0999")


def test_term_dates_are_validated(store):
    with pytest.raises(InvalidRecord, match="half term"):
        store.save_term(
            2026,
            "autumn",
            date(2026, 9, 3),
            date(2026, 12, 18),
            date(2026, 12, 20),
            date(2026, 12, 24),
            actor="ST-0030",
        )
    assert (
        store.save_term(2026, "autumn", date(2026, 9, 3), date(2026, 12, 18), actor="ST-0030")
        == "created"
    )
    assert (
        store.save_term(2026, "autumn", date(2026, 9, 3), date(2026, 12, 18), actor="ST-0030")
        == "unchanged"
    )
    assert (
        store.save_term(2026, "autumn", date(2026, 9, 2), date(2026, 12, 18), actor="ST-0030")
        == "updated"
    )
    assert store.save_inset_day(date(2026, 9, 2), actor="ST-0030") == "created"
    assert store.save_inset_day(date(2026, 9, 2), actor="ST-0030") == "unchanged"


def test_create_pep_works_out_variant_owner_and_setting(sample_store, clock):
    pep = sample_store.create_pep(
        "C-0001", 2026, TermName.AUTUMN, is_initial=True, meeting_at=MEETING, actor=SW
    )
    assert pep.id == "PEP-C-0001-2026-AUT"
    assert (pep.status, pep.variant, pep.owner_role, pep.owner_staff_id) == (
        PepStatus.NOT_STARTED,
        Variant.SCHOOL_AGE,
        OwnerRole.SOCIAL_WORKER,
        SW,
    )
    assert (pep.setting_id, pep.care_episode_id, pep.is_initial) == ("ES-0001", "CE-0001-1", True)
    assert pep.meeting_at == MEETING and pep.created_at == clock.now()
    young = sample_store.create_pep("C-0005", 2026, "autumn", actor=SW, on=date(2026, 10, 5))
    assert young.variant is Variant.EARLY_YEARS_NO_SETTING and young.setting_id is None
    assert not young.has_setting_input
    teen = sample_store.create_pep("C-0003", 2026, "autumn", actor="ST-0003")
    assert (teen.variant, teen.owner_role) == (Variant.POST_16, OwnerRole.LEAVING_CARE_WORKER)
    adult = sample_store.create_pep("C-0004", 2026, "autumn", actor="ST-0004", on=date(2026, 9, 3))
    assert adult.owner_role is OwnerRole.PERSONAL_ADVISER
    nursery = sample_store.create_pep("C-0007", 2026, "autumn", actor=SW)
    assert nursery.variant is Variant.EARLY_YEARS


def test_second_pep_in_a_term_after_a_change_of_setting(sample_store):
    first = sample_store.create_pep("C-0006", 2026, "spring", on=date(2026, 12, 1), actor=SW)
    with pytest.raises(OpenPepExists, match="PEP-C-0006-2026-SPR"):  # one open PEP per child
        sample_store.create_pep("C-0006", 2026, "spring", on=date(2027, 1, 5), actor=SW)
    sample_store.update_pep(first.id, status="cancelled", actor=SW)
    second = sample_store.create_pep("C-0006", 2026, "spring", on=date(2027, 1, 5), actor=SW)
    assert (first.id, first.setting_id) == ("PEP-C-0006-2026-SPR", "ES-0001")
    assert (second.id, second.setting_id, second.sequence) == (
        "PEP-C-0006-2026-SPR-2",
        "ES-0004",
        2,
    )
    sample_store.update_pep(second.id, status="cancelled", actor=SW)
    explicit = sample_store.create_pep("C-0006", 2026, "summer", setting_id=None, actor=SW)
    assert explicit.setting_id is None
    sample_store.update_pep(explicit.id, status="cancelled", actor=SW)
    with pytest.raises(UnknownSetting):
        sample_store.create_pep("C-0006", 2027, "autumn", setting_id="ES-0999", actor=SW)


def test_update_pep_and_current_pep(sample_store, clock):
    assert sample_store.current_pep("C-0001") is None
    pep = sample_store.create_pep("C-0001", 2026, "autumn", actor=SW)
    clock.advance(timedelta(days=2))
    sent = sample_store.update_pep(
        pep.id, status="form-sent", form_sent_at=clock.now(), actor="ST-0011"
    )
    assert sent.status is PepStatus.FORM_SENT and sent.form_sent_at == clock.now()
    assert sent.updated_at == clock.now()
    held = sample_store.update_pep(
        pep.id,
        status=PepStatus.MEETING_HELD,
        meeting_at=MEETING,
        attendee_ids=["CT-0006", "ES-0001", "ST-0001", "CT-0006"],
        actor=SW,
    )
    assert held.attendee_ids == ("CT-0006", "ES-0001", "ST-0001")
    with pytest.raises(InvalidStatusChange, match="'meeting-held' to 'final'"):
        sample_store.update_pep(pep.id, status="final", actor=SW)
    with pytest.raises(InvalidRecord, match="timezone-aware"):
        sample_store.update_pep(pep.id, meeting_at=datetime(2026, 9, 25, 9, 30), actor=SW)
    # nothing changed: no audit entry
    before = len(sample_store.audit_entries("pep", pep.id))
    sample_store.update_pep(pep.id, status="meeting-held", attendee_ids=held.attendee_ids, actor=SW)
    assert len(sample_store.audit_entries("pep", pep.id)) == before
    sample_store.update_pep(pep.id, status="typed-up", actor="ST-0011")
    final = sample_store.update_pep(pep.id, status="final", finalised_at=clock.now(), actor=SW)
    assert sample_store.current_pep("C-0001") == final
    spring = sample_store.create_pep("C-0001", 2026, "spring", actor=SW)
    assert sample_store.current_pep("C-0001").id == spring.id
    sample_store.update_pep(spring.id, status="cancelled", actor=SW)
    assert sample_store.current_pep("C-0001").id == final.id
    assert [p.id for p in sample_store.peps_for("C-0001")] == [final.id, spring.id]
    with pytest.raises(UnknownPep, match="PEP-C-0001-2030-AUT"):
        sample_store.update_pep("PEP-C-0001-2030-AUT", status="final", actor=SW)


def test_sections_are_json(sample_store):
    pep = sample_store.create_pep("C-0001", 2026, "autumn", actor=SW)
    assert sample_store.section(pep.id, "social-worker") is None
    content = {
        "attendance": 96.5,
        "targets": [{"target": "Read daily", "by": date(2026, 12, 1)}],
        "views": "Likes art",
    }
    sample_store.save_section(pep.id, "social-worker", content, actor=SW)
    assert sample_store.section(pep.id, "social-worker") == {
        "attendance": 96.5,
        "targets": [{"target": "Read daily", "by": "2026-12-01"}],
        "views": "Likes art",
    }
    sample_store.save_section(pep.id, "school-return", {"sdq": 14}, actor="ES-0001")
    sample_store.save_section(
        pep.id, "social-worker", {**content, "views": "Likes art and maths"}, actor=SW
    )
    last = sample_store.audit_entries("pep", pep.id)[-1]
    assert last.action == "save-section:social-worker"
    assert last.diff == {"views": ["Likes art", "Likes art and maths"]}
    with pytest.raises(InvalidRecord, match="section"):
        sample_store.save_section(pep.id, "gossip", {}, actor=SW)


def test_document_versions(sample_store, tmp_path):
    pep = sample_store.create_pep("C-0001", 2026, "autumn", actor=SW)
    first = sample_store.record_document(pep.id, "form", "pep-form.docx", content=b"v1", actor=SW)
    second = sample_store.record_document(pep.id, "form", "pep-form.docx", content=b"v2", actor=SW)
    stored = tmp_path / "final.pdf"
    stored.write_bytes(b"final bytes")
    final = sample_store.record_document(pep.id, "final", "final.pdf", path=stored, actor=SW)
    assert (first.version, second.version, final.version) == (1, 2, 1)
    assert second.sha256 == hashlib.sha256(b"v2").hexdigest() and second.size == 2
    assert sample_store.latest_document(pep.id, "form") == second
    assert sample_store.document_content(second.id) == b"v2"
    assert sample_store.document_content(final.id) == b"final bytes"
    assert [d.version for d in sample_store.documents(pep.id)] == [1, 1, 2]
    assert sample_store.latest_document(pep.id, "final").path == str(stored)
    with pytest.raises(InvalidRecord, match="either content or path"):
        sample_store.record_document(pep.id, "form", "x.docx", actor=SW)
    with pytest.raises(UnknownPep):
        sample_store.record_document("PEP-C-0001-2030-AUT", "form", "x.docx", content=b"", actor=SW)


def test_mail_log_is_idempotent_and_keeps_history(sample_store, clock):
    pep = sample_store.create_pep("C-0001", 2026, "autumn", actor=SW)
    key = f"{pep.id}/pep-form/ES-0001"
    entry, created = sample_store.record_mail(
        key,
        pep_id=pep.id,
        kind="pep-form",
        recipient="designated.teacher@oakridge-primary.example.org",
        actor="ST-0011",
    )
    assert created and entry.status == "queued"
    again, created = sample_store.record_mail(
        key,
        pep_id=pep.id,
        kind="pep-form",
        recipient="designated.teacher@oakridge-primary.example.org",
        actor="ST-0011",
    )
    assert not created and again == entry
    clock.advance(timedelta(minutes=1))
    sent = sample_store.set_mail_status(key, "sent", detail="250 OK", actor="ST-0011")
    assert [h["status"] for h in sent.status_history] == ["queued", "sent"]
    assert sent.status_history[-1]["detail"] == "250 OK"
    assert sample_store.mail_entry(key) == sent
    assert sample_store.mail_entry("nope") is None
    assert sample_store.mail_log(pep.id) == [sent]
    with pytest.raises(InvalidRecord, match="mail recipient"):
        sample_store.record_mail("k2", kind="x", recipient="bad", actor="ST-0011")
    with pytest.raises(UnknownRecord):
        sample_store.set_mail_status("nope", "sent", actor="ST-0011")


def test_records_are_detached_copies(sample_store):
    child = sample_store.child("C-0001")
    with pytest.raises(ValidationError):
        child.given_name = "Changed"  # frozen
    assert sample_store.child("C-0001").given_name == "Poppy"


def test_integrity_errors_become_records_errors(sample_store):
    with pytest.raises(RecordsError):
        with sample_store.atomic():
            sample_store.create_pep("C-0001", 2026, "autumn", actor=SW)
            sample_store.update_pep("PEP-C-0001-2026-AUT", owner_staff_id="ST-0999", actor=SW)


def _final_pep(store, clock):
    pep = store.create_pep("C-0001", 2026, "autumn", actor=SW, meeting_at=clock.now() + timedelta(days=20))
    for status in ("in-progress", "form-sent", "meeting-held", "typed-up"):
        store.update_pep(pep.id, status=status, actor=SW)
    store.save_section(pep.id, "meeting-record", {"held_on": "2026-10-07"}, actor=SW)
    store.record_document(pep.id, "final", "final-v1.docx", content=b"final", actor=SW)
    return store.update_pep(pep.id, status="final", finalised_at=clock.now(), actor=SW)


def test_a_final_pep_never_changes_again(sample_store, clock):
    final = _final_pep(sample_store, clock)
    audit_before = len(sample_store.audit_entries("pep", final.id))
    with pytest.raises(ClosedPep, match="final: cannot change meeting_at"):
        sample_store.update_pep(final.id, meeting_at=clock.now() + timedelta(days=60), actor=SW)
    with pytest.raises(ClosedPep, match="final: cannot change attendee_ids"):
        sample_store.update_pep(final.id, attendee_ids=["CT-0006"], actor=SW)
    with pytest.raises(ClosedPep, match="cannot change its school-return section"):
        sample_store.save_section(final.id, "school-return", {"wellbeing": "new"}, actor=SW)
    with pytest.raises(ClosedPep, match="cannot add a form document"):
        sample_store.record_document(final.id, "form", "form-v9.docx", content=b"x", actor=SW)
    assert sample_store.pep(final.id) == final
    assert len(sample_store.audit_entries("pep", final.id)) == audit_before
    # what changes nothing is harmless (a retried job re-asserting the status)
    assert sample_store.update_pep(final.id, status="final", actor=SW) == final


def test_a_new_pep_in_the_term_of_a_final_one_is_a_new_record(sample_store, clock):
    final = _final_pep(sample_store, clock)
    assert sample_store.open_pep("C-0001") is None
    again = sample_store.create_pep("C-0001", 2026, "autumn", actor=SW)
    assert again.id == "PEP-C-0001-2026-AUT-2" and again.id != final.id
    assert sample_store.open_pep("C-0001") == again
