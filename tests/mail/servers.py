"""Test SMTP servers and sample messages for the mail tests."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller

from pepflow.mail import Attachment, OutgoingMail

REFERENCE = "PEP-C-0001-2026-AUT"


@dataclass
class ScriptedHandler:
    """An aiosmtpd handler that records the conversation and answers as scripted."""

    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None
    peers: list[tuple[str, int]] = field(default_factory=list)
    mail_from: list[str] = field(default_factory=list)
    rcpt_to: list[str] = field(default_factory=list)
    data: list[bytes] = field(default_factory=list)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if session.peer not in self.peers:
            self.peers.append(session.peer)
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.mail_from.append(address)
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpt_to.append(address)
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply is not None:
            return self.data_reply
        self.data.append(envelope.original_content)
        return "250 Message accepted"


@contextlib.contextmanager
def running(controller: Controller) -> Iterator[Controller]:
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sample_mail(
    key: str = "pep-form:PEP-C-0001-2026-AUT:dt",
    recipients: tuple[str, ...] = ("dt@school.example",),
    attachment: bytes | None = None,
) -> OutgoingMail:
    attachments = ()
    if attachment is not None:
        attachments = (
            Attachment(
                filename=f"{REFERENCE}.docx",
                content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                data=attachment,
            ),
        )
    return OutgoingMail(
        idempotency_key=key,
        sender="bso.north@council.example",
        recipients=recipients,
        subject=f"PEP form {REFERENCE}: please return by Monday 21 September 2026",
        text_body=f"Please find attached the PEP form {REFERENCE}.\n",
        html_body=f"<p>Please find attached the PEP form <strong>{REFERENCE}</strong>.</p>\n",
        attachments=attachments,
    )
