"""The records store: personal data, PEP content and the audit log.

Process variables carry identifiers and dates; everything they point at lives here.
"""

from pepflow.store.errors import (
    ClosedPep,
    OpenPepExists,
    DuplicateRecord,
    InvalidRecord,
    MissingAddress,
    RecordsError,
    UnknownCareEpisode,
    UnknownChild,
    UnknownContact,
    UnknownMail,
    UnknownPep,
    UnknownRecord,
    UnknownSetting,
    UnknownStaff,
)
from pepflow.store.migrate import DEFAULT_DATABASE_URL, database_url, migrate
from pepflow.store.repository import RecordsStore
from pepflow.store.values import UNSET

__all__ = [
    "ClosedPep",
    "OpenPepExists",
    "DEFAULT_DATABASE_URL",
    "DuplicateRecord",
    "InvalidRecord",
    "MissingAddress",
    "RecordsError",
    "RecordsStore",
    "UNSET",
    "UnknownCareEpisode",
    "UnknownChild",
    "UnknownContact",
    "UnknownMail",
    "UnknownPep",
    "UnknownRecord",
    "UnknownSetting",
    "UnknownStaff",
    "database_url",
    "migrate",
]
