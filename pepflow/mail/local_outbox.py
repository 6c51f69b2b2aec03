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
import ipaddress
import logging
import os
import secrets
from collections.abc import Iterable
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..processes import spawn_context
from .outbox_server import EML_NAME, OutboxSetup, SmtpServerController, outbox_controller, serve, server_tls_context
from .transport import SmtpSettings

__all__ = [
    "LocalOutboxServer",
    "SmtpServerController",
    "ensure_certificate",
    "server_tls_context",
]

log = logging.getLogger(__name__)


CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"

# A fixed validity window: the certificate is pinned, not trusted through a CA, so
# expiry adds nothing, and fixed dates keep the wall clock (and a simulated clock
# running years ahead) out of it. 9999-12-31 is RFC 5280's "no expiry" date.
_NOT_BEFORE = datetime(2000, 1, 1, tzinfo=timezone.utc)
_NOT_AFTER = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)


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


class LocalOutboxServer:
    """A STARTTLS + AUTH SMTP server on 127.0.0.1 that stores what it receives.

    ``state_dir`` keeps ``cert.pem`` and ``key.pem`` (made on first run, reused after);
    messages go to ``outbox_dir`` (default ``state_dir / "outbox"``). The login is
    generated per instance unless given. Use as ``with`` or ``async with``.

    With ``own_process`` the server runs in a process of its own, as a mail server
    would, rather than in a thread of the caller's: its TLS, SMTP parsing and file
    writing then take nothing from the interpreter the engine and the jobs share
    (2.9% of the product's samples in a simulated 200-child year; ``PEP_OUTBOX_PROCESS``,
    off by default for its 50 MiB, see docs/simulate-speed-log.md). The child stops when told
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
        controller = outbox_controller(self._setup())
        controller.start()
        self._controller = controller
        log.info("local outbox listening on %s:%d", self.host, controller.port)

    def _setup(self) -> OutboxSetup:
        return OutboxSetup(self.outbox_dir, self.host, self._requested_port, self.cert_path, self.key_path,
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
        return sorted(p for p in self.outbox_dir.iterdir() if EML_NAME.match(p.name))

    def messages(self) -> list[EmailMessage]:
        """The stored messages, parsed, oldest first."""
        return [
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
            for path in self.message_files()
        ]


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
    def start(cls, setup: OutboxSetup) -> _OutboxProcess:
        context = spawn_context()  # the caller has threads: no fork; nor the ``pep`` script again
        ours, theirs = context.Pipe()
        process = context.Process(target=serve, args=(setup, theirs), name="pep-local-outbox", daemon=True)
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
