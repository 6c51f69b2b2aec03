"""Messages already in CRLF go to the server as they are; anything else is normalised by
aiosmtplib's own function: the same bytes either way."""

from __future__ import annotations

from email.policy import SMTP as SMTP_POLICY

from hypothesis import given, strategies as st

from aiosmtplib import protocol
from pepflow.mail import line_endings, transport  # noqa: F401 - importing the transport installs it
from pepflow.mail.message import build_email

from .servers import sample_mail

ORIGINAL = line_endings._AIOSMTPLIB_NORMALIZE


def test_aiosmtplib_still_looks_the_function_up_where_it_is_replaced():
    assert protocol.normalize_message_line_endings is line_endings.normalize_message_line_endings
    assert "normalize_message_line_endings" in protocol.SMTPProtocol.execute_data_command.__code__.co_names
    assert ORIGINAL is not line_endings.normalize_message_line_endings


@given(st.lists(st.sampled_from([b"a", b"\r", b"\n", b"\r\n", b".", b"=0D", b"\r\r\n", b"\n\r"]), max_size=40))
def test_any_bytes_come_out_as_aiosmtplib_makes_them(parts):
    message = b"".join(parts)
    assert line_endings.normalize_message_line_endings(message) == ORIGINAL(message)


def test_a_message_built_by_the_product_is_sent_as_it_was_built():
    """A message with a protected file (base64 lines) and a body typed with bare line
    feeds and a line of one dot: built in CRLF, handed on untouched, and what
    aiosmtplib's own function would have made of it."""
    mail = sample_mail(attachment=bytes(range(256)) * 300)
    mail = mail.model_copy(update={"text_body": "Line one\nLine two\r\n.\nend"})
    built = build_email(mail).as_bytes(policy=SMTP_POLICY)
    assert built.count(b"\r\n") > 1000
    assert line_endings.normalize_message_line_endings(built) is built
    assert ORIGINAL(built) == built


def test_a_message_with_lone_line_ends_is_normalised_by_aiosmtplib():
    assert line_endings.normalize_message_line_endings(b"a\nb\rc") == b"a\r\nb\r\nc\r\n"
    assert line_endings.normalize_message_line_endings(b"a\r\nb") == b"a\r\nb\r\n"
