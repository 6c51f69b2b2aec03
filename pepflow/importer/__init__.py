"""Import records from CSV files: children, settings, staff, contacts, term dates.

One module per kind (:mod:`.staff`, :mod:`.settings`, :mod:`.term_dates`,
:mod:`.children`, :mod:`.contacts`, :mod:`.allocations`): its row model, the checks
across rows and against the store, and how a row is applied; :mod:`.rows` reads a
file into rows and holds the summary.

Every row of a file is validated first (types with pydantic, then references to records
already in the store, then rules across rows); each problem becomes a
:class:`RowError` naming the file, line, column and problem. A file with any bad row
imports nothing. A good file is imported in one transaction, with an audit entry per
change; importing the same file again changes nothing.

Import order, because rows refer to earlier kinds: ``staff``, ``settings``,
``term-dates``, ``children``, ``contacts``.

File formats (header row required; column order free; blank cells are empty):

``staff``      id, name, email, roles (``;``-separated), team, candidate_group, login
               (the user name or e-mail the council's Identity knows them by: Camunda
               Tasklist assigns tasks to it; blank or absent: their e-mail, with a note)
``settings``   id, name, kind, designated_teacher_name, designated_teacher_email, locality
``term-dates`` setting_id (blank: council default), academic_year (2026 = 2026/27),
               term (autumn/spring/summer, or ``inset-day``), starts_on, ends_on,
               half_term_starts_on, half_term_ends_on (an ``inset-day`` row has only
               starts_on: the day)
``children``   id, given_name, family_name, date_of_birth, legal_status, locality,
               social_worker_id, setting_id, setting_from, next_setting_id,
               next_setting_from, entered_care_on, emergency, and optionally
               leaving_care_worker_id, personal_adviser_id, allocated_from (the date
               the workers named in the row are allocated from; default: today).
               Each worker column allocates that staff member to the child in that
               role (``pepflow.store.allocations``); a blank cell changes nothing.
               ``social_worker_id`` naming someone who is not a social worker but holds
               one other owner role allocates them in that role, with a note.
``contacts``   id, child_id, role, name, email, receives_pep, main_carer
``allocations`` child_id, staff_id, role (social-worker, leaving-care-worker,
               personal-adviser), starts_on, ends_on: dated allocations (a planned
               handover, an allocation that ended); a blank staff_id ends the role
               from starts_on.

Notes (``ImportSummary.warnings``) are things a person should know that do not stop
the import: a login taken from the e-mail address, a child whose age needs a worker
of a role nobody is allocated in (their PEP tasks go to the locality's team manager).
"""


from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pepflow.store import RecordsError, RecordsStore

from .allocations import AllocationRowIn, apply_allocation_row, check_allocations
from .children import ChildRowIn, apply_child, check_children
from .contacts import ContactRowIn, apply_contact, check_contacts
from .rows import (
    KINDS,
    Collector,
    DateCell,
    EmailCell,
    Identifier,
    ImportFailed,
    ImportSummary,
    Kind,
    Row,
    RowError,
    read_rows,
)
from .settings import SettingRowIn, apply_setting, check_settings
from .staff import StaffRowIn, apply_staff, check_staff
from .term_dates import TermDatesRowIn, apply_term_dates, check_term_dates

__all__ = [
    "KINDS", "AllocationRowIn", "ChildRowIn", "ContactRowIn", "DateCell", "EmailCell", "Identifier",
    "ImportFailed", "ImportSummary", "Kind", "RowError", "SettingRowIn", "StaffRowIn", "TermDatesRowIn",
    "import_csv", "import_directory",
]

log = logging.getLogger(__name__)

_Row = Row  # the name the row models had before the split

#: each kind: its row model, the checks of the rows that parsed, how a row is applied
#: (created, updated or unchanged)
_KINDS: dict[str, tuple[type[Row], Callable[[RecordsStore, Any, Collector], None], Callable[[RecordsStore, Any, str, Collector], str]]] = {
    "staff": (StaffRowIn, check_staff, apply_staff),
    "settings": (SettingRowIn, check_settings, apply_setting),
    "term-dates": (TermDatesRowIn, check_term_dates, apply_term_dates),
    "children": (ChildRowIn, check_children, apply_child),
    "contacts": (ContactRowIn, check_contacts, apply_contact),
    "allocations": (AllocationRowIn, check_allocations, apply_allocation_row),
}


def import_csv(
    store: RecordsStore, kind: Kind | str, path: str | Path, actor: str
) -> ImportSummary:
    """Validate and import one CSV file of ``kind``; see the module docstring for formats.

    Returns a summary; when ``summary.errors`` is not empty nothing was imported.
    """
    if kind not in _KINDS:
        raise ValueError(f"unknown import kind {kind!r}; expected one of {', '.join(KINDS)}")
    path = Path(path)
    errors = Collector(str(path))
    summary = ImportSummary(kind=kind, file=str(path))
    model, check, apply = _KINDS[kind]
    rows = read_rows(path, model, errors)
    check(store, rows, errors)  # rows that parsed: references and cross-row rules
    summary.rows = len(rows)
    summary.warnings = errors.warnings
    if errors.errors:
        summary.errors = sorted(errors.errors, key=lambda e: (e.line, e.column or ""))
        log.info("import of %s refused: %d problem(s)", path, len(summary.errors))
        return summary
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    current_line = 0
    try:
        with store.atomic():
            for current_line, row in rows:
                errors.line = current_line
                counts[apply(store, row, actor, errors)] += 1
    except (RecordsError, ValueError) as exc:
        summary.errors = [
            RowError(file=str(path), line=current_line, column=None, problem=str(exc))
        ]
        return summary
    summary.warnings = errors.warnings
    summary.changed_children = sorted(errors.changed_children)
    summary.created, summary.updated, summary.unchanged = (
        counts["created"],
        counts["updated"],
        counts["unchanged"],
    )
    log.info("%s", summary)
    return summary

def import_directory(store: RecordsStore, directory: str | Path, actor: str) -> list[ImportSummary]:
    """Import ``<kind>.csv`` files found in ``directory`` in dependency order.

    Stops after the first file with errors (later files would refer to its rows).
    """
    directory = Path(directory)
    summaries = []
    for kind in KINDS:
        path = directory / f"{kind}.csv"
        if not path.exists():
            continue
        summary = import_csv(store, kind, path, actor)
        summaries.append(summary)
        if not summary.ok:
            break
    return summaries
