"""E-mail address validation on entry.

A deliberately strict, dependency-free check: the product only ever sends to known
addresses, so a typo caught at import time is a PEP that reaches its reader.
"""

from __future__ import annotations

import re

_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


class InvalidEmail(ValueError):
    """An e-mail address that cannot be used."""


def normalise_email(value: str) -> str:
    """Return ``value`` trimmed with its domain in lower case, or raise :class:`InvalidEmail`."""
    if not isinstance(value, str):
        raise InvalidEmail(f"an e-mail address must be text, not {type(value).__name__}")
    address = value.strip()
    if not address:
        raise InvalidEmail("the e-mail address is empty")
    if address.count("@") != 1:
        raise InvalidEmail(f"{address!r} is not a valid e-mail address: it needs exactly one '@'")
    local, domain = address.split("@")
    if not local or len(local) > 64 or not _LOCAL.match(local):
        raise InvalidEmail(
            f"{address!r} is not a valid e-mail address: the part before '@' is not valid"
        )
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise InvalidEmail(
            f"{address!r} is not a valid e-mail address: {domain!r} is not a valid domain"
        )
    if not labels[-1].isalpha() or len(labels[-1]) < 2:
        raise InvalidEmail(
            f"{address!r} is not a valid e-mail address: {labels[-1]!r} is not a top-level domain"
        )
    if len(address) > 254:
        raise InvalidEmail(f"{address!r} is longer than 254 characters")
    return f"{local}@{domain.lower()}"
