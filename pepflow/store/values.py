"""How the records store checks and records values: field checks that refuse with the
field's name (:class:`~pepflow.store.errors.InvalidRecord`), and the JSON form of a
value and of a change (``{field: [old, new]}``) that every audit entry carries.

Shared by every repository of the store (``*_repo.py``) and the store's neighbours
(allocations, cover, returned forms); nothing here touches the database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from enum import Enum
from typing import Any, Final

from pepflow.domain.email import InvalidEmail, normalise_email
from pepflow.store.errors import InvalidRecord

COUNCIL: Final = "council"
"""The scope of the council's default term dates and INSET days (a setting's are its id)."""


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()
"""A keyword argument not given: the field is left as it is (``None`` clears it)."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    keys = list(dict.fromkeys([*before, *after]))
    return {
        k: [_jsonable(before.get(k)), _jsonable(after.get(k))]
        for k in keys
        if _jsonable(before.get(k)) != _jsonable(after.get(k))
    }


def _snapshot(row: Any, fields: Iterable[str]) -> dict[str, Any]:
    return {f: getattr(row, f) for f in fields}


def _email(value: str | None, what: str, *, required: bool = True) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidRecord(f"{what}: an e-mail address is required")
        return None
    try:
        return normalise_email(value)
    except InvalidEmail as exc:
        raise InvalidRecord(f"{what}: {exc}") from None


def _enum(enum_type: type[Enum], value: Any, what: str) -> Any:
    try:
        return enum_type(value)
    except ValueError:
        allowed = ", ".join(e.value for e in enum_type)
        raise InvalidRecord(f"{what}: {value!r} is not one of {allowed}") from None


def _text(value: str | None, what: str, *, required: bool = True) -> str | None:
    if value is None or not str(value).strip():
        if required:
            raise InvalidRecord(f"{what} is required")
        return None
    return str(value).strip()


def _identifier(value: str, what: str) -> str:
    text = _text(value, what)
    assert text is not None
    if any(ch.isspace() for ch in text) or len(text) > 40:
        raise InvalidRecord(f"{what} {value!r} must be at most 40 characters with no spaces")
    return text


_LOGIN = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,253}$")


def check_login(value: str | None, what: str) -> str | None:
    """An Identity login: a user name or e-mail address, lower case, no spaces."""
    if value is None or not str(value).strip():
        return None
    login = str(value).strip().lower()
    if not _LOGIN.match(login):
        raise InvalidRecord(
            f"{what} {value!r} is not a user name or e-mail address (letters, digits and . _ @ + -)"
        )
    return login


def _aware(value: datetime | None, what: str) -> datetime | None:
    if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
        raise InvalidRecord(f"{what} must be a timezone-aware datetime, got {value!r}")
    return value

