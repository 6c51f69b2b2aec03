"""The mail outbox tables and their repository methods, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pepflow.domain.enums import DocumentKind, MailStatus
from pepflow.store import InvalidRecord, UnknownMail


def queue(store, key="PEP-C-0001-2026-AUT:pep-form:dt@school.example", **overrides):
    values = dict(
        kind="pep-form",
        message_id=f"<pep.{abs(hash(key))}@council.example>",
        sender="bso@council.example",
        recipients=["dt@school.example"],
        subject="PEP form PEP-C-0001-2026-AUT",
        text_body="Please find attached the PEP form.\n",
        html_body="<p>Please find attached the PEP form.</p>\n",
        attachments=[{"filename": "a.docx", "content_type": "application/octet-stream", "content": b"x" * 100}],
        actor="system",
    )
    values.update(overrides)
    return store.enqueue_mail(key, **values)


def test_enqueue_keeps_the_whole_message_once_per_key(store):
    entry, created = queue(store)
    assert created and entry.status == MailStatus.QUEUED
    again, created_again = queue(store, subject="something else")
    assert (again.id, created_again) == (entry.id, False)

    [message] = store.outbox_messages([entry.id])
    assert message.subject == "PEP form PEP-C-0001-2026-AUT"
    assert message.recipients == ("dt@school.example",)
    assert message.attachments[0].data == b"x" * 100
    assert message.attachments[0].size == 100
    assert message.date.tzinfo is not None
    assert [e["event"] for e in store.mail_entry(entry.idempotency_key).status_history] == ["queued"]


def test_an_address_that_fails_validation_is_refused_when_queued(store):
    with pytest.raises(InvalidRecord):
        queue(store, recipients=["not-an-address"])
    with pytest.raises(InvalidRecord):
        queue(store, key="other", recipients=["dt@school"])
    assert store.mail_log() == []


def test_records_refuse_a_bad_address_when_it_is_entered(store):
    """Recipients come only from the records, and the records validate on entry."""
    with pytest.raises(InvalidRecord):
        store.save_setting("ES-9", "A school", "school", designated_teacher_name="DT",
                           designated_teacher_email="dt@school", actor="admin")
    with pytest.raises(InvalidRecord):
        store.save_staff("ST-9", "Someone", "someone at council.example", roles=["virtual-school"], actor="admin")


def test_claims_are_exclusive_and_leases_run_out(store, clock):
    ids = [queue(store, key=f"k{i}")[0].id for i in range(5)]
    first = store.claim_mail("a", limit=3, lease=timedelta(minutes=5))
    second = store.claim_mail("b", limit=10, lease=timedelta(minutes=5))
    assert first == ids[:3] and second == ids[3:]
    assert store.claim_mail("c", limit=10) == []
    clock.set(clock.now() + timedelta(minutes=6))  # "a" and "b" died holding their claims
    assert store.claim_mail("c", limit=10) == ids


def test_release_orphaned_mail_frees_other_senders_claims(store):
    ids = [queue(store, key=f"k{i}")[0].id for i in range(3)]
    store.claim_mail("embedded-sender-old", limit=2)
    store.claim_mail("embedded-sender-new", limit=1)
    assert store.release_orphaned_mail("embedded-sender-", except_owner="embedded-sender-new") == 2
    assert store.claim_mail("embedded-sender-new", limit=10) == ids[:2]


def test_outcomes_are_kept_in_the_history_and_the_audit(sample_store, clock):
    store = sample_store
    pep = store.create_pep("C-0001", 2026, "autumn", actor="system")
    entry, _ = queue(store, key="k-sent", pep_id=pep.id)
    store.claim_mail("s", limit=1)
    later = clock.now() + timedelta(seconds=30)
    store.schedule_mail_retry(entry.id, "451 try later", later, actor="mail-sender", code=451)
    assert store.next_mail_due() == later
    assert store.claim_mail("s") == []
    clock.set(clock.now() + timedelta(seconds=30))
    assert store.claim_mail("s") == [entry.id]
    store.mark_mail_sent([(entry.id, "250 2.0.0 Ok: queued as 42")], actor="mail-sender")

    failing, _ = queue(store, key="k-failed", pep_id=pep.id, recipients=["nobody@school.example"])
    store.mark_mail_failed(failing.id, "550 5.1.1 no such user", actor="mail-sender", code=550)

    sent = store.mail_summary(entry.id)
    assert sent.status == MailStatus.SENT and sent.attempts == 2
    assert [e["event"] for e in sent.status_history] == ["queued", "retry-scheduled", "sent"]
    assert sent.status_history[1]["code"] == 451
    assert sent.status_history[2]["detail"] == "250 2.0.0 Ok: queued as 42"
    failed = store.mail_summary(failing.id)
    assert failed.status == MailStatus.FAILED and failed.last_error == "550 5.1.1 no such user"
    assert [m.mail_id for m in store.mail_summaries(status="failed")] == [failing.id]
    assert [m.mail_id for m in store.mail_summaries(pep.id)] == [entry.id, failing.id]

    actions = [a.action for a in store.audit_entries("pep", pep.id) if a.action.startswith(("mail", "record-mail"))]
    assert actions == ["record-mail", "mail-retry-scheduled", "mail-sent", "record-mail", "mail-failed"]

    with pytest.raises(InvalidRecord, match="already sent"):
        store.requeue_mail(entry.id, actor="bso")
    again = store.requeue_mail(failing.id, actor="bso", recipients=["dt@school.example"])
    assert again.status == MailStatus.QUEUED and again.recipient == "dt@school.example"
    assert store.claim_mail("s") == [failing.id]
    with pytest.raises(UnknownMail):
        store.requeue_mail(9999, actor="bso")


def test_a_document_attachment_is_kept_by_reference(sample_store):
    store = sample_store
    pep = store.create_pep("C-0001", 2026, "autumn", actor="system")
    document = store.record_document(pep.id, DocumentKind.FORM, "form.docx", content=b"docx bytes", actor="system")
    entry, _ = queue(
        store, pep_id=pep.id,
        attachments=[{"filename": "form.docx", "content_type": "application/octet-stream", "document_version_id": document.id}],
    )
    [message] = store.outbox_messages([entry.id])
    assert message.attachments[0].document_version_id == document.id
    assert message.attachments[0].data == b"docx bytes"
    assert store.outbox_message(entry.id).attachments[0].data is None  # summary only


def test_next_mail_due_is_none_when_nothing_waits(store):
    assert store.next_mail_due() is None
    entry, _ = queue(store)
    assert store.next_mail_due() is not None
    store.mark_mail_sent(entry.id, "250 ok", actor="mail-sender")
    assert store.next_mail_due() is None
