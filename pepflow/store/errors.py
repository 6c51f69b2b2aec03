"""Errors of the records store. Every message says what was asked for and what to do."""

from __future__ import annotations


class RecordsError(Exception):
    """Base class of records store errors."""


class UnknownRecord(RecordsError, LookupError):
    """A record that is not in the store."""

    entity = "record"

    def __init__(self, record_id: str, hint: str = "") -> None:
        self.record_id = record_id
        message = f"No {self.entity} with id {record_id!r} in the records store"
        super().__init__(message + (f": {hint}" if hint else ""))


class UnknownChild(UnknownRecord):
    entity = "child"

    def __init__(self, record_id: str) -> None:
        super().__init__(record_id, "check the id, or import the child with `pep import children`")


class UnknownSetting(UnknownRecord):
    entity = "education setting"

    def __init__(self, record_id: str) -> None:
        super().__init__(record_id, "import it with `pep import settings`")


class UnknownStaff(UnknownRecord):
    entity = "staff member"

    def __init__(self, record_id: str) -> None:
        super().__init__(record_id, "import them with `pep import staff`")


class UnknownContact(UnknownRecord):
    entity = "contact"


class UnknownCareEpisode(UnknownRecord):
    entity = "care episode"


class UnknownPep(UnknownRecord):
    entity = "PEP"


class UnknownMail(UnknownRecord):
    entity = "mail log entry"


class DuplicateRecord(RecordsError):
    """A record with that id (or key) already exists."""


class MissingAddress(RecordsError, LookupError):
    """Nobody to send to: no designated teacher, no virtual school mailbox, etc."""


class InvalidRecord(RecordsError, ValueError):
    """A value that the records store refuses (bad e-mail, unknown enum value...)."""


class ClosedPep(RecordsError):
    """A change to a PEP that is final or cancelled: a final PEP is a record the council
    has sent to everyone who attended, and never changes again."""

    def __init__(self, pep_id: str, status: str, what: str) -> None:
        self.pep_id = pep_id
        self.status = status
        if status == "final":
            hint = "a final PEP never changes; record a correction as a new version (`pep correct`)"
        else:
            hint = "a cancelled PEP never changes; work on the child's open PEP instead"
        super().__init__(f"{pep_id} is {status}: cannot {what} ({hint})")


class OpenPepExists(RecordsError):
    """A second open PEP for a child: a child has at most one open PEP at a time."""

    def __init__(self, child_id: str, open_pep_id: str) -> None:
        self.child_id = child_id
        self.open_pep_id = open_pep_id
        super().__init__(
            f"{child_id} already has an open PEP ({open_pep_id}): finish or cancel it before opening another"
        )
