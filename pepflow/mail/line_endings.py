"""A message whose lines already end in CRLF goes to the server as it is.

Before DATA, aiosmtplib turns every lone CR or LF of the message into CRLF with a
regular expression (``protocol.normalize_message_line_endings``). The product's
messages are written with the SMTP policy, so every line already ends in CRLF, and the
substitution rebuilt each message unchanged: a message carrying a protected Word file
is some thousand base64 lines, and that pass was 3.3% of the product's process in a
simulated 100-child year. :func:`normalize_message_line_endings` answers a message
whose every CR and LF are already in CRLF pairs, and which ends with one, with the
message itself (three counts in C), and hands anything else to aiosmtplib's own
function: the bytes sent are the same either way (tests/mail/test_line_endings.py
checks aiosmtplib still looks the function up where it is replaced).
"""

from __future__ import annotations

from aiosmtplib import protocol

__all__ = ["install", "normalize_message_line_endings"]

_AIOSMTPLIB_NORMALIZE = protocol.normalize_message_line_endings


def normalize_message_line_endings(message: bytes) -> bytes:
    pairs = message.count(b"\r\n")
    if message.count(b"\n") == pairs and message.count(b"\r") == pairs and message.endswith(b"\r\n"):
        return message
    return _AIOSMTPLIB_NORMALIZE(message)


def install() -> None:
    """Use :func:`normalize_message_line_endings` for every DATA aiosmtplib sends."""
    protocol.normalize_message_line_endings = normalize_message_line_endings
