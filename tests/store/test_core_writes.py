"""The store's hot writes go through Core statements (issue 16): the same rows, the same
audit entries and the same errors as through the ORM, and no stale ORM copy after them.

Each test states what the ORM version wrote (these tests pass on it too, but for the
claim's fresh copy: its bulk update left the ORM's copy stale) and reads it back inside
the same ``atomic()`` block, after an ORM read that put the row in the session's identity
map: a Core write that left the old copy there would show the old value.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from pepflow.domain.enums import MailStatus
from pepflow.store import InvalidRecord, RecordsError, UnknownRecord
from pepflow.store.models import EscalationRow, MailLogRow, MailOutboxRow, PepRow, PepSectionRow

PEP_FORM = dict(
    kind="pep-form",
    message_id="<pep.1@council.example>",
    sender="bso@council.example",
    recipients=["dt@school.example", "sw@council.example"],
    subject="PEP form",
    text_body="Please find attached the PEP form.\n",
    actor="system",
)


def audit(store, entity, entity_id, since=0):
    return [(a.actor_id, a.action, a.diff) for a in store.audit_entries(entity, entity_id)[since:]]


def test_queueing_writes_the_log_the_message_its_parts_and_the_audit(sample_store, clock):
    store = sample_store
    pep = store.create_pep("C-0001", 2026, "autumn", actor="system")
    document = store.record_document(pep.id, "form", "form.docx", content=b"docx bytes", actor="system")
    later = clock.now() + timedelta(hours=2)
    entry, created = store.enqueue_mail(
        "k1", pep_id=pep.id, not_before=later, attachments=[
            {"filename": "notes.txt", "content_type": "text/plain", "content": b"abc"},
            {"filename": "form.docx", "document_version_id": document.id},
        ], **PEP_FORM,
    )
    assert created
    assert entry.model_dump() == {
        "id": entry.id, "idempotency_key": "k1", "pep_id": pep.id, "kind": "pep-form",
        "recipient": "dt@school.example", "status": MailStatus.QUEUED,
        "status_history": ({"status": "queued", "event": "queued", "at": clock.now().isoformat(),
                            "detail": "queued as <pep.1@council.example>"},),
        "created_at": clock.now(), "updated_at": clock.now(),
    }
    assert store.mail_entry("k1") == entry
    [message] = store.outbox_messages([entry.id])
    assert (message.state, message.attempts, message.next_attempt_at, message.recipients) == (
        "queued", 0, later, ("dt@school.example", "sw@council.example"))
    assert [(a.position, a.filename, a.content_type, a.size, a.data, a.document_version_id)
            for a in message.attachments] == [
        (1, "notes.txt", "text/plain", 3, b"abc", None),
        (2, "form.docx", "application/octet-stream", document.size, b"docx bytes", document.id),
    ]
    assert audit(store, "pep", pep.id)[-1] == ("system", "record-mail", {"mail": [None, {
        "key": "k1", "kind": "pep-form", "recipient": "dt@school.example", "status": "queued",
        "message_id": "<pep.1@council.example>", "attachments": [
            {"filename": "notes.txt", "sha256": message.attachments[0].sha256},
            {"filename": "form.docx", "sha256": document.sha256},
        ]}]})
    # without a PEP: audited under the mail's key
    store.enqueue_mail("k2", **PEP_FORM)
    assert [action for _, action, _ in audit(store, "mail", "k2")] == ["record-mail"]


def test_a_bad_attachment_queues_nothing(sample_store):
    store = sample_store
    with pytest.raises(UnknownRecord, match="no such document version"):
        store.enqueue_mail("k1", attachments=[{"filename": "x", "document_version_id": 999}], **PEP_FORM)
    with pytest.raises(InvalidRecord, match="either content or document_version_id"):
        store.enqueue_mail("k1", attachments=[{"filename": "x"}], **PEP_FORM)
    assert store.mail_entry("k1") is None and audit(store, "mail", "k1") == []


def test_each_outcome_is_written_and_audited_and_read_back_fresh(sample_store, clock):
    store = sample_store
    pep = store.create_pep("C-0001", 2026, "autumn", actor="system")
    entry, _ = store.enqueue_mail("k1", pep_id=pep.id, **PEP_FORM)
    seen = len(store.audit_entries("pep", pep.id))
    retry_at = clock.now() + timedelta(minutes=5)
    with store.atomic():
        with store.uow.read() as s:  # the ORM's copies, in the identity map
            outbox = s.scalars(sa.select(MailOutboxRow).where(MailOutboxRow.mail_log_id == entry.id)).one()
            log = s.get(MailLogRow, entry.id)
            assert (outbox.attempts, log.status) == (0, "queued")
        assert store.claim_mail("sender", limit=5) == [entry.id]
        assert outbox.claimed_by == "sender"  # stale before: the claim's bulk update left it
        store.schedule_mail_retry(entry.id, "451 later", retry_at, actor="mail-sender", code=451)
        assert (outbox.attempts, outbox.next_attempt_at, outbox.last_error, outbox.claimed_by) == (
            1, retry_at, "451 later", None)
        assert [e["event"] for e in log.status_history] == ["queued", "retry-scheduled"]
        store.mark_mail_failed(entry.id, "550 no", actor="mail-sender", code=550)
        assert (outbox.state, outbox.attempts, log.status) == ("failed", 2, "failed")
        store.requeue_mail(entry.id, actor="bso", recipients=["new@school.example"])
        assert (outbox.state, outbox.attempts, outbox.recipients, log.recipient) == (
            "queued", 0, ["new@school.example"], "new@school.example")
        store.mark_mail_sent([(entry.id, "250 ok")], actor="mail-sender")
        assert (outbox.state, outbox.attempts, outbox.sent_at, log.status) == ("sent", 1, clock.now(), "sent")
        summary = store.mail_summary(entry.id)
    assert (summary.status, summary.attempts, summary.recipient, summary.last_error) == (
        MailStatus.SENT, 1, "new@school.example", None)
    assert [(e["event"], e["status"]) for e in summary.status_history] == [
        ("queued", "queued"), ("retry-scheduled", "queued"), ("failed", "failed"),
        ("retry-requested", "queued"), ("sent", "sent")]
    key = ["k1", "k1"]
    assert audit(store, "pep", pep.id, seen) == [
        ("mail-sender", "mail-retry-scheduled", {"key": key, "event": [None, {
            "status": "queued", "event": "retry-scheduled", "detail": "451 later", "attempt": 1, "code": 451,
            "next_attempt_at": retry_at.isoformat()}]}),
        ("mail-sender", "mail-failed", {"key": key, "status": ["queued", "failed"], "event": [None, {
            "status": "failed", "event": "failed", "detail": "550 no", "attempt": 2, "code": 550}]}),
        ("bso", "mail-retry-requested", {"key": key, "status": ["failed", "queued"], "event": [None, {
            "status": "queued", "event": "retry-requested", "detail": "queued again by bso",
            "recipients": [["dt@school.example", "sw@council.example"], ["new@school.example"]]}]}),
        ("mail-sender", "mail-sent", {"key": key, "status": ["queued", "sent"], "event": [None, {
            "status": "sent", "event": "sent", "detail": "250 ok", "attempt": 1,
            "message_id": "<pep.1@council.example>"}]}),
    ]


def test_withdrawing_marks_each_queued_message_of_the_peps(sample_store, clock):
    store = sample_store
    pep = store.create_pep("C-0001", 2026, "autumn", actor="system")
    queued, _ = store.enqueue_mail("k1", pep_id=pep.id, **PEP_FORM)
    sent, _ = store.enqueue_mail("k2", pep_id=pep.id, **PEP_FORM)
    store.mark_mail_sent(sent.id, "250 ok", actor="mail-sender")
    seen = len(store.audit_entries("pep", pep.id))
    with store.atomic():
        with store.uow.read() as s:
            log = s.get(MailLogRow, queued.id)
            assert log.status == "queued"
        assert store.withdraw_queued_mail([pep.id], reason="left care", actor="system") == 1
        assert log.status == "withdrawn"
    assert store.outbox_message(queued.id).state == "withdrawn"
    assert store.mail_summary(sent.id).status == MailStatus.SENT
    assert audit(store, "pep", pep.id, seen) == [("system", "mail-withdrawn", {
        "key": ["k1", "k1"], "status": ["queued", "withdrawn"],
        "event": [None, {"status": "withdrawn", "event": "withdrawn", "detail": "left care"}]})]


def test_claims_come_in_due_order_not_id_order(store, clock):
    first, _ = store.enqueue_mail("k1", **PEP_FORM)
    second, _ = store.enqueue_mail("k2", **PEP_FORM)
    store.schedule_mail_retry(first.id, "busy", clock.now() + timedelta(seconds=10), actor="s")
    store.schedule_mail_retry(second.id, "busy", clock.now() + timedelta(seconds=5), actor="s")
    clock.set(clock.now() + timedelta(seconds=10))
    assert store.claim_mail("s", limit=5) == [second.id, first.id]


def test_a_refused_message_is_a_records_error_and_queues_nothing(sample_store):
    with pytest.raises(RecordsError, match="refused the change"):  # text_body is NOT NULL
        sample_store.enqueue_mail("k1", **{**PEP_FORM, "text_body": None})
    assert sample_store.mail_entry("k1") is None


SW = "ST-0001"


def test_a_new_pep_is_written_and_audited_field_by_field(sample_store, clock):
    store = sample_store
    meeting = clock.now() + timedelta(days=20)
    pep = store.create_pep("C-0001", 2026, "autumn", is_initial=True, meeting_at=meeting, actor=SW)
    assert store.pep(pep.id) == pep and pep.attendee_ids == ()
    assert audit(store, "pep", pep.id) == [(SW, "create", {
        "child_id": [None, "C-0001"], "care_episode_id": [None, "CE-0001-1"], "academic_year": [None, 2026],
        "term": [None, "autumn"], "sequence": [None, 1], "status": [None, "not-started"],
        "is_initial": [None, True], "setting_id": [None, "ES-0001"], "variant": [None, "school-age"],
        "owner_role": [None, "social-worker"], "owner_staff_id": [None, SW],
        "meeting_at": [None, meeting.isoformat()],
    })]
    with pytest.raises(RecordsError, match="No care episode with id .CE-9999."):
        store.create_pep("C-0002", 2026, "autumn", care_episode_id="CE-9999", actor=SW)


def test_an_update_is_written_audited_and_read_back_fresh(sample_store, clock):
    store = sample_store
    pep = store.create_pep("C-0001", 2026, "autumn", actor=SW)
    store.update_pep(pep.id, attendee_ids=["CT-0006", "ST-0001"], actor=SW)
    clock.advance(timedelta(hours=1))
    with store.atomic():
        with store.uow.read() as s:
            row = s.get(PepRow, pep.id)
            assert [a.attendee_id for a in row.attendees] == ["CT-0006", "ST-0001"]
        updated = store.update_pep(pep.id, status="in-progress", form_sent_at=clock.now(),
                                   attendee_ids=["ES-0001", "CT-0006"], setting_id="ES-0004", actor=SW)
        assert (row.status, row.form_sent_at, row.setting_id, row.updated_at) == (
            "in-progress", clock.now(), "ES-0004", clock.now())
        assert [(a.attendee_id, a.position) for a in row.attendees] == [("ES-0001", 0), ("CT-0006", 1)]
        assert store.pep(pep.id) == updated
    assert updated.attendee_ids == ("ES-0001", "CT-0006") and updated.updated_at == clock.now()
    assert store.pep(pep.id) == updated
    assert audit(store, "pep", pep.id)[-1] == (SW, "update", {
        "status": ["not-started", "in-progress"], "setting_id": ["ES-0001", "ES-0004"],
        "form_sent_at": [None, clock.now().isoformat()],
        "attendee_ids": [["CT-0006", "ST-0001"], ["ES-0001", "CT-0006"]],
    })
    # no attendees at all, and nothing changed: no write, no entry
    assert store.update_pep(pep.id, attendee_ids=[], actor=SW).attendee_ids == ()
    seen = len(store.audit_entries("pep", pep.id))
    assert store.update_pep(pep.id, status="in-progress", attendee_ids=[], actor=SW) == store.pep(pep.id)
    assert len(store.audit_entries("pep", pep.id)) == seen
    with pytest.raises(RecordsError, match="ES-0999"):
        store.update_pep(pep.id, setting_id="ES-0999", actor=SW)
    with pytest.raises(RecordsError, match="ST-0999"):
        store.update_pep(pep.id, owner_staff_id="ST-0999", actor=SW)
    assert len(store.audit_entries("pep", pep.id)) == seen


def test_a_section_is_written_audited_and_read_back_fresh(sample_store, clock):
    store = sample_store
    pep = store.create_pep("C-0001", 2026, "autumn", actor=SW)
    store.save_section(pep.id, "social-worker", {"views": "art"}, actor=SW)
    clock.advance(timedelta(hours=1))
    with store.atomic():
        with store.uow.read() as s:
            row = s.get(PepSectionRow, (pep.id, "social-worker"))
            assert row.content == {"views": "art"}
        store.save_section(pep.id, "social-worker", {"views": "maths", "hours": 3}, actor="ST-0011")
        assert (row.content, row.updated_at, row.updated_by) == ({"views": "maths", "hours": 3}, clock.now(), "ST-0011")
    assert store.section(pep.id, "social-worker") == {"views": "maths", "hours": 3}
    assert audit(store, "pep", pep.id)[-2:] == [
        (SW, "save-section:social-worker", {"views": [None, "art"]}),
        ("ST-0011", "save-section:social-worker", {"views": ["art", "maths"], "hours": [None, 3]}),
    ]
    seen = len(store.audit_entries("pep", pep.id))
    store.save_section(pep.id, "social-worker", {"views": "maths", "hours": 3}, actor=SW)  # the same: nothing
    assert len(store.audit_entries("pep", pep.id)) == seen
    with pytest.raises(RecordsError, match="PEP-C-0001-2030-AUT"):
        store.save_section("PEP-C-0001-2030-AUT", "social-worker", {}, actor=SW)


def test_a_document_is_written_and_audited_once_per_purpose(sample_store, clock):
    store = sample_store
    pep = store.create_pep("C-0001", 2026, "autumn", actor=SW)
    first = store.record_document(pep.id, "form", "form.docx", content=b"v1", purpose="step-1", actor=SW)
    again = store.record_document(pep.id, "form", "other.docx", content=b"v9", purpose="step-1", actor=SW)
    second = store.record_document(pep.id, "form", "form.docx", content=b"v22", actor=SW)
    assert again == first == store.document_for(pep.id, "form", "step-1")
    assert (first.version, second.version, second.size, second.purpose) == (1, 2, 3, None)
    assert store.documents(pep.id) == [first, second]
    assert store.document_content(second.id) == b"v22"
    assert [d for _, action, d in audit(store, "pep", pep.id) if action == "record-document"] == [
        {"document": [None, {"kind": "form", "version": 1, "filename": "form.docx", "sha256": first.sha256, "size": 2}]},
        {"document": [None, {"kind": "form", "version": 2, "filename": "form.docx", "sha256": second.sha256, "size": 3}]},
    ]
    with pytest.raises(InvalidRecord, match="filename"):
        store.record_document(pep.id, "form", " ", content=b"x", actor=SW)


def test_an_event_is_written_and_audited_under_the_child(sample_store, clock):
    store = sample_store
    pep = store.create_pep("C-0001", 2026, "autumn", actor=SW)
    event = store.events.record("school-move", "C-0001", clock.now().date(), actor=SW, pep_id=pep.id,
                                care_episode_id="CE-0001-1", details={"to": "ES-0004", "on": clock.now().date()})
    assert store.events.for_child("C-0001") == [event]
    assert (event.details, event.message_name, event.told_process_at) == (
        {"to": "ES-0004", "on": clock.now().date().isoformat()}, None, None)
    assert audit(store, "child", "C-0001")[-1] == (SW, "event:school-move", {
        "event_id": [None, event.id], "occurred_on": [None, clock.now().date().isoformat()],
        "pep_id": [None, pep.id]})
    with pytest.raises(RecordsError, match="C-0999"):
        store.events.record("school-move", "C-0999", clock.now().date(), actor=SW)
    with pytest.raises(RecordsError, match="PEP-C-0001-2030-AUT"):
        store.events.record("school-move", "C-0001", clock.now().date(), actor=SW, pep_id="PEP-C-0001-2030-AUT")
    with pytest.raises(RecordsError, match="refused the change"):  # no such care episode: its foreign key
        store.events.record("school-move", "C-0001", clock.now().date(), actor=SW, care_episode_id="CE-9")
    assert store.events.for_child("C-0001") == [event]


def test_escalations_are_closed_in_order_audited_and_read_back_fresh(sample_store, clock):
    store = sample_store
    pep = store.create_pep("C-0001", 2026, "autumn", actor=SW)
    due = clock.now()
    raised = [store.escalations.raise_(pep.id, kind, due, owner_staff_id=SW)[0]
              for kind in ("late-form", "meeting-not-recorded", "late-return")]
    clock.advance(timedelta(hours=1))
    seen = len(store.audit_entries("pep", pep.id))
    with store.atomic():
        with store.uow.read() as s:
            loaded = s.get(EscalationRow, raised[1].id)
            assert loaded.resolved_at is None
        assert store.escalations.resolve(pep.id, ("meeting-not-recorded", "late-form"), "done") == 2
        assert (loaded.resolved_at, loaded.resolution) == (clock.now(), "done")
    assert audit(store, "pep", pep.id, seen) == [
        ("system", "resolve-escalation:late-form", {"resolution": [None, "done"]}),
        ("system", "resolve-escalation:meeting-not-recorded", {"resolution": [None, "done"]}),
    ]
    assert [e.kind for e in store.escalations.open(pep.id)] == ["late-return"]
    assert store.escalations.resolve(pep.id, ("late-form",), "again") == 0  # closed ones stay closed
    assert store.escalations.resolve(pep.id, (), "none") == 0
    assert store.escalations.resolve(pep.id, None, "all") == 1
    assert [(e.kind, e.resolution) for e in store.escalations.for_pep(pep.id)] == [
        ("late-form", "done"), ("meeting-not-recorded", "done"), ("late-return", "all")]


def test_a_school_return_is_written_and_audited(sample_store, clock):
    store = sample_store
    pep = store.create_pep("C-0001", 2026, "autumn", actor=SW)
    document = store.record_document(pep.id, "returned", "r.docx", content=b"r", actor="ES-0001")
    added = store.returns.add(pep.id, document.id, form_version=2, latest_form_version=3,
                              values={"sdq": 14, "on": clock.now().date()}, findings=[{"field": "sdq"}],
                              changes=[{"field": "sdq", "to": 14}], actor="ES-0001")
    assert store.returns.for_pep(pep.id) == [added] and store.returns.pending() == [added]
    assert (added.status, added.edits, added.query, added.decided_at, added.values["on"]) == (
        "pending", None, None, None, clock.now().date().isoformat())
    assert audit(store, "pep", pep.id)[-1] == ("ES-0001", "school-return-received", {
        "return_id": [None, added.id], "document_id": [None, document.id], "form_version": [None, 2],
        "findings": [None, 1], "changes": [None, [{"field": "sdq", "to": 14}]]})
    with store.uow.rows() as conn:  # no edits yet: SQL NULL, not a JSON null
        assert conn.execute(sa.text("SELECT count(*) FROM school_returns WHERE edits IS NULL")).scalar() == 1
    with pytest.raises(RecordsError, match="PEP-C-0001-2030-AUT"):
        store.returns.add("PEP-C-0001-2030-AUT", document.id, form_version=None, latest_form_version=None,
                          values={}, findings=[], changes=[], actor="ES-0001")
    with pytest.raises(RecordsError, match="refused the change"):  # no such document: its foreign key
        store.returns.add(pep.id, 9999, form_version=None, latest_form_version=None,
                          values={}, findings=[], changes=[], actor="ES-0001")
    assert store.returns.for_pep(pep.id) == [added]
