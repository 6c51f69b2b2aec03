"""The local outbox's SMTP server itself: what runs in its own process.

Split from :mod:`pepflow.mail.local_outbox` so that the outbox's process imports only
this module, the standard library and aiosmtpd (about 24 MiB), not the rest of the mail
package (templates, the SMTP client, pydantic, cryptography: about 48 MiB). The
certificate is made by the caller (``local_outbox.ensure_certificate``); the server
only loads it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import re
import ssl
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from aiosmtpd.smtp import SMTP as SMTPServer

__all__ = ["EML_NAME", "OutboxSetup", "SmtpServerController", "outbox_controller", "serve", "server_tls_context"]

log = logging.getLogger("pepflow.mail.local_outbox")

#: a stored message's file name: ``<sequence>-<hash of Message-ID>.eml``
EML_NAME = re.compile(r"^(\d{6,})-[0-9a-f]{16}\.eml$")


def _not_aiosmtpd_self_deprecation(record: logging.LogRecord) -> bool:
    # aiosmtpd's own AUTH code sets its deprecated Session.login_data and logs a
    # warning about itself on every login; nothing for an operator to act on.
    return "Session.login_data is deprecated" not in record.getMessage()


logging.getLogger("mail.log").addFilter(_not_aiosmtpd_self_deprecation)


def server_tls_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert_path), str(key_path))
    return context


class _OutboxHandler:
    """Files each message as ``<sequence>-<hash of Message-ID>.eml``, envelope first."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        numbers = [int(m.group(1)) for p in folder.iterdir() if (m := EML_NAME.match(p.name))]
        self._next = max(numbers, default=0) + 1

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        if isinstance(content, str):  # pragma: no cover - only with decode_data=True
            content = content.encode("utf-8")
        message_id = BytesHeaderParser().parsebytes(content).get("Message-ID", "") or ""
        digest = hashlib.sha256(message_id.strip().encode("utf-8", "replace")).hexdigest()[:16]
        name = f"{self._next:06d}-{digest}.eml"
        self._next += 1
        envelope_lines = (
            f"Return-Path: <{envelope.mail_from}>\r\n"
            f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode("utf-8")
        tmp = self.folder / (name + ".tmp")
        tmp.write_bytes(envelope_lines + content)
        os.replace(tmp, self.folder / name)
        log.info("local outbox stored %s for %d recipient(s)", name, len(envelope.rcpt_tos))
        return f"250 2.0.0 Stored as {name}"


class _TrackedSMTP(SMTPServer):
    """aiosmtpd's SMTP protocol, registering its socket transport with the controller."""

    def __init__(self, *args, open_transports: set[asyncio.BaseTransport], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._open_transports = open_transports
        self._socket_transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._socket_transport is None:
            self._socket_transport = transport
            self._open_transports.add(transport)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._socket_transport is not None:
            self._open_transports.discard(self._socket_transport)
        super().connection_lost(error)


class SmtpServerController(Controller):
    """An aiosmtpd ``Controller`` that can listen on port 0 and stops cleanly.

    ``port`` is the real port once started. On :meth:`stop` it drops the connections
    still open (aiosmtpd's own ``stop`` leaves their sockets to the garbage collector).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._open_transports: set[asyncio.BaseTransport] = set()

    def factory(self) -> SMTPServer:
        return _TrackedSMTP(self.handler, open_transports=self._open_transports, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        if self.port == 0 and self.server is not None:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()

    async def _drop_connections(self) -> None:
        for transport in list(self._open_transports):
            transport.abort()
        await asyncio.sleep(0)  # let the loop run the connection_lost callbacks
        await asyncio.sleep(0)

    def stop(self, no_assert: bool = False) -> None:
        if self._thread is not None and self.loop.is_running():
            asyncio.run_coroutine_threadsafe(self._drop_connections(), self.loop).result(5)
        super().stop(no_assert=no_assert)


@dataclass(frozen=True)
class OutboxSetup:
    """What the server needs, in a form that crosses to a child process."""

    outbox_dir: Path
    host: str
    port: int
    cert_path: Path
    key_path: Path
    username: str
    password: str

    def authenticate(self, server: SMTPServer, session: Session, envelope: Envelope, mechanism: str,
                     auth_data: object) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user_ok = hmac.compare_digest(auth_data.login, self.username.encode("utf-8"))
        password_ok = hmac.compare_digest(auth_data.password, self.password.encode("utf-8"))
        return AuthResult(success=user_ok and password_ok, handled=False)


def outbox_controller(setup: OutboxSetup) -> SmtpServerController:
    return SmtpServerController(
        _OutboxHandler(setup.outbox_dir),
        hostname=setup.host,
        port=setup.port,
        server_hostname="pepflow-local-outbox",
        tls_context=server_tls_context(setup.cert_path, setup.key_path),
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=setup.authenticate,
    )


def serve(setup: OutboxSetup, conn) -> None:
    """The child process: serve until told to stop or until the parent is gone."""
    try:
        controller = outbox_controller(setup)
        controller.start()
    except BaseException as exc:  # noqa: BLE001 - the parent raises it with the reason
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("listening", controller.port))
    try:
        conn.recv()  # "stop", or EOFError when the parent's end closes
    except (EOFError, OSError):
        pass
    finally:
        controller.stop()
        conn.close()
