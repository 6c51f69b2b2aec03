"""Secure mail: messages, their templates, the SMTP transport and the local outbox.

Mail leaves only over verified TLS (STARTTLS required or implicit TLS); there is no
plain-text option. Other code depends on the :class:`Mailer` protocol and gets either
:class:`SmtpMailer` or, in tests, :class:`RecordingMailer`.
"""

from .local_outbox import LocalOutboxServer
from .message import Attachment, OutgoingMail, build_email
from .templates import KINDS, RenderedMail, TemplateContextError, UnknownMailKindError, render
from .transport import (
    InsecureServerError,
    MailError,
    Mailer,
    PermanentMailError,
    RecordingMailer,
    RefusedRecipient,
    SendResult,
    SmtpMailer,
    SmtpSettings,
    TransientMailError,
)

__all__ = [
    "KINDS",
    "Attachment",
    "InsecureServerError",
    "LocalOutboxServer",
    "MailError",
    "Mailer",
    "OutgoingMail",
    "PermanentMailError",
    "RecordingMailer",
    "RefusedRecipient",
    "RenderedMail",
    "SendResult",
    "SmtpMailer",
    "SmtpSettings",
    "TemplateContextError",
    "TransientMailError",
    "UnknownMailKindError",
    "build_email",
    "render",
]
