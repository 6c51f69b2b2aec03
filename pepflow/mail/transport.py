"""Sending mail: the :class:`Mailer` protocol, the SMTP implementation and a fake.

The SMTP mailer only ever talks to a server over TLS whose certificate it has verified:
STARTTLS is required (``start_tls=True``, never aiosmtplib's opportunistic default) or
the connection is TLS from the first byte. A server that cannot do that gets
:class:`InsecureServerError` and nothing is sent, not even the envelope.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass, field
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from collections.abc import Callable
from typing import Literal, Protocol, runtime_checkable

import aiosmtplib
from aiosmtplib import errors as smtp_errors
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from . import line_endings
from .message import OutgoingMail, build_email, validate_address

line_endings.install()  # messages already in CRLF are not rebuilt before DATA

__all__ = [
    "InsecureServerError",
    "MailError",
    "Mailer",
    "PermanentMailError",
    "RecordingMailer",
    "RefusedRecipient",
    "SendResult",
    "SmtpMailer",
    "SmtpSettings",
    "TransientMailError",
    "tls_context_for",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefusedRecipient:
    address: str
    code: int
    reason: str


@dataclass(frozen=True)
class SendResult:
    """What the server accepted: the recipients, its reply to DATA and the Message-ID."""

    accepted: tuple[str, ...]
    reply: str
    message_id: str


class MailError(Exception):
    """Base of every mail failure.

    ``accepted`` lists recipients the message *was* delivered to (non-empty only when a
    server refused some recipients of a message and took the rest); a retry should go to
    ``refused`` only.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        reason: str | None = None,
        refused: tuple[RefusedRecipient, ...] = (),
        accepted: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.refused = refused
        self.accepted = accepted


class TransientMailError(MailError):
    """Try again later: 4xx replies, connection refused or lost, timeouts."""


class PermanentMailError(MailError):
    """Retrying will not help: 5xx replies (recipient unknown, message rejected, bad login)."""


class InsecureServerError(MailError):
    """The server offers no TLS or its certificate does not verify. Nothing was sent.

    A configuration problem (or an attack stripping STARTTLS): report it, do not retry
    blindly, and never fall back to a plain connection.
    """


@runtime_checkable
class Mailer(Protocol):
    async def send(self, mail: OutgoingMail) -> SendResult: ...


class SmtpSettings(BaseModel):
    """How to reach the outgoing mail server. There is deliberately no plain-text option."""

    model_config = ConfigDict(frozen=True)

    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["starttls", "tls"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    ca_bundle: Path | None = None
    timeout: float = Field(default=30.0, gt=0)
    sender: str
    local_hostname: str | None = None

    @field_validator("sender")
    @classmethod
    def _valid_sender(cls, value: str) -> str:
        return validate_address(value)

    @model_validator(mode="after")
    def _credentials_together(self) -> SmtpSettings:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password must be given together")
        return self

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 465 if self.security == "tls" else 587


def tls_context_for(settings: SmtpSettings) -> ssl.SSLContext:
    """A verifying client context: the system store, or exactly the configured CA bundle."""
    if settings.ca_bundle is not None:
        if not settings.ca_bundle.is_file():
            raise InsecureServerError(f"CA bundle {settings.ca_bundle} does not exist")
        context = ssl.create_default_context(cafile=str(settings.ca_bundle))
    else:
        context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def _tls_failure(exc: BaseException) -> ssl.SSLError | None:
    """The TLS error behind ``exc``, if any (aiosmtplib wraps some of them)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _by_code(code: int, message: str, **kwargs) -> MailError:
    if 400 <= code < 500:
        return TransientMailError(message, code=code, **kwargs)
    return PermanentMailError(message, code=code, **kwargs)


def _refused(errors: list[smtp_errors.SMTPRecipientRefused]) -> tuple[RefusedRecipient, ...]:
    return tuple(RefusedRecipient(e.recipient, e.code, e.message) for e in errors)


def _describe_refusals(refused: tuple[RefusedRecipient, ...]) -> str:
    return "; ".join(f"{r.address}: {r.code} {r.reason}" for r in refused)


class _AbortingSMTP(aiosmtplib.SMTP):
    """aiosmtplib's client, closing its socket at once whenever it closes.

    aiosmtplib's ``close()`` (also called inside ``connect()`` on a refused login, a
    failed handshake or a lost server) starts a graceful TLS shutdown that waits for the
    peer's close_notify; if the peer never answers, the socket is left to the garbage
    collector. Every caller here is finished with the session by then, so abort instead.
    """

    def close(self) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.abort()
        super().close()


async def _discard(client: aiosmtplib.SMTP) -> None:
    """Close a client's socket now and let the loop run the close callbacks."""
    client.close()
    await asyncio.sleep(0)


class SmtpMailer:
    """Sends through one SMTP connection, kept open between messages.

    Messages are sent one after another on that connection (an ``asyncio.Lock``), so a
    batch of thousands pays for one TLS handshake and one login. A connection the server
    has dropped is replaced on the next send. Use ``async with SmtpMailer(...)`` or call
    :meth:`close` at the end.
    """

    def __init__(
        self, settings: SmtpSettings, *, signer: Callable[[bytes], bytes] | None = None
    ) -> None:
        self.settings = settings
        #: signs the finished message bytes (DKIM) when a key is configured
        self.signer = signer
        self._client: aiosmtplib.SMTP | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None
        self.connections_opened = 0

    async def __aenter__(self) -> SmtpMailer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _bind_to_running_loop(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # A connection made on another (finished) loop cannot be used here.
            self._client = None
            self._lock = asyncio.Lock()
            self._loop = loop
        assert self._lock is not None
        return self._lock

    #: the outbox may hand over the message's bytes as built when it was queued
    sends_prebuilt = True

    async def send(self, mail: OutgoingMail, *, prebuilt: bytes | None = None) -> SendResult:
        message_bytes = prebuilt if prebuilt is not None else build_email(mail).as_bytes(policy=SMTP_POLICY)
        if self.signer is not None:
            message_bytes = self.signer(message_bytes)
        lock = self._bind_to_running_loop()
        async with lock:
            reused = self._client is not None and self._client.is_connected
            try:
                return await self._send_once(mail, message_bytes)
            except smtp_errors.SMTPServerDisconnected:
                await self._drop()
                if not reused:
                    raise TransientMailError(
                        f"{self._where()} closed the connection while sending"
                    ) from None
                # A kept-open connection the server had quietly closed: one fresh try.
                # (If the server did take the message before dropping us, the repeat has
                # the same Message-ID, so the recipient can recognise it.)
                log.info("SMTP connection to %s was closed; reconnecting", self._where())
                try:
                    return await self._send_once(mail, message_bytes)
                except smtp_errors.SMTPServerDisconnected:
                    await self._drop()
                    raise TransientMailError(
                        f"{self._where()} closed the connection while sending"
                    ) from None

    async def _send_once(self, mail: OutgoingMail, message_bytes: bytes) -> SendResult:
        client = await self._connected_client()
        recipients = list(mail.recipients)
        try:
            errors, reply = await client.sendmail(self.settings.sender, recipients, message_bytes)
        except smtp_errors.SMTPServerDisconnected:
            raise
        except smtp_errors.SMTPRecipientsRefused as exc:
            refused = _refused(exc.recipients)
            codes = {r.code for r in refused}
            text = f"{self._where()} refused every recipient: {_describe_refusals(refused)}"
            if all(code >= 500 for code in codes):
                raise PermanentMailError(
                    text, code=refused[0].code, reason=refused[0].reason, refused=refused
                ) from None
            raise TransientMailError(
                text, code=refused[0].code, reason=refused[0].reason, refused=refused
            ) from None
        except smtp_errors.SMTPResponseException as exc:
            raise _by_code(
                exc.code,
                f"{self._where()} rejected the message: {exc.code} {exc.message}",
                reason=exc.message,
            ) from None
        except (smtp_errors.SMTPTimeoutError, ConnectionError, OSError) as exc:
            await self._drop()
            raise TransientMailError(f"sending via {self._where()} failed: {exc}") from exc
        except smtp_errors.SMTPException as exc:
            raise PermanentMailError(f"sending via {self._where()} failed: {exc}") from exc

        accepted = tuple(r for r in recipients if r not in errors)
        if errors:
            refused = tuple(
                RefusedRecipient(address, response.code, response.message)
                for address, response in errors.items()
            )
            worst = max(refused, key=lambda r: r.code)
            log.warning(
                "message %s delivered to %d recipient(s), refused for %s",
                mail.message_id,
                len(accepted),
                _describe_refusals(refused),
            )
            raise _by_code(
                worst.code,
                f"{self._where()} refused {len(refused)} of {len(recipients)} recipients "
                f"(the others received the message): {_describe_refusals(refused)}",
                reason=worst.reason,
                refused=refused,
                accepted=accepted,
            )
        return SendResult(accepted=accepted, reply=reply, message_id=mail.message_id)

    async def _connected_client(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        self._client = None
        settings = self.settings
        implicit_tls = settings.security == "tls"
        client = _AbortingSMTP(
            hostname=settings.host,
            port=settings.effective_port,
            use_tls=implicit_tls,
            start_tls=not implicit_tls,  # True: STARTTLS or fail, never opportunistic
            validate_certs=True,
            tls_context=tls_context_for(settings),
            timeout=settings.timeout,
            local_hostname=settings.local_hostname,
            username=settings.username,
            password=settings.password.get_secret_value() if settings.password else None,
        )
        try:
            await client.connect()
        except asyncio.CancelledError:
            await _discard(client)
            raise
        except Exception as exc:
            await _discard(client)
            raise self._connect_error(exc) from exc
        if client.get_transport_info("sslcontext") is None:  # defence in depth
            await _discard(client)
            raise InsecureServerError(f"{self._where()}: the connection is not encrypted")
        self.connections_opened += 1
        self._client = client
        log.debug("connected to %s over TLS", self._where())
        return client

    def _connect_error(self, exc: Exception) -> Exception:
        where = self._where()
        tls = _tls_failure(exc)
        if tls is not None:
            detail = getattr(tls, "verify_message", None) or tls.reason or str(tls)
            return InsecureServerError(
                f"{where}: TLS failed ({detail}); refusing to send without a verified "
                "encrypted connection"
            )
        if isinstance(exc, smtp_errors.SMTPAuthenticationError):
            return _by_code(
                exc.code, f"{where}: login refused: {exc.code} {exc.message}", reason=exc.message
            )
        if isinstance(exc, smtp_errors.SMTPResponseException):
            return _by_code(exc.code, f"{where}: {exc.code} {exc.message}", reason=exc.message)
        if isinstance(exc, (smtp_errors.SMTPTimeoutError, smtp_errors.SMTPConnectError)):
            return TransientMailError(f"cannot connect to {where}: {exc}")
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
            return TransientMailError(f"cannot connect to {where}: {exc}")
        if isinstance(exc, smtp_errors.SMTPException):
            if "STARTTLS" in str(exc).upper():
                return InsecureServerError(
                    f"{where} does not offer STARTTLS; refusing to send in clear text"
                )
            return PermanentMailError(f"{where}: {exc}")
        return exc

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await _discard(client)

    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.effective_port}"

    async def close(self) -> None:
        """QUIT and close the kept-open connection, if any."""
        client, self._client = self._client, None
        if client is None or not client.is_connected:
            return
        if self._loop is not asyncio.get_running_loop():
            return
        try:
            await client.quit()
        except (smtp_errors.SMTPException, ConnectionError, OSError):
            pass
        finally:
            await _discard(client)


@dataclass
class RecordingMailer:
    """A fake :class:`Mailer` that keeps what it was given.

    ``fail_with`` makes the next sends raise (one exception per send, in order), to test
    how callers handle failures.
    """

    sent: list[OutgoingMail] = field(default_factory=list)
    fail_with: list[MailError] = field(default_factory=list)

    async def send(self, mail: OutgoingMail) -> SendResult:
        if self.fail_with:
            raise self.fail_with.pop(0)
        self.sent.append(mail)
        return SendResult(
            accepted=mail.recipients, reply="250 recorded", message_id=mail.message_id
        )

    def to(self, address: str) -> list[OutgoingMail]:
        """Everything sent to ``address``."""
        wanted = validate_address(address).lower()
        return [m for m in self.sent if wanted in (r.lower() for r in m.recipients)]
