"""The outgoing message model and its MIME form.

An :class:`OutgoingMail` is validated when it is built: a bad address, a header with a
line break or an attachment name with a path in it fails there, with a clear message,
not later inside the SMTP conversation.
"""

from __future__ import annotations

import email.policy
import hashlib
import re
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["Attachment", "OutgoingMail", "build_email", "message_id_for", "validate_address"]

# RFC 5322 dot-atom local part (ASCII only: we never ask the server for SMTPUTF8).
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_DOMAIN_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$")


def validate_address(value: str) -> str:
    """Return ``value`` as a bare e-mail address (domain in lower case) or raise ValueError.

    Only ``local@domain`` is accepted: no display names, comments, quoted local parts or
    IP literals, and the domain must have at least two labels. That is stricter than
    RFC 5322 on purpose: the addresses we send child data to are plain work addresses.
    """
    if not isinstance(value, str):
        raise ValueError(f"an e-mail address must be a string, not {type(value).__name__}")
    address = value.strip()
    if not address:
        raise ValueError("an e-mail address must not be empty")
    if len(address) > 254:
        raise ValueError(f"e-mail address {value!r} is longer than 254 characters")
    if address.count("@") != 1:
        raise ValueError(f"{value!r} is not an e-mail address: it needs exactly one '@'")
    local, domain = address.split("@")
    if not local or len(local) > 64 or not _LOCAL_PART.match(local):
        raise ValueError(f"{value!r} is not an e-mail address: invalid part before '@'")
    labels = domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.match(label) for label in labels):
        raise ValueError(f"{value!r} is not an e-mail address: invalid domain {domain!r}")
    if labels[-1].isdigit():
        raise ValueError(f"{value!r} is not an e-mail address: the domain cannot be numeric")
    return f"{local}@{domain.lower()}"


def _single_line(value: str, what: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"{what} must be a single line (no CR or LF)")
    return value


class Attachment(BaseModel):
    model_config = ConfigDict(frozen=True)

    filename: str = Field(min_length=1, max_length=200)
    content_type: str = "application/octet-stream"
    data: bytes

    @field_validator("filename")
    @classmethod
    def _plain_filename(cls, value: str) -> str:
        _single_line(value, "an attachment filename")
        if "/" in value or "\\" in value or value in {".", ".."}:
            raise ValueError(f"attachment filename {value!r} must not contain a path")
        return value

    @field_validator("content_type")
    @classmethod
    def _valid_content_type(cls, value: str) -> str:
        if not _CONTENT_TYPE.match(value):
            raise ValueError(f"{value!r} is not a MIME content type like 'application/pdf'")
        return value.lower()


class OutgoingMail(BaseModel):
    """One message to send. Immutable once built.

    ``idempotency_key`` names the business event (for example
    ``"pep-form:PEP-C-0001-2026-AUT:dt"``); the Message-ID is derived from it, so the
    same event sent twice carries the same Message-ID and a re-send is recognisable.
    """

    model_config = ConfigDict(frozen=True)

    idempotency_key: str = Field(min_length=1, max_length=500)
    sender: str
    sender_name: str | None = None
    recipients: tuple[str, ...] = Field(min_length=1)
    reply_to: str | None = None
    subject: str = Field(min_length=1, max_length=500)
    text_body: str
    html_body: str | None = None
    attachments: tuple[Attachment, ...] = ()
    date: datetime | None = None

    @field_validator("sender", "reply_to")
    @classmethod
    def _valid_sender(cls, value: str | None) -> str | None:
        return None if value is None else validate_address(value)

    @field_validator("recipients", mode="before")
    @classmethod
    def _valid_recipients(cls, value: object) -> tuple[str, ...]:
        if isinstance(value, str):
            value = (value,)
        if not isinstance(value, (list, tuple)):
            raise ValueError("recipients must be a list of e-mail addresses")
        addresses: list[str] = []
        for item in value:
            address = validate_address(item)
            if address.lower() not in (a.lower() for a in addresses):
                addresses.append(address)
        return tuple(addresses)

    @field_validator("subject", "sender_name", "idempotency_key")
    @classmethod
    def _no_line_breaks(cls, value: str | None) -> str | None:
        return None if value is None else _single_line(value, "a header value")

    @field_validator("date")
    @classmethod
    def _aware_date(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("date must be timezone-aware")
        return value

    @model_validator(mode="after")
    def _unique_attachment_names(self) -> OutgoingMail:
        names = [a.filename for a in self.attachments]
        if len(names) != len(set(names)):
            raise ValueError("attachment filenames must be unique within a message")
        return self

    @property
    def message_id(self) -> str:
        return message_id_for(self.idempotency_key, self.sender)


def message_id_for(idempotency_key: str, sender: str) -> str:
    """The Message-ID for an idempotency key: the same key always gives the same id."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:40]
    domain = sender.rsplit("@", 1)[-1]
    return f"<pep.{digest}@{domain}>"


def build_email(mail: OutgoingMail) -> EmailMessage:
    """The MIME message: text and html as multipart/alternative, then the attachments.

    Bodies are quoted-printable and attachments base64, so the message is 7-bit clean
    and any server accepts it without 8BITMIME.
    """
    message = EmailMessage(policy=email.policy.SMTP)
    message["Message-ID"] = mail.message_id
    if mail.sender_name:
        local, domain = mail.sender.split("@")
        message["From"] = Address(mail.sender_name, local, domain)
    else:
        message["From"] = mail.sender
    message["To"] = ", ".join(mail.recipients)
    if mail.reply_to:
        message["Reply-To"] = mail.reply_to
    message["Subject"] = mail.subject
    if mail.date is not None:
        message["Date"] = format_datetime(mail.date)
    message["Auto-Submitted"] = "auto-generated"

    message.set_content(mail.text_body, subtype="plain", cte="quoted-printable")
    if mail.html_body is not None:
        message.add_alternative(mail.html_body, subtype="html", cte="quoted-printable")
    for attachment in mail.attachments:
        maintype, subtype = attachment.content_type.split("/", 1)
        message.add_attachment(
            attachment.data,
            maintype=maintype,
            subtype=subtype,
            filename=attachment.filename,
        )
    return message


def message_bytes(mail: OutgoingMail) -> bytes:
    """The message's bytes as the outbox keeps them (:func:`build_email`, SMTP line
    endings; signed when sent if DKIM is configured). A pure function of ``mail``, so a
    document worker process can build it: for a message carrying a protected file,
    encoding it is a few milliseconds of the interpreter."""
    return build_email(mail).as_bytes(policy=email.policy.SMTP)
