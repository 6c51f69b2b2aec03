"""The mail outbox: steps queue messages in the records store, a sender delivers them.

A step of the process that must send mail calls :func:`enqueue` (through
``SecureMail.queue``): the whole message - idempotency key, rendered subject and bodies,
attachments (bytes, or a reference to the stored document version) - goes into the
records store with its mail log entry and an audit entry, in one transaction, and the
step returns. It never talks SMTP. A retried or re-delivered job finds the key and
queues nothing new.

:class:`OutboxSender` delivers what is queued through a :class:`~.transport.Mailer`
(one or several ``SmtpMailer``\\ s, each keeping its connection open):

* the server took it: ``sent``, with the server's reply;
* a transient failure (a 4xx reply, connection refused or lost, a timeout): the message
  stays ``queued``, a ``retry-scheduled`` entry says why and when; the delay doubles
  each attempt (30 s, 1 min, 2 min ... at most 1 h) and after ``max_attempts`` the
  message is ``failed`` ("gave up after ...");
* the server offers no TLS or its certificate does not verify
  (:class:`~.transport.InsecureServerError`): nothing is sent in clear; the message stays
  ``queued`` with the reason (``refused-insecure``) and is tried again later, after the
  configuration is fixed;
* a permanent failure (a 5xx reply, an unknown recipient): ``failed`` with the server's
  reason. Only that message: the others of the batch go on. Business support sees it in
  ``pep mail status`` (failed messages first) and in the audit log (``mail-failed``),
  fixes the address in the records and runs ``pep mail retry ID``.

Delivery is at least once. The queue is durable: a crash between queuing and sending
delivers after the restart (a claim is a lease that runs out). A crash after the server
accepted a message but before ``sent`` was recorded sends it once more on restart; it
carries the same Message-ID (derived from the idempotency key), so the copy is
recognisable, and the window is one message per connection (``mark_every=1``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .message import Attachment, OutgoingMail, message_bytes
from .transport import InsecureServerError, Mailer, PermanentMailError, TransientMailError

__all__ = [
    "FlushResult",
    "JobRef",
    "OutboxSender",
    "RetryPolicy",
    "current_job",
    "enqueue",
]

log = logging.getLogger(__name__)

ACTOR = "mail-sender"
#: replies about the login (530 authentication required, 534/538 mechanism, 535 bad
#: credentials): the sender's configuration is wrong, not the message
AUTH_CODES = frozenset({530, 534, 535, 538})
MAX_KEY = 200


@dataclass(frozen=True)
class JobRef:
    """The job a message is queued for (kept with the message, for tracing)."""

    process_instance_key: int
    element_id: str


#: set by the mail workers around a step, read when the step queues a message
current_job: ContextVar[JobRef | None] = ContextVar("current_job", default=None)


def bounded_key(key: str) -> str:
    """An idempotency key that fits the mail log (200 characters), stable for ``key``."""
    if len(key) <= MAX_KEY:
        return key
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
    return f"{key[: MAX_KEY - 41]}#{digest}"


def enqueue(
    store: Any,
    mail: OutgoingMail,
    *,
    kind: str,
    pep_id: str | None = None,
    document_attachments: Sequence[tuple[int, str, str]] = (),
    recipient_party_id: str | None = None,
    recipient_role: str | None = None,
    actor: str = "system",
    not_before: datetime | None = None,
    raw: bytes | None = None,
) -> bool:
    """Queue ``mail`` once per idempotency key; return whether it was queued now
    (held back until ``not_before`` when given). ``raw`` is the message's bytes when the
    caller built them already (:func:`message_bytes` of this ``mail``, in a document
    worker); else they are built here.

    ``document_attachments`` are ``(document_version_id, filename, content_type)``:
    stored document versions attached by reference (read when sending) in addition
    to ``mail.attachments`` (kept as bytes).
    """
    job = current_job.get()
    attachments: list[dict[str, Any]] = [
        {"filename": name, "content_type": ctype, "document_version_id": doc_id}
        for doc_id, name, ctype in document_attachments
    ]
    attachments += [
        {"filename": a.filename, "content_type": a.content_type, "content": a.data}
        for a in mail.attachments
    ]
    # Build the exact bytes now, once: the sender then only transmits them, and a
    # resend is byte-for-byte the same message. (Not when an attachment is a stored
    # document to be read at sending time.)
    if document_attachments and raw is not None:
        raise ValueError("a message with stored documents attached is built when it is sent, not before")
    if raw is None and not document_attachments:
        raw = message_bytes(mail)
    _entry, created = store.enqueue_mail(
        mail.idempotency_key,
        kind=kind,
        message_id=mail.message_id,
        sender=mail.sender,
        sender_name=mail.sender_name,
        reply_to=mail.reply_to,
        recipients=mail.recipients,
        subject=mail.subject,
        text_body=mail.text_body,
        html_body=mail.html_body,
        date=mail.date,
        attachments=attachments,
        pep_id=pep_id,
        recipient_party_id=recipient_party_id,
        recipient_role=recipient_role,
        process_instance_key=job.process_instance_key if job else None,
        element_id=job.element_id if job else None,
        raw=raw,
        not_before=not_before,
        actor=actor,
    )
    return created


@dataclass(frozen=True)
class RetryPolicy:
    base: timedelta = timedelta(seconds=30)
    factor: float = 2.0
    maximum: timedelta = timedelta(hours=1)
    #: after this many attempts a transient failure becomes ``failed`` (about a day)
    max_attempts: int = 30
    #: a server refused for insecurity is tried again after this long
    insecure_delay: timedelta = timedelta(minutes=15)

    def delay(self, attempt: int) -> timedelta:
        """The wait after failed attempt number ``attempt`` (1, 2, ...)."""
        seconds = self.base.total_seconds() * (self.factor ** max(0, attempt - 1))
        return timedelta(seconds=min(seconds, self.maximum.total_seconds()))


@dataclass
class FlushResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0

    def __iadd__(self, other: FlushResult) -> FlushResult:
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        return self

    @property
    def total(self) -> int:
        return self.sent + self.retried + self.failed


def to_outgoing(message: Any) -> OutgoingMail:
    """The :class:`OutgoingMail` of a stored outbox message (attachments loaded)."""
    mail = OutgoingMail(
        idempotency_key=message.idempotency_key,
        sender=message.sender,
        sender_name=message.sender_name,
        reply_to=message.reply_to,
        recipients=message.recipients,
        subject=message.subject,
        text_body=message.text_body,
        html_body=message.html_body,
        date=message.date,
        attachments=tuple(
            Attachment(filename=a.filename, content_type=a.content_type, data=a.data)
            for a in message.attachments
            if a.data is not None  # not loaded: the message goes as its built bytes
        ),
    )
    if mail.message_id != message.message_id:  # pragma: no cover - a changed sender domain
        raise ValueError(
            f"mail {message.mail_id}: Message-ID {mail.message_id} differs from the queued "
            f"{message.message_id}"
        )
    return mail


class _ServerUnavailable(Exception):
    """A connection-level failure: the rest of the batch is not tried now."""

    def __init__(self, reason: str, event: str, delay: timedelta | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.event = event
        self.delay = delay


@dataclass
class OutboxSender:
    """Delivers queued messages through ``mailers`` (one connection each, in parallel).

    :meth:`flush` sends everything due now and returns; :meth:`run` keeps doing that
    until stopped, waking when :meth:`wake` is called or the next retry is due.
    """

    store: Any
    mailers: Sequence[Mailer] | Mailer
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    batch_size: int = 50
    lease: timedelta = timedelta(minutes=5)
    #: record ``sent`` after this many accepted messages per connection (1: after each,
    #: the smallest re-send window after a crash)
    mark_every: int = 1
    name: str = field(default_factory=lambda: f"sender-{uuid.uuid4().hex[:10]}")
    on_failed: Callable[[int, str], None] | None = None
    poll_interval: float = 30.0

    def __post_init__(self) -> None:
        if not isinstance(self.mailers, (list, tuple)):
            self.mailers = [self.mailers]  # type: ignore[list-item]
        if not self.mailers:
            raise ValueError("an outbox sender needs at least one mailer")
        self._wake: asyncio.Event | None = None
        self._flush_lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- public --------------------------------------------------------------------

    def wake(self) -> None:
        """Something was queued: the running :meth:`run` loop looks now."""
        if self._wake is not None:
            self._wake.set()

    def next_due(self) -> datetime | None:
        return self.store.next_mail_due()

    async def flush(self) -> FlushResult:
        """Send every message due now (claimed in batches); return what happened."""
        total = FlushResult()
        async with self._lock():
            while True:
                ids = self.store.claim_mail(self.name, limit=self.batch_size, lease=self.lease)
                if not ids:
                    return total
                total += await self._deliver(ids)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set: after each wake-up, retry time or poll."""
        self._wake = asyncio.Event()
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # keep the loop alive; the reason is logged
                log.exception("the outbox sender failed; trying again shortly")
            wait = self.poll_interval
            due = self.next_due()
            if due is not None:
                now = self.store.clock.now()
                wait = min(wait, max(0.05, (due - now).total_seconds()))
            stopper = asyncio.ensure_future(stop.wait())
            waker = asyncio.ensure_future(self._wake.wait())
            await asyncio.wait({stopper, waker}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            waker.cancel()

    async def close(self) -> None:
        for mailer in self.mailers:  # type: ignore[union-attr]
            close = getattr(mailer, "close", None)
            if close is not None:
                await close()

    # -- delivery ------------------------------------------------------------------

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._flush_lock is None or self._loop is not loop:
            self._flush_lock = asyncio.Lock()
            self._loop = loop
        return self._flush_lock

    async def _deliver(self, ids: list[int]) -> FlushResult:
        result = FlushResult()
        try:
            # with mailers that take the bytes built at queue time, the parts need no loading
            prebuilt = all(getattr(m, "sends_prebuilt", False) for m in self.mailers)
            messages = self.store.outbox_messages(ids, prebuilt_only=prebuilt)
        except Exception as exc:
            # a stored document that cannot be read: try each message on its own
            log.warning("could not load a batch of queued messages (%s); one by one", exc)
            messages = []
            for mail_id in ids:
                try:
                    messages.extend(self.store.outbox_messages([mail_id]))
                except Exception as one:  # noqa: BLE001 - reported in the message's history
                    self._retry(mail_id, 0, f"cannot load the message: {one}", result)
        pending = list(messages)
        pending.reverse()  # pop() takes them oldest first
        stopped: list[_ServerUnavailable] = []
        mailers = self.mailers  # type: ignore[assignment]
        workers = [
            self._work(mailer, pending, stopped, result)
            for mailer in mailers[: max(1, min(len(mailers), len(pending)))]
        ]
        try:
            await asyncio.gather(*workers)
        finally:
            if pending:
                if stopped:
                    why = stopped[0]
                    for message in pending:
                        self._retry(
                            message.mail_id, message.attempts,
                            f"not tried: {why.reason}", result, event=why.event, delay=why.delay,
                        )
                else:  # cancelled: give the claims back
                    self.store.release_mail([m.mail_id for m in pending], self.name)
        return result

    async def _work(self, mailer: Mailer, pending: list, stopped: list, result: FlushResult) -> None:
        accepted: list[tuple[int, str]] = []
        try:
            while pending and not stopped:
                message = pending.pop()
                try:
                    outcome = await self._send_one(mailer, message, result)
                except _ServerUnavailable as unavailable:
                    stopped.append(unavailable)
                    self._retry(
                        message.mail_id, message.attempts, unavailable.reason, result,
                        event=unavailable.event, delay=unavailable.delay,
                    )
                    break
                except asyncio.CancelledError:
                    pending.append(message)
                    raise
                if outcome is None:
                    continue  # failed or retry already recorded
                accepted.append((message.mail_id, outcome))
                result.sent += 1
                if len(accepted) >= self.mark_every:
                    self.store.mark_mail_sent(accepted, actor=ACTOR)
                    accepted = []
        finally:
            if accepted:
                self.store.mark_mail_sent(accepted, actor=ACTOR)

    async def _send_one(self, mailer: Mailer, message: Any, result: FlushResult) -> str | None:
        """Send one message; the server's reply, or ``None`` when the outcome (retry or
        failure) has been recorded already."""
        try:
            mail = to_outgoing(message)
        except ValueError as exc:
            self._fail(message.mail_id, f"the queued message is not valid: {exc}", None, result)
            return None
        try:
            if message.raw is not None and getattr(mailer, "sends_prebuilt", False):
                sent = await mailer.send(mail, prebuilt=message.raw)
            else:
                sent = await mailer.send(mail)
        except InsecureServerError as exc:
            log.error("mail %s not sent: %s", message.mail_id, exc)
            raise _ServerUnavailable(
                f"refused to send: {exc}", "refused-insecure", self.policy.insecure_delay
            ) from None
        except PermanentMailError as exc:
            if exc.code in AUTH_CODES and not exc.refused:
                # the login, not this message: a configuration problem for every message
                log.error("mail %s not sent: %s", message.mail_id, exc)
                raise _ServerUnavailable(
                    f"the server refused the login: {exc}", "refused-auth", self.policy.insecure_delay
                ) from None
            reason = str(exc)
            if exc.accepted:
                reason += f" (delivered to {', '.join(exc.accepted)})"
            self._fail(message.mail_id, reason, exc.code, result)
            return None
        except TransientMailError as exc:
            if exc.code is None and not exc.refused:
                # connection refused / lost / timed out: the server, not this message
                raise _ServerUnavailable(str(exc), "retry-scheduled", None) from None
            self._retry(message.mail_id, message.attempts, str(exc), result, code=exc.code)
            return None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - an unexpected failure: keep it queued
            log.exception("mail %s: unexpected failure while sending", message.mail_id)
            self._retry(message.mail_id, message.attempts, f"{type(exc).__name__}: {exc}", result)
            return None
        return sent.reply

    def _retry(
        self,
        mail_id: int,
        attempts_before: int,
        reason: str,
        result: FlushResult,
        *,
        event: str = "retry-scheduled",
        delay: timedelta | None = None,
        code: int | None = None,
    ) -> None:
        attempt = attempts_before + 1
        if attempt >= self.policy.max_attempts:
            self._fail(mail_id, f"gave up after {attempt} attempts; last error: {reason}", code, result)
            return
        wait = delay if delay is not None else self.policy.delay(attempt)
        when = self.store.clock.now() + wait
        log.warning("mail %s: %s; next attempt at %s", mail_id, reason, when.isoformat())
        self.store.schedule_mail_retry(mail_id, reason, when, actor=ACTOR, event=event, code=code)
        result.retried += 1

    def _fail(self, mail_id: int, reason: str, code: int | None, result: FlushResult) -> None:
        log.error("mail %s failed: %s", mail_id, reason)
        self.store.mark_mail_failed(mail_id, reason, actor=ACTOR, code=code)
        result.failed += 1
        if self.on_failed is not None:
            try:
                self.on_failed(mail_id, reason)
            except Exception:  # noqa: BLE001 - surfacing must not stop delivery
                log.exception("the failed-mail hook raised")
