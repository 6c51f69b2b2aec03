"""The outbox sender against real aiosmtpd servers (STARTTLS and AUTH required)."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timedelta, timezone

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pepflow.clock import SimulationClock
from pepflow.domain.enums import MailStatus
from pepflow.mail import RecordingMailer, SmtpMailer
from pepflow.mail.dkim import DkimConfigError, DkimSigner, dkim_signer_from_env
from pepflow.mail.outbox import OutboxSender, RetryPolicy, enqueue
from pepflow.mail.transport import PermanentMailError, TransientMailError
from pepflow.store import RecordsStore, migrate

from .servers import ScriptedHandler, free_port, sample_mail

START = datetime(2026, 9, 14, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock() -> SimulationClock:
    return SimulationClock(START)


@pytest.fixture
def store(tmp_path, clock):
    url = f"sqlite:///{tmp_path / 'outbox.sqlite3'}"
    migrate(url)
    records = RecordsStore(url, clock)
    yield records
    records.close()


def queue_many(store, count: int, *, recipients=None, attachment: bytes | None = None) -> list[str]:
    keys = []
    for i in range(count):
        to = recipients[i] if recipients else f"dt{i}@school.example"
        mail = sample_mail(key=f"test:{i}:{to}", recipients=(to,), attachment=attachment)
        assert enqueue(store, mail, kind="pep-form")
        keys.append(mail.idempotency_key)
    return keys


def message_ids(handler: ScriptedHandler) -> list[str]:
    return [email.message_from_bytes(d, policy=email.policy.default)["Message-ID"] for d in handler.data]


def events(store, key: str) -> list[str]:
    return [e["event"] for e in store.mail_entry(key).status_history]


def later(clock: SimulationClock, **delta) -> None:
    clock.set(clock.now() + timedelta(**delta))


async def test_queued_mail_goes_over_starttls_with_a_login_and_the_reply_is_kept(store, secure_server):
    handler, _controller, settings = secure_server()
    keys = queue_many(store, 3, attachment=b"PK\x03\x04" + b"\0" * 1000)
    async with SmtpMailer(settings) as mailer:
        sender = OutboxSender(store, mailer)
        result = await sender.flush()
        assert (result.sent, result.retried, result.failed) == (3, 0, 0)
        assert mailer.connections_opened == 1  # one connection, one login, three messages
    assert sorted(message_ids(handler)) == sorted(sample_mail(key=k).message_id for k in keys)
    for key in keys:
        entry = store.mail_entry(key)
        assert entry.status == MailStatus.SENT
        assert entry.status_history[-1]["detail"] == "Message accepted"  # the reply to DATA
    # nothing is due any more: a second flush sends nothing
    assert (await OutboxSender(store, RecordingMailer()).flush()).total == 0


async def test_a_server_without_tls_is_refused_and_the_message_stays_queued(store, secure_server, clock):
    handler, _controller, settings = secure_server(tls=False)
    [key] = queue_many(store, 1)
    async with SmtpMailer(settings) as mailer:
        result = await OutboxSender(store, mailer).flush()
    assert result.retried == 1 and result.sent == 0
    assert handler.mail_from == [] and handler.data == []  # not even the envelope
    entry = store.mail_entry(key)
    assert entry.status == MailStatus.QUEUED
    last = entry.status_history[-1]
    assert last["event"] == "refused-insecure"
    assert "STARTTLS" in last["detail"] and "clear text" in last["detail"]
    assert store.next_mail_due() == clock.now() + RetryPolicy().insecure_delay


async def test_a_login_the_server_refuses_keeps_every_message_queued(store, secure_server):
    handler, _controller, settings = secure_server()
    queue_many(store, 3)
    wrong = settings.model_copy(update={"password": settings.password.__class__("wrong")})
    async with SmtpMailer(wrong) as mailer:
        result = await OutboxSender(store, mailer).flush()
    assert (result.sent, result.failed, result.retried) == (0, 0, 3)
    assert handler.data == []
    summaries = store.mail_summaries()
    assert {m.status for m in summaries} == {MailStatus.QUEUED}
    assert all("535" in m.last_error for m in summaries)
    assert {m.status_history[-1]["event"] for m in summaries} == {"refused-auth"}


async def test_a_server_down_for_a_while_gets_every_message_once_it_is_back(store, secure_server, clock):
    port = free_port()
    keys = queue_many(store, 12)
    _, _, settings = secure_server()  # only to get settings; point them at the dead port
    settings = settings.model_copy(update={"port": port})
    async with SmtpMailer(settings) as mailer:
        sender = OutboxSender(store, mailer, batch_size=5)
        first = await sender.flush()
        assert first.retried == 12 and first.sent == 0
        assert store.next_mail_due() == clock.now() + timedelta(seconds=30)
        later(clock, seconds=30)
        second = await sender.flush()
        assert second.retried == 12
        assert store.next_mail_due() == clock.now() + timedelta(seconds=60)  # backoff doubles
        assert (await sender.flush()).total == 0  # nothing is due before then

        handler, _controller, _ = secure_server(port=port)  # the server comes back
        later(clock, seconds=60)
        third = await sender.flush()
    assert third.sent == 12
    ids = message_ids(handler)
    assert sorted(ids) == sorted(sample_mail(key=k).message_id for k in keys)
    assert len(ids) == len(set(ids)) == 12  # each exactly once
    assert events(store, keys[0]) == ["queued", "retry-scheduled", "retry-scheduled", "sent"]


async def test_a_550_for_one_recipient_fails_only_that_message(store, secure_server):
    recipients = ["dt0@school.example", "nobody@school.example", "dt2@school.example"]
    handler, _controller, settings = secure_server(
        ScriptedHandler(rcpt_replies={"nobody@school.example": "550 5.1.1 <nobody@school.example>: user unknown"})
    )
    keys = queue_many(store, 3, recipients=recipients)
    failed: list[tuple[int, str]] = []
    async with SmtpMailer(settings) as mailer:
        result = await OutboxSender(store, mailer, on_failed=lambda i, why: failed.append((i, why))).flush()
    assert (result.sent, result.failed, result.retried) == (2, 1, 0)
    assert len(handler.data) == 2
    bad = store.mail_entry(keys[1])
    assert bad.status == MailStatus.FAILED
    assert "550" in bad.status_history[-1]["detail"] and "user unknown" in bad.status_history[-1]["detail"]
    assert bad.status_history[-1]["code"] == 550
    assert [i for i, _ in failed] == [bad.id]
    assert [store.mail_entry(k).status for k in (keys[0], keys[2])] == [MailStatus.SENT, MailStatus.SENT]
    audit = [a for a in store.audit_entries("mail", keys[1]) if a.action == "mail-failed"]
    assert audit and audit[0].diff["status"] == ["queued", "failed"]


async def test_a_4xx_reply_retries_with_backoff_then_gives_up(store, clock):
    mailer = RecordingMailer(fail_with=[TransientMailError("451 try later", code=451, reason="try later")] * 3)
    [key] = queue_many(store, 1)
    sender = OutboxSender(store, mailer, policy=RetryPolicy(max_attempts=3))
    assert (await sender.flush()).retried == 1
    later(clock, seconds=30)
    assert (await sender.flush()).retried == 1
    later(clock, seconds=60)
    assert (await sender.flush()).failed == 1
    entry = store.mail_entry(key)
    assert entry.status == MailStatus.FAILED
    assert entry.status_history[-1]["detail"].startswith("gave up after 3 attempts")
    assert mailer.sent == []


async def test_a_failed_message_is_sent_after_a_retry(store):
    mailer = RecordingMailer(fail_with=[PermanentMailError("550 no such user", code=550)])
    [key] = queue_many(store, 1)
    sender = OutboxSender(store, mailer)
    assert (await sender.flush()).failed == 1
    entry = store.mail_entry(key)
    store.requeue_mail(entry.id, actor="bso")
    assert (await sender.flush()).sent == 1
    assert events(store, key) == ["queued", "failed", "retry-requested", "sent"]
    assert len(mailer.sent) == 1


def _rsa_key() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


async def test_mail_is_dkim_signed_when_a_key_is_configured(store, secure_server):
    import base64

    private, public = _rsa_key()
    signer = DkimSigner("pep2026", "council.example", private)
    handler, _controller, settings = secure_server()
    queue_many(store, 1, attachment=b"attached bytes")
    async with SmtpMailer(settings, signer=signer.sign) as mailer:
        assert (await OutboxSender(store, mailer).flush()).sent == 1
    [received] = handler.data
    assert received.startswith(b"DKIM-Signature:")

    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    def dns(name, timeout=5):
        assert name == b"pep2026._domainkey.council.example."
        return record

    assert dkim.verify(received, dnsfunc=dns)
    tampered = received.replace(b"PEP form", b"PEP farm", 1)
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_dkim_is_configured_by_all_three_settings_or_none(tmp_path):
    assert dkim_signer_from_env({}) is None
    with pytest.raises(DkimConfigError, match="half configured"):
        dkim_signer_from_env({"PEP_DKIM_SELECTOR": "s1"})
    private, _ = _rsa_key()
    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(private)
    signer = dkim_signer_from_env(
        {"PEP_DKIM_SELECTOR": "s1", "PEP_DKIM_DOMAIN": "council.example", "PEP_DKIM_KEY_FILE": str(key_file)}
    )
    assert signer is not None and signer.domain == "council.example"
    assert "PRIVATE" not in repr(signer)


async def test_bytes_built_in_a_document_worker_are_sent_exactly_as_built_here(store, secure_server):
    """A message with a protected file is encoded in a document worker (issue 16): the
    same message the product's own process would build (its MIME boundaries are random),
    and the server receives exactly the worker's bytes."""
    from pepflow.documents.spin_pool import DocumentPool
    from pepflow.mail.message import message_bytes

    handler, _controller, settings = secure_server()
    mail = sample_mail(key="test:worker-built", attachment=b"PK\x03\x04" + bytes(range(256)) * 40)
    with DocumentPool(1) as pool:
        raw = pool.encode(message_bytes, mail)
        assert (pool.messages_in_pool, pool.documents_in_pool) == (1, 0)
    assert parts(raw) == parts(message_bytes(mail))  # the same message (MIME boundaries are random)
    assert enqueue(store, mail, kind="pep-form", raw=raw)
    async with SmtpMailer(settings) as mailer:
        assert (await OutboxSender(store, mailer).flush()).sent == 1
    assert handler.data[0] == raw  # sent exactly as the worker built it
    attachment = next(email.message_from_bytes(raw, policy=email.policy.default).iter_attachments())
    assert attachment.get_content() == mail.attachments[0].data


def parts(raw: bytes) -> list[tuple[list[tuple[str, str]], bytes | None]]:
    """Each MIME part's headers (boundaries left out) and decoded content."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    return [([(k, v) for k, v in part.items() if k != "Content-Type" or "boundary" not in v],
             None if part.is_multipart() else part.get_payload(decode=True)) for part in message.walk()]


def test_bytes_built_before_cannot_go_with_a_stored_document_read_at_sending(store):
    mail = sample_mail(key="test:refs")
    with pytest.raises(ValueError, match="built when it is sent"):
        enqueue(store, mail, kind="pep-form", document_attachments=[(1, "f.docx", "application/octet-stream")],
                raw=b"From: x\r\n\r\n")
    assert store.mail_entry("test:refs") is None
