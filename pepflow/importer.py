"""Import records from CSV files: children, settings, staff, contacts, term dates.

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

import csv
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from pepflow.calendar import AcademicYearTerms, Term, academic_year_of
from pepflow.domain.dates import parse_day
from pepflow.domain.email import normalise_email
from pepflow.domain.enums import ContactRole, OwnerRole, SettingKind, StaffRole, TermName
from pepflow.domain.rules import CHILD_ID_PATTERN
from pepflow.store import RecordsError, RecordsStore, UnknownRecord
from pepflow.store.values import check_login

log = logging.getLogger(__name__)

Kind = Literal["children", "settings", "staff", "contacts", "term-dates", "allocations"]
KINDS: tuple[str, ...] = ("staff", "settings", "term-dates", "children", "contacts", "allocations")


class RowError(BaseModel):
    """One problem in one row (``line`` 1 is the header)."""

    model_config = ConfigDict(frozen=True)

    file: str
    line: int
    column: str | None
    problem: str

    def __str__(self) -> str:
        where = f"{self.file}, line {self.line}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.problem}"


class ImportSummary(BaseModel):
    """What an import did. ``errors`` non-empty means nothing was imported."""

    kind: str
    file: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = Field(default_factory=list)
    warnings: list[RowError] = Field(default_factory=list)
    #: children whose allocations changed (their open tasks follow: pepflow.access)
    changed_children: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def __str__(self) -> str:
        if self.errors:
            lines = [f"{self.file}: {len(self.errors)} problem(s), nothing imported"]
            return "\n".join([*lines, *(f"  {e}" for e in self.errors)])
        done = (
            f"{self.file}: {self.rows} {self.kind} row(s): {self.created} created, "
            f"{self.updated} updated, {self.unchanged} unchanged"
        )
        return "\n".join([done, *(f"  note: {w}" for w in self.warnings)])


class ImportFailed(RecordsError):
    """Raised by :meth:`ImportSummary`-checking callers that want an exception."""

    def __init__(self, summary: ImportSummary) -> None:
        self.summary = summary
        super().__init__(str(summary))


# --- row models -------------------------------------------------------------------


def _email(value: str | None) -> str | None:
    return normalise_email(value) if value is not None else None


EmailCell = Annotated[str | None, AfterValidator(_email)]


def _day(value: Any) -> Any:
    """A date as England writes it: ISO or day first (what Excel exports); see
    :mod:`pepflow.domain.dates`."""
    return parse_day(value) if isinstance(value, str) else value


DateCell = Annotated[date, BeforeValidator(_day)]
Identifier = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^\S+$")]


class _Row(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_none(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {
                k: (None if isinstance(v, str) and not v.strip() else v) for k, v in data.items()
            }
        return data


class StaffRowIn(_Row):
    id: Identifier
    name: str
    email: EmailCell
    roles: tuple[StaffRole, ...]
    team: str | None = None
    candidate_group: str | None = None
    login: str | None = None

    @field_validator("login")
    @classmethod
    def _login(cls, value: str | None) -> str | None:
        try:
            return check_login(value, "login")
        except RecordsError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("roles", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(";") if part.strip())
        return value

    @field_validator("email")
    @classmethod
    def _required(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("an e-mail address is required")
        return value


class SettingRowIn(_Row):
    id: Identifier
    name: str
    kind: SettingKind
    designated_teacher_name: str | None = None
    designated_teacher_email: EmailCell = None
    locality: str | None = None


class TermDatesRowIn(_Row):
    setting_id: Identifier | None = None
    academic_year: int = Field(ge=2000, le=2999)
    term: Literal["autumn", "spring", "summer", "inset-day"]
    starts_on: DateCell
    ends_on: DateCell | None = None
    half_term_starts_on: DateCell | None = None
    half_term_ends_on: DateCell | None = None


class ChildRowIn(_Row):
    id: str
    given_name: str
    family_name: str
    date_of_birth: DateCell
    legal_status: str | None = None
    locality: str | None = None
    social_worker_id: Identifier | None = None
    setting_id: Identifier | None = None
    setting_from: DateCell | None = None
    next_setting_id: Identifier | None = None
    next_setting_from: DateCell | None = None
    entered_care_on: DateCell | None = None
    emergency: bool = False
    leaving_care_worker_id: Identifier | None = None
    personal_adviser_id: Identifier | None = None
    allocated_from: date | None = None

    @field_validator("id")
    @classmethod
    def _child_id(cls, value: str) -> str:
        if not CHILD_ID_PATTERN.match(value):
            raise ValueError(f"{value!r} is not a child id like 'C-0001'")
        return value


class ContactRowIn(_Row):
    id: Identifier
    child_id: str
    role: ContactRole
    name: str
    email: EmailCell = None
    receives_pep: bool | None = None
    main_carer: bool = False

    @property
    def gets_pep(self) -> bool:
        if self.receives_pep is not None:
            return self.receives_pep
        return self.role in (ContactRole.HEALTH_VISITOR, ContactRole.FOSTER_CARER)


# the allocation columns and kind live in a module of their own (it uses _Row above)
from pepflow.import_allocations import (  # noqa: E402
    AllocationRowIn,
    apply_allocation_row,
    apply_child_allocations,
    check_allocations,
    check_child_allocations,
)

_MODELS: dict[str, type[_Row]] = {
    "staff": StaffRowIn,
    "settings": SettingRowIn,
    "term-dates": TermDatesRowIn,
    "children": ChildRowIn,
    "contacts": ContactRowIn,
    "allocations": AllocationRowIn,
}


# --- reading and validation ---------------------------------------------------------


class _Collector:
    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[RowError] = []
        self.warnings: list[RowError] = []
        self.changed_children: set[str] = set()
        self.line = 0  # the row being applied (for notes made while applying)

    def add(self, line: int, column: str | None, problem: str) -> None:
        self.errors.append(RowError(file=self.file, line=line, column=column, problem=problem))

    def warn(self, line: int | None, column: str | None, note: str) -> None:
        if any(w.problem == note and w.column == column for w in self.warnings):
            return  # said once is enough
        self.warnings.append(
            RowError(file=self.file, line=self.line if line is None else line, column=column, problem=note)
        )


def _problem(error: dict[str, Any]) -> str:
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if error["type"] == "missing":
        return "a value is required"
    if error.get("input") is not None and error["type"] not in ("value_error",):
        return f"{message} (got {error['input']!r})"
    return message


def _read(path: Path, model: type[_Row], errors: _Collector) -> list[tuple[int, _Row]]:
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        errors.add(0, None, f"cannot read the file: {exc.strerror or exc}")
        return []
    rows: list[tuple[int, _Row]] = []
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames
        except (csv.Error, UnicodeDecodeError) as exc:
            errors.add(1, None, f"not a readable CSV file: {exc}")
            return []
        if not header:
            errors.add(1, None, "the file is empty: a header row is required")
            return []
        columns = [c.strip() for c in header]
        reader.fieldnames = columns
        known = set(model.model_fields)
        for column in columns:
            if column not in known:
                errors.add(
                    1, column, f"unknown column; expected some of: {', '.join(model.model_fields)}"
                )
        for name, field in model.model_fields.items():
            if field.is_required() and name not in columns:
                errors.add(1, name, "required column is missing")
        if errors.errors:
            return []
        previous_line = reader.line_num
        try:
            for raw in reader:
                line = previous_line + 1
                previous_line = reader.line_num
                if None in raw:
                    errors.add(line, None, f"more cells than columns ({len(columns)})")
                    continue
                if all(v is None or not v.strip() for v in raw.values()):
                    continue  # blank line
                try:
                    rows.append((line, model.model_validate(raw)))
                except ValidationError as exc:
                    for error in exc.errors():
                        column = str(error["loc"][0]) if error["loc"] else None
                        errors.add(line, column, _problem(error))
        except (csv.Error, UnicodeDecodeError) as exc:
            errors.add(previous_line + 1, None, f"not a readable CSV row: {exc}")
    return rows


def _exists(lookup: Callable[[str], Any], record_id: str) -> bool:
    try:
        lookup(record_id)
    except UnknownRecord:
        return False
    return True


def _unique_ids(rows: list[tuple[int, Any]], errors: _Collector, column: str = "id") -> None:
    seen: dict[str, int] = {}
    for line, row in rows:
        value = getattr(row, column)
        if value in seen:
            errors.add(line, column, f"{value!r} is already used on line {seen[value]}")
        else:
            seen[value] = line


def _check_staff(
    store: RecordsStore, rows: list[tuple[int, StaffRowIn]], errors: _Collector
) -> None:
    _unique_ids(rows, errors)
    logins: dict[str, int] = {}
    for line, row in rows:
        login = row.login or row.email
        if login in logins:
            errors.add(line, "login", f"{login!r} is already the login on line {logins[login]}")
        else:
            logins[login] = line
            holder = store.staff_by_login(login) if login else None
            if holder is not None and holder.id != row.id and holder.id not in {r.id for _, r in rows}:
                errors.add(line, "login", f"{login!r} is already the login of staff {holder.id}")
        if row.login is None and login:
            errors.warn(line, "login", f"no login given: {row.id}'s e-mail address {login} is their login "
                        "(the user name Camunda Tasklist and single sign-on know them by)")
        if not row.roles:
            errors.add(line, "roles", "at least one role is required")
        if StaffRole.TEAM_MANAGER in row.roles and not (row.team and row.candidate_group):
            errors.add(line, "candidate_group", "team managers need a team (their locality) and a candidate "
                       "group, e.g. team-managers-north (it gets PEP tasks while no worker is allocated)")
        if StaffRole.BUSINESS_SUPPORT in row.roles:
            if not row.team:
                errors.add(line, "team", "business support staff need a team (their locality)")
            if not row.candidate_group:
                errors.add(
                    line,
                    "candidate_group",
                    "business support staff need a candidate group, e.g. business-support-north",
                )


def _check_settings(
    store: RecordsStore, rows: list[tuple[int, SettingRowIn]], errors: _Collector
) -> None:
    _unique_ids(rows, errors)
    for line, row in rows:
        if row.kind is not SettingKind.NONE:
            if not row.designated_teacher_name:
                errors.add(line, "designated_teacher_name", "a designated teacher is required")
            if not row.designated_teacher_email:
                errors.add(
                    line,
                    "designated_teacher_email",
                    "the designated teacher's e-mail address is required",
                )


def _check_term_dates(
    store: RecordsStore, rows: list[tuple[int, TermDatesRowIn]], errors: _Collector
) -> None:
    known_settings: dict[str, bool] = {}
    seen: dict[tuple[str | None, int, str, date | None], int] = {}
    years: dict[tuple[str | None, int], dict[str, tuple[int, Term]]] = defaultdict(dict)
    for line, row in rows:
        if row.setting_id:
            if row.setting_id not in known_settings:
                known_settings[row.setting_id] = _exists(store.setting, row.setting_id)
            if not known_settings[row.setting_id]:
                errors.add(
                    line,
                    "setting_id",
                    f"no education setting {row.setting_id!r}: import settings first",
                )
        if row.term == "inset-day":
            key = (row.setting_id, row.academic_year, row.term, row.starts_on)
            if academic_year_of(row.starts_on) != row.academic_year:
                errors.add(
                    line,
                    "starts_on",
                    f"{row.starts_on} is not in the academic year {row.academic_year}",
                )
            for column in ("ends_on", "half_term_starts_on", "half_term_ends_on"):
                if getattr(row, column) is not None:
                    errors.add(line, column, "an inset-day row has only starts_on (the day)")
        else:
            key = (row.setting_id, row.academic_year, row.term, None)
            if row.ends_on is None:
                errors.add(line, "ends_on", "a value is required")
                continue
            try:
                term = Term(
                    row.term,
                    row.starts_on,
                    row.ends_on,
                    row.half_term_starts_on,
                    row.half_term_ends_on,
                )
            except ValueError as exc:
                column = "half_term_starts_on" if "half term" in str(exc) else "ends_on"
                errors.add(line, column, str(exc))
                continue
            years[(row.setting_id, row.academic_year)][row.term] = (line, term)
        if key in seen:
            errors.add(line, "term", f"repeats line {seen[key]}")
        else:
            seen[key] = line
    for (_setting_id, year), terms in years.items():
        if len(terms) != 3:
            continue  # a partial year may complete terms already in the store
        ordered = tuple(terms[name][1] for name in TermName)
        try:
            AcademicYearTerms(year, ordered)
        except ValueError as exc:
            errors.add(max(line for line, _ in terms.values()), "starts_on", str(exc))


def _check_children(
    store: RecordsStore, rows: list[tuple[int, ChildRowIn]], errors: _Collector
) -> None:
    _unique_ids(rows, errors)
    staff_cache: dict[str, Any] = {}
    setting_cache: dict[str, bool] = {}
    owner_roles = {role.value for role in OwnerRole}
    for line, row in rows:
        if row.social_worker_id:
            if row.social_worker_id not in staff_cache:
                try:
                    staff_cache[row.social_worker_id] = store.staff(row.social_worker_id)
                except UnknownRecord:
                    staff_cache[row.social_worker_id] = None
            worker = staff_cache[row.social_worker_id]
            if worker is None:
                errors.add(
                    line,
                    "social_worker_id",
                    f"no staff member {row.social_worker_id!r}: import staff first",
                )
            elif not owner_roles & {role.value for role in worker.roles}:
                errors.add(
                    line,
                    "social_worker_id",
                    f"{row.social_worker_id} ({worker.name}) is not a social worker, "
                    f"leaving care worker or personal adviser",
                )
        for id_column, from_column in (
            ("setting_id", "setting_from"),
            ("next_setting_id", "next_setting_from"),
        ):
            setting_id, starts_on = getattr(row, id_column), getattr(row, from_column)
            if setting_id:
                if setting_id not in setting_cache:
                    setting_cache[setting_id] = _exists(store.setting, setting_id)
                if not setting_cache[setting_id]:
                    errors.add(
                        line,
                        id_column,
                        f"no education setting {setting_id!r}: import settings first",
                    )
                if starts_on is None:
                    errors.add(
                        line, from_column, f"the date the child starts at {setting_id} is required"
                    )
            elif starts_on is not None:
                errors.add(line, id_column, f"{from_column} is given but no setting")
        if row.next_setting_id and not row.setting_id:
            errors.add(line, "setting_id", "next_setting_id needs a current setting_id")
        if row.setting_from and row.next_setting_from and row.next_setting_from <= row.setting_from:
            errors.add(line, "next_setting_from", "must be after setting_from")
        if row.date_of_birth and row.entered_care_on and row.entered_care_on < row.date_of_birth:
            errors.add(line, "entered_care_on", "is before the date of birth")
        check_child_allocations(store, line, row, errors, staff_cache)


def _check_contacts(
    store: RecordsStore, rows: list[tuple[int, ContactRowIn]], errors: _Collector
) -> None:
    _unique_ids(rows, errors)
    children: dict[str, bool] = {}
    main_carer: dict[str, int] = {}
    for line, row in rows:
        if row.child_id not in children:
            children[row.child_id] = _exists(store.child, row.child_id)
        if not children[row.child_id]:
            errors.add(line, "child_id", f"no child {row.child_id!r}: import children first")
        if row.gets_pep and not row.email:
            errors.add(
                line, "email", "an e-mail address is required for someone who receives the PEP"
            )
        if row.main_carer:
            if row.child_id in main_carer:
                errors.add(
                    line,
                    "main_carer",
                    f"{row.child_id} already has a main carer on line {main_carer[row.child_id]}",
                )
            else:
                main_carer[row.child_id] = line


_CHECKS: dict[str, Callable[[RecordsStore, Any, _Collector], None]] = {
    "staff": _check_staff,
    "settings": _check_settings,
    "term-dates": _check_term_dates,
    "children": _check_children,
    "contacts": _check_contacts,
    "allocations": check_allocations,
}


# --- applying -----------------------------------------------------------------------


def _outcome(before: Any, after: Any) -> str:
    if before is None:
        return "created"
    return "unchanged" if before == after else "updated"


def _apply_row(store: RecordsStore, kind: str, row: Any, actor: str, notes: _Collector) -> str:
    if kind == "staff":
        before = _existing(store.staff, row.id)
        after = store.save_staff(
            row.id,
            row.name,
            row.email,
            row.roles,
            team=row.team,
            candidate_group=row.candidate_group,
            login=row.login or row.email,
            actor=actor,
        )
        return _outcome(before, after)
    if kind == "settings":
        before = _existing(store.setting, row.id)
        after = store.save_setting(
            row.id,
            row.name,
            row.kind,
            designated_teacher_name=row.designated_teacher_name,
            designated_teacher_email=row.designated_teacher_email,
            locality=row.locality,
            actor=actor,
        )
        return _outcome(before, after)
    if kind == "term-dates":
        if row.term == "inset-day":
            return store.save_inset_day(row.starts_on, setting_id=row.setting_id, actor=actor)
        return store.save_term(
            row.academic_year,
            row.term,
            row.starts_on,
            row.ends_on,
            row.half_term_starts_on,
            row.half_term_ends_on,
            setting_id=row.setting_id,
            actor=actor,
        )
    if kind == "children":
        before = _existing(store.child, row.id)
        before_state = (
            (before, store.enrolments(row.id), store.care_episodes(row.id)) if before else None
        )
        child = store.save_child(
            row.id,
            row.given_name,
            row.family_name,
            row.date_of_birth,
            legal_status=row.legal_status,
            locality=row.locality,
            social_worker_id=row.social_worker_id,
            carer_contact_id=before.carer_contact_id if before else None,
            actor=actor,
        )
        if row.setting_id:
            store.enrol(row.id, row.setting_id, row.setting_from, actor=actor)
        if row.next_setting_id:
            store.enrol(row.id, row.next_setting_id, row.next_setting_from, actor=actor)
        if row.entered_care_on:
            store.open_care_episode(
                row.id, row.entered_care_on, emergency=row.emergency, actor=actor
            )
        allocated = apply_child_allocations(store, row, actor, notes)
        after_state = (child, store.enrolments(row.id), store.care_episodes(row.id))
        outcome = _outcome(before_state, after_state)
        return "updated" if allocated and outcome == "unchanged" else outcome
    if kind == "allocations":
        return apply_allocation_row(store, row, actor, notes)
    if kind == "contacts":
        before = _existing(store.contact, row.id)
        child_before = store.child(row.child_id)
        after = store.save_contact(
            row.id,
            row.child_id,
            row.role,
            row.name,
            email=row.email,
            receives_pep=row.gets_pep,
            actor=actor,
        )
        if row.main_carer and child_before.carer_contact_id != row.id:
            store.set_carer(row.child_id, row.id, actor=actor)
            return "created" if before is None else "updated"
        return _outcome(before, after)
    raise AssertionError(kind)  # pragma: no cover


def _existing(lookup: Callable[[str], Any], record_id: str) -> Any:
    try:
        return lookup(record_id)
    except UnknownRecord:
        return None


def import_csv(
    store: RecordsStore, kind: Kind | str, path: str | Path, actor: str
) -> ImportSummary:
    """Validate and import one CSV file of ``kind``; see the module docstring for formats.

    Returns a summary; when ``summary.errors`` is not empty nothing was imported.
    """
    if kind not in _MODELS:
        raise ValueError(f"unknown import kind {kind!r}; expected one of {', '.join(KINDS)}")
    path = Path(path)
    errors = _Collector(str(path))
    summary = ImportSummary(kind=kind, file=str(path))
    rows = _read(path, _MODELS[kind], errors)
    _CHECKS[kind](store, rows, errors)  # rows that parsed: references and cross-row rules
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
                counts[_apply_row(store, kind, row, actor, errors)] += 1
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

