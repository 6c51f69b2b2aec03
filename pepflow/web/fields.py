"""Values a person typed into a page's form, checked on the server field by field.

A refusal names the field it belongs to, in words, so that the page shows it next to
the field and in the error summary at the top (GOV.UK Design System): the API answers
422 with ``{"detail": {"message": ..., "fields": {field: message}}}``. Dates are read
as England writes them (:mod:`pepflow.domain.dates`): ``31/11/2026`` is refused, never
rolled over to 1 December.
"""

from __future__ import annotations

from datetime import date

from fastapi import HTTPException

from pepflow.domain.dates import InvalidDate, parse_day


class FieldErrors(Exception):
    """One or more fields refused: ``errors`` maps the field's name to the message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def refuse(errors: dict[str, str]) -> HTTPException:
    message = "There is a problem: " + "; ".join(errors.values())
    return HTTPException(422, {"message": message, "fields": errors})


class Checker:
    """Collects every field's problem, so that the person sees all of them at once."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def day(self, field: str, text: str | None, label: str, *, required: bool = True) -> date | None:
        if text is None or not str(text).strip():
            if required:
                self.errors[field] = f"Enter {label}"
            return None
        try:
            return parse_day(str(text), label[0].upper() + label[1:])
        except InvalidDate as exc:
            self.errors[field] = str(exc).replace("'", "")
            return None

    def text(self, field: str, text: str | None, label: str, *, max_length: int, required: bool = True) -> str | None:
        value = (text or "").strip()
        if not value:
            if required:
                self.errors[field] = f"Enter {label}"
            return None
        if len(value) > max_length:
            self.errors[field] = f"{label[0].upper() + label[1:]} must be {max_length} characters or fewer (it has {len(value)})"
            return None
        return value

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, message)

    def done(self) -> None:
        if self.errors:
            raise refuse(self.errors)
