"""Secure mail: messages, their templates, the SMTP transport and the local outbox.

Mail leaves only over verified TLS (STARTTLS required or implicit TLS); there is no
plain-text option. Other code depends on the :class:`Mailer` protocol and gets either
:class:`SmtpMailer` or, in tests, :class:`RecordingMailer`.

The names below are imported when first used (PEP 562), so that a process that needs
one module of the package does not load the others' libraries: the local outbox's own
process imports only :mod:`pepflow.mail.outbox_server` and aiosmtpd (about 24 MiB, not
the 48 MiB of templates, the SMTP client and pydantic as well).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers and readers
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

#: each exported name and the module of the package that defines it
_WHERE = {
    "LocalOutboxServer": "local_outbox",
    **dict.fromkeys(("Attachment", "OutgoingMail", "build_email"), "message"),
    **dict.fromkeys(("KINDS", "RenderedMail", "TemplateContextError", "UnknownMailKindError", "render"), "templates"),
    **dict.fromkeys(
        ("InsecureServerError", "MailError", "Mailer", "PermanentMailError", "RecordingMailer", "RefusedRecipient",
         "SendResult", "SmtpMailer", "SmtpSettings", "TransientMailError"),
        "transport",
    ),
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # found once; later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
