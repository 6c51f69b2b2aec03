"""The product's own SMTP server for the embedded mode and the demo.

It listens on 127.0.0.1 only, insists on STARTTLS and on a login (over TLS), and files
every message it receives as an ``.eml`` file instead of delivering it, so the same
:class:`~pepflow.mail.transport.SmtpMailer` that talks to a council's relay is exercised
end to end. The TLS certificate is self-signed, made once and kept in the state
directory; :meth:`LocalOutboxServer.smtp_settings` trusts exactly that certificate.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import hmac
import ipaddress
import logging
import os
import re
import secrets
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from pathlib import Path
from types import TracebackType

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from aiosmtpd.smtp import SMTP as SMTPServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..processes import spawn_context
from .transport import SmtpSettings

__all__ = [
    "LocalOutboxServer",
    "SmtpServerController",
    "ensure_certificate",
    "server_tls_context",
]

log = logging.getLogger(__name__)


def _not_aiosmtpd_self_deprecation(record: logging.LogRecord) -> bool:
    # aiosmtpd's own AUTH code sets its deprecated Session.login_data and logs a
    # warning about itself on every login; nothing for an operator to act on.
    return "Session.login_data is deprecated" not in record.getMessage()


logging.getLogger("mail.log").addFilter(_not_aiosmtpd_self_deprecation)

CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"

# A fixed validity window: the certificate is pinned, not trusted through a CA, so
# expiry adds nothing, and fixed dates keep the wall clock (and a simulated clock
# running years ahead) out of it. 9999-12-31 is RFC 5280's "no expiry" date.
_NOT_BEFORE = datetime(2000, 1, 1, tzinfo=timezone.utc)
_NOT_AFTER = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)

_EML_NAME = re.compile(r"^(\d{6,})-[0-9a-f]{16}\.eml$")


def ensure_certificate(
    directory: Path,
    *,
    dns_names: Iterable[str] = ("localhost",),
    ip_addresses: Iterable[str] = ("127.0.0.1", "::1"),
) -> tuple[Path, Path]:
    """Return ``(cert.pem, key.pem)`` in ``directory``, creating them on first use.

    The key is ECDSA P-256 and readable by the owner only.
    """
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / CERT_FILE, directory / KEY_FILE
    if cert_path.is_file() and key_path.is_file():
        return cert_path, key_path

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "PEP flow"),
            x509.NameAttribute(NameOID.COMMON_NAME, "PEP flow local outbox"),
        ]
    )
    alt_names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    alt_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    public_key = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_private(key_path, key_bytes)
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    log.info("created a self-signed certificate for the local outbox in %s", directory)
    return cert_path, key_path


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


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
        numbers = [int(m.group(1)) for p in folder.iterdir() if (m := _EML_NAME.match(p.name))]
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


class LocalOutboxServer:
    """A STARTTLS + AUTH SMTP server on 127.0.0.1 that stores what it receives.

    ``state_dir`` keeps ``cert.pem`` and ``key.pem`` (made on first run, reused after);
    messages go to ``outbox_dir`` (default ``state_dir / "outbox"``). The login is
    generated per instance unless given. Use as ``with`` or ``async with``.

    With ``own_process`` the server runs in a process of its own, as a mail server
    would, rather than in a thread of the caller's: its TLS, SMTP parsing and file
    writing then take nothing from the interpreter the engine and the jobs share
    (2.9% of the product's samples in a simulated 200-child year; ``PEP_OUTBOX_PROCESS``,
    off by default for its 50 MiB, see docs/simulate.md). The child stops when told
    to, or when the caller's end of the pipe closes (the caller died).
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        outbox_dir: Path | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        username: str = "pepflow",
        password: str | None = None,
        own_process: bool = False,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.outbox_dir = Path(outbox_dir) if outbox_dir is not None else self.state_dir / "outbox"
        self.host = host
        self.username = username
        self.password = password if password is not None else secrets.token_urlsafe(24)
        self._requested_port = port
        self.cert_path, self.key_path = ensure_certificate(self.state_dir)
        self.own_process = own_process
        self._controller: SmtpServerController | None = None
        self._child: _OutboxProcess | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        if self._controller is not None or self._child is not None:
            raise RuntimeError("the local outbox is already running")
        if self.own_process:
            self._child = _OutboxProcess.start(self._setup())
            log.info("local outbox listening on %s:%d (process %d)", self.host, self._child.port, self._child.pid)
            return
        controller = _controller(self._setup())
        controller.start()
        self._controller = controller
        log.info("local outbox listening on %s:%d", self.host, controller.port)

    def _setup(self) -> _Setup:
        return _Setup(self.outbox_dir, self.host, self._requested_port, self.cert_path, self.key_path,
                      self.username, self.password)

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
        child, self._child = self._child, None
        if child is not None:
            child.stop()

    def __enter__(self) -> LocalOutboxServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> LocalOutboxServer:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    # -- use -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._child is not None:
            return self._child.port
        if self._controller is None:
            raise RuntimeError("the local outbox is not running")
        return self._controller.port

    def smtp_settings(
        self, sender: str = "pep-service@pepflow.localhost", timeout: float = 10.0
    ) -> SmtpSettings:
        """Settings for :class:`SmtpMailer` that trust exactly this server's certificate."""
        return SmtpSettings(
            host=self.host,
            port=self.port,
            security="starttls",
            username=self.username,
            password=self.password,
            ca_bundle=self.cert_path,
            timeout=timeout,
            sender=sender,
            local_hostname="localhost",
        )

    def message_files(self) -> list[Path]:
        """The stored ``.eml`` files, oldest first."""
        if not self.outbox_dir.is_dir():
            return []
        return sorted(p for p in self.outbox_dir.iterdir() if _EML_NAME.match(p.name))

    def messages(self) -> list[EmailMessage]:
        """The stored messages, parsed, oldest first."""
        return [
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
            for path in self.message_files()
        ]


@dataclass(frozen=True)
class _Setup:
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


def _controller(setup: _Setup) -> SmtpServerController:
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


def _serve(setup: _Setup, conn) -> None:
    """The child process: serve until told to stop or until the parent is gone."""
    try:
        controller = _controller(setup)
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


class _OutboxProcess:
    """The local outbox's own process and the caller's end of its pipe."""

    START_TIMEOUT = 30.0
    STOP_TIMEOUT = 10.0

    def __init__(self, process, conn, port: int) -> None:
        self.process, self.conn, self.port = process, conn, port

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    def start(cls, setup: _Setup) -> _OutboxProcess:
        context = spawn_context()  # the caller has threads: no fork; nor the ``pep`` script again
        ours, theirs = context.Pipe()
        process = context.Process(target=_serve, args=(setup, theirs), name="pep-local-outbox", daemon=True)
        process.start()
        theirs.close()
        try:
            if not ours.poll(cls.START_TIMEOUT):
                raise RuntimeError(f"the local outbox did not start within {cls.START_TIMEOUT:.0f} s")
            try:
                what, value = ours.recv()
            except EOFError:
                process.join(cls.STOP_TIMEOUT)
                raise RuntimeError(
                    f"the local outbox's process ended as it started (exit code {process.exitcode})") from None
            if what != "listening":
                raise RuntimeError(f"the local outbox could not start: {value}")
        except BaseException:
            # nothing of a start that failed stays behind: the process nor the pipe
            ours.close()
            process.join(1)  # one that said why ends by itself; a silent one is ended
            if process.is_alive():
                process.kill()
                process.join()
            raise
        return cls(process, ours, value)

    def stop(self) -> None:
        try:
            self.conn.send("stop")
        except (BrokenPipeError, OSError):
            pass  # it is gone already: join says how it ended
        self.process.join(self.STOP_TIMEOUT)
        if self.process.is_alive():
            log.warning("the local outbox's process did not stop within %.0f s: ended", self.STOP_TIMEOUT)
            self.process.kill()
            self.process.join()
        elif self.process.exitcode:
            log.warning("the local outbox's process ended with exit code %s", self.process.exitcode)
        self.conn.close()
