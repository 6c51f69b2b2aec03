from __future__ import annotations

from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from pepflow.mail import Attachment, OutgoingMail, build_email
from pepflow.mail.message import validate_address

from .servers import sample_mail


@pytest.mark.parametrize(
    "address",
    [
        "",
        "not-an-address",
        "dt@school",
        "dt@@school.example",
        "d t@school.example",
        "Designated Teacher <dt@school.example>",
        "dt@-school.example",
        "dt@school..example",
        ".dt@school.example",
        "dt@school.example\r\nBcc: someone@else.example",
        "dt@10.0.0.1",
    ],
)
def test_invalid_recipient_is_refused_when_the_mail_is_built(address):
    with pytest.raises(ValidationError) as excinfo:
        OutgoingMail(
            idempotency_key="k",
            sender="bso@council.example",
            recipients=[address],
            subject="PEP form PEP-C-0001-2026-AUT",
            text_body="text",
        )
    assert "e-mail address" in str(excinfo.value)


def test_invalid_sender_is_refused():
    with pytest.raises(ValidationError, match="not an e-mail address"):
        OutgoingMail(
            idempotency_key="k", sender="business support", recipients=["dt@school.example"],
            subject="s", text_body="t",
        )


def test_addresses_are_normalised_and_deduplicated():
    mail = OutgoingMail(
        idempotency_key="k",
        sender="BSO@Council.Example",
        recipients=["dt@School.Example", "dt@school.example", "hv@nhs.example"],
        subject="s",
        text_body="t",
    )
    assert mail.sender == "BSO@council.example"
    assert mail.recipients == ("dt@school.example", "hv@nhs.example")
    assert validate_address(" carer@home.example ") == "carer@home.example"


def test_no_recipients_is_refused():
    with pytest.raises(ValidationError):
        OutgoingMail(idempotency_key="k", sender="a@b.example", recipients=[], subject="s",
                     text_body="t")


def test_header_injection_in_subject_is_refused():
    with pytest.raises(ValidationError, match="single line"):
        OutgoingMail(idempotency_key="k", sender="a@b.example", recipients=["c@d.example"],
                     subject="PEP\r\nBcc: x@y.example", text_body="t")


@pytest.mark.parametrize("filename", ["../etc/passwd", "a/b.docx", "a\\b.docx", "x\n.docx"])
def test_attachment_filename_with_a_path_is_refused(filename):
    with pytest.raises(ValidationError):
        Attachment(filename=filename, content_type="application/pdf", data=b"x")


def test_attachment_content_type_is_checked():
    with pytest.raises(ValidationError, match="MIME content type"):
        Attachment(filename="a.pdf", content_type="pdf", data=b"x")


def test_build_email_structure():
    data = bytes(range(256)) * 40
    mail = sample_mail(attachment=data)
    message = build_email(mail)

    assert message.get_content_type() == "multipart/mixed"
    parts = list(message.iter_parts())
    assert parts[0].get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parts[0].iter_parts()] == ["text/plain", "text/html"]
    attachment = parts[1]
    assert attachment.get_filename() == "PEP-C-0001-2026-AUT.docx"
    assert attachment.get_content() == data
    assert message["Subject"].startswith("PEP form PEP-C-0001-2026-AUT")
    assert message["To"] == "dt@school.example"
    # 7-bit clean: no 8BITMIME needed at the server.
    assert max(message.as_bytes()) < 128


def test_message_id_is_derived_from_the_idempotency_key():
    first = build_email(sample_mail(key="pep-form:PEP-C-0001-2026-AUT:dt"))
    again = build_email(sample_mail(key="pep-form:PEP-C-0001-2026-AUT:dt"))
    other = build_email(sample_mail(key="pep-form:PEP-C-0002-2026-AUT:dt"))
    assert first["Message-ID"] == again["Message-ID"]
    assert first["Message-ID"] != other["Message-ID"]
    assert first["Message-ID"].endswith("@council.example>")
    assert "PEP-C-0001" not in first["Message-ID"]


def test_date_header_only_from_the_argument():
    assert build_email(sample_mail())["Date"] is None
    mail = sample_mail().model_copy(
        update={"date": datetime(2026, 9, 1, 9, 30, tzinfo=timezone.utc)}
    )
    assert build_email(mail)["Date"] == "Tue, 01 Sep 2026 09:30:00 +0000"


def test_text_only_mail_is_a_single_part():
    mail = OutgoingMail(idempotency_key="k", sender="a@b.example", recipients=["c@d.example"],
                        subject="Password for the PEP-C-0001-2026-AUT document",
                        text_body="pässword")
    message = build_email(mail)
    assert message.get_content_type() == "text/plain"
    assert message.get_content() == "pässword\n"
