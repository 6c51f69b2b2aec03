"""The records store: one facade over the tables in :mod:`pepflow.store.models`.

Every method that changes data writes an audit entry (who, when from the injected
clock, which entity, what action, a JSON diff ``{field: [old, new]}``) in the same
transaction as the change: both are committed or neither is. Several changes can be
grouped into one transaction with :meth:`RecordsStore.atomic` (the importer does).

Everything about one PEP (sections, documents, mail, views) is audited under entity
``pep`` and the PEP id, so ``audit_entries("pep", pep_id)`` is that PEP's full history.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timedelta, timezone
from enum import Enum
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session, defer, selectinload, sessionmaker, undefer

from pepflow.calendar import TERM_ORDER, AcademicYearTerms, SchoolCalendar, Term, academic_year_of
from pepflow.clock import Clock
from pepflow.domain.email import InvalidEmail, normalise_email
from pepflow.domain.enums import (
    ContactRole,
    DocumentKind,
    MailStatus,
    OwnerRole,
    PepSection,
    PepStatus,
    SettingKind,
    StaffRole,
    TermName,
    Variant,
)
from pepflow.domain.rules import (
    CHILD_ID_PATTERN,
    check_status_change,
    pep_reference,
    variant_for,
)
from pepflow.store import records as r
from pepflow.store.mail_due import any_mail_due
from pepflow.store.errors import (
    ClosedPep,
    DuplicateRecord,
    OpenPepExists,
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
from pepflow.store.models import (
    AuditRow,
    CareEpisodeRow,
    ChildRow,
    ContactRow,
    DocumentVersionRow,
    EnrolmentRow,
    InsetDayRow,
    MailLogRow,
    MailOutboxAttachmentRow,
    MailOutboxRow,
    PepAttendeeRow,
    PepRow,
    PepSectionRow,
    SettingRow,
    StaffRoleRow,
    StaffRow,
    TermDatesRow,
)

log = logging.getLogger(__name__)

COUNCIL: Final = "council"


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()


def create_store_engine(url: str) -> sa.Engine:
    """An engine for ``url``; SQLite gets foreign keys on and its directory created."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url)

        @sa.event.listens_for(engine, "connect")
        def _foreign_keys_on(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if database and database != ":memory:":
                # As the engine's store on the same file: WAL, and NORMAL sync - a
                # commit survives a killed process (the OS has the pages) without an
                # fsync per commit (the outbox records each message it sends).
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


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


_STAFF_FIELDS = ("name", "email", "team", "candidate_group", "login")
_SETTING_FIELDS = (
    "name",
    "kind",
    "designated_teacher_name",
    "designated_teacher_email",
    "locality",
)
_CHILD_FIELDS = (
    "given_name",
    "family_name",
    "date_of_birth",
    "legal_status",
    "locality",
    "social_worker_id",
    "carer_contact_id",
)
_CONTACT_FIELDS = ("child_id", "role", "name", "email", "receives_pep")
_PEP_FIELDS = (
    "child_id",
    "care_episode_id",
    "academic_year",
    "term",
    "sequence",
    "status",
    "is_initial",
    "setting_id",
    "variant",
    "owner_role",
    "owner_staff_id",
    "meeting_at",
    "form_sent_at",
    "form_returned_at",
    "finalised_at",
)
_TERM_FIELDS = ("starts_on", "ends_on", "half_term_starts_on", "half_term_ends_on")
_OWNER_ROLES = {role.value for role in OwnerRole}


class RecordsStore:
    """The repository of children, settings, staff, contacts, term dates and PEPs.

    ``url`` is a SQLAlchemy URL (SQLite or PostgreSQL with psycopg 3); the schema is
    created by :func:`pepflow.store.migrate`. ``clock`` stamps every audit entry.
    Close the store (or use it as a context manager) to release connections.
    """

    def __init__(self, url: str, clock: Clock) -> None:
        self.url = url
        self.clock = clock
        self._engine = create_store_engine(url)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False, autoflush=True)
        self._active: ContextVar[Session | None] = ContextVar(
            f"records-store-{id(self)}", default=None
        )
        from pepflow.store.calendar_cache import CalendarCache

        self._calendar_cache = CalendarCache()

    @property
    def events(self):
        """The council's events about children (:class:`pepflow.store.facts.EventLog`)."""
        from pepflow.store.facts import EventLog

        return EventLog(self)

    @property
    def returns(self):
        """Returned forms as read and reviewed (:class:`pepflow.store.returns.SchoolReturns`)."""
        from pepflow.store.returns import SchoolReturns

        return SchoolReturns(self)

    @property
    def escalations(self):
        """Late waits told to the PEP co-ordinator (:class:`pepflow.store.facts.Escalations`)."""
        from pepflow.store.facts import Escalations

        return Escalations(self)

    # -- lifecycle and transactions --------------------------------------------

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> RecordsStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Group changes into one transaction: all of them (with their audit) or none."""
        with self._tx():
            yield

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        active = self._active.get()
        if active is not None:
            yield active
            return
        with self._sessions() as session:
            token = self._active.set(session)
            try:
                with session.begin():
                    yield session
            except (IntegrityError, DataError) as exc:
                raise RecordsError(f"The records store refused the change: {exc.orig}") from exc
            finally:
                self._active.reset(token)

    @contextmanager
    def _read(self) -> Iterator[Session]:
        active = self._active.get()
        if active is not None:
            yield active
            return
        with self._sessions() as session:
            yield session

    def _audit(
        self,
        session: Session,
        actor: str,
        entity: str,
        entity_id: str,
        action: str,
        diff: dict[str, Any],
    ) -> None:
        actor_id = _text(actor, "the actor (who makes the change)")
        at = self.clock.now()
        if at.tzinfo is None:
            raise RecordsError("the clock returned a naive datetime; audit stamps must be aware")
        session.add(
            AuditRow(
                at=at,
                actor_id=actor_id,
                entity=entity,
                entity_id=entity_id,
                action=action,
                diff=_jsonable(diff),
            )
        )
        session.flush()

    def _upsert(
        self,
        session: Session,
        row_type: type,
        key: Any,
        fields: Sequence[str],
        values: dict[str, Any],
        *,
        actor: str,
        entity: str,
        entity_id: str,
    ) -> tuple[Any, str]:
        """Create or update a row; audit ``create`` / ``update``; ``unchanged`` writes nothing."""
        row = session.get(row_type, key)
        if row is None:
            row = row_type(**values)
            session.add(row)
            session.flush()
            self._audit(session, actor, entity, entity_id, "create", _diff({}, values))
            return row, "created"
        before = _snapshot(row, fields)
        for name, value in values.items():
            setattr(row, name, value)
        changes = _diff(before, _snapshot(row, fields))
        if not changes:
            return row, "unchanged"
        session.flush()
        self._audit(session, actor, entity, entity_id, "update", changes)
        return row, "updated"

    # -- staff ------------------------------------------------------------------

    def save_staff(
        self,
        staff_id: str,
        name: str,
        email: str,
        roles: Iterable[StaffRole | str],
        *,
        team: str | None = None,
        candidate_group: str | None = None,
        login: str | None | _Unset = UNSET,
        actor: str,
    ) -> r.Staff:
        """Create or update a staff member (roles replaced). ``login`` is the user name
        the council's Identity knows them by (left as it is when not given)."""
        staff_id = _identifier(staff_id, "staff id")
        role_values = sorted(
            {_enum(StaffRole, role, f"staff {staff_id} role").value for role in roles}
        )
        if not role_values:
            raise InvalidRecord(f"staff {staff_id}: at least one role is required")
        values = {
            "id": staff_id,
            "name": _text(name, f"staff {staff_id} name"),
            "email": _email(email, f"staff {staff_id} email"),
            "team": _text(team, "team", required=False),
            "candidate_group": _text(candidate_group, "candidate group", required=False),
        }
        if not isinstance(login, _Unset):
            values["login"] = check_login(login, f"staff {staff_id} login")
        with self._tx() as s:
            if values.get("login"):
                holder = s.scalar(sa.select(StaffRow.id).where(StaffRow.login == values["login"]))
                if holder is not None and holder != staff_id:
                    raise DuplicateRecord(f"login {values['login']!r} is already {holder}'s")
            row = s.get(StaffRow, staff_id)
            if row is None:
                row = StaffRow(**values, roles=[StaffRoleRow(role=role) for role in role_values])
                s.add(row)
                s.flush()
                self._audit(
                    s,
                    actor,
                    "staff",
                    staff_id,
                    "create",
                    _diff({}, {**values, "roles": role_values}),
                )
                return self._staff_record(row)
            before = {**_snapshot(row, _STAFF_FIELDS), "roles": [x.role for x in row.roles]}
            for name, value in values.items():
                setattr(row, name, value)
            if before["roles"] != role_values:
                row.roles = [StaffRoleRow(role=role) for role in role_values]
            changes = _diff(before, {**_snapshot(row, _STAFF_FIELDS), "roles": role_values})
            if changes:
                s.flush()
                self._audit(s, actor, "staff", staff_id, "update", changes)
            return self._staff_record(row)

    def staff(self, staff_id: str) -> r.Staff:
        with self._read() as s:
            row = s.get(StaffRow, staff_id)
            if row is None:
                raise UnknownStaff(staff_id)
            return self._staff_record(row)

    def staff_with_role(self, role: StaffRole | str) -> list[r.Staff]:
        role = _enum(StaffRole, role, "role")
        with self._read() as s:
            rows = s.scalars(
                sa.select(StaffRow)
                .join(StaffRoleRow)
                .where(StaffRoleRow.role == role.value)
                .order_by(StaffRow.id)
            ).all()
            return [self._staff_record(row) for row in rows]

    def all_staff(self) -> list[r.Staff]:
        with self._read() as s:
            return [
                self._staff_record(x) for x in s.scalars(sa.select(StaffRow).order_by(StaffRow.id))
            ]

    def staff_by_login(self, login: str) -> r.Staff | None:
        """The staff member with this Identity login (case-insensitive), or ``None``."""
        with self._read() as s:
            row = s.scalar(sa.select(StaffRow).where(StaffRow.login == login.strip().lower()))
            return self._staff_record(row) if row is not None else None

    @property
    def allocations(self):
        """Staff allocated to children by role and date (:mod:`pepflow.store.allocations`)."""
        from pepflow.store.allocations import StaffAllocations

        return StaffAllocations(self)

    @property
    def cover(self):
        """Absences with their cover, and single tasks given to a colleague (:mod:`pepflow.store.cover`)."""
        from pepflow.store.cover import StaffCover

        return StaffCover(self)

    @staticmethod
    def _staff_record(row: StaffRow) -> r.Staff:
        return r.Staff(
            id=row.id,
            name=row.name,
            email=row.email,
            roles=tuple(StaffRole(x.role) for x in row.roles),
            team=row.team,
            candidate_group=row.candidate_group,
            login=row.login,
        )

    def business_support_group(self, locality: str) -> str:
        """The candidate group of the business support team of a locality."""
        for member in self.staff_with_role(StaffRole.BUSINESS_SUPPORT):
            if member.team == locality and member.candidate_group:
                return member.candidate_group
        raise MissingAddress(
            f"No business support team for locality {locality!r}: import staff with the "
            f"business-support role, team {locality!r} and a candidate group"
        )

    def _address_for_role(self, role: StaffRole, what: str) -> r.Address:
        members = self.staff_with_role(role)
        if not members:
            raise MissingAddress(
                f"No {what} address: import a staff entry with the {role.value} role"
            )
        first = members[0]
        return r.Address(name=first.name, email=first.email, party_id=first.id, role=role.value)

    def virtual_school_address(self) -> r.Address:
        """The Virtual School mailbox (the first staff entry with the virtual-school role)."""
        return self._address_for_role(StaffRole.VIRTUAL_SCHOOL, "Virtual School")

    def pep_coordinator_address(self) -> r.Address:
        """The PEP co-ordinator (the first staff entry with the pep-coordinator role)."""
        return self._address_for_role(StaffRole.PEP_COORDINATOR, "PEP co-ordinator")

    # -- education settings -----------------------------------------------------

    def save_setting(
        self,
        setting_id: str,
        name: str,
        kind: SettingKind | str,
        *,
        designated_teacher_name: str | None = None,
        designated_teacher_email: str | None = None,
        locality: str | None = None,
        actor: str,
    ) -> r.Setting:
        setting_id = _identifier(setting_id, "setting id")
        kind = _enum(SettingKind, kind, f"setting {setting_id} kind")
        has_dt = kind is not SettingKind.NONE
        values = {
            "id": setting_id,
            "name": _text(name, f"setting {setting_id} name"),
            "kind": kind.value,
            "designated_teacher_name": _text(
                designated_teacher_name,
                f"setting {setting_id} designated teacher name",
                required=has_dt,
            ),
            "designated_teacher_email": _email(
                designated_teacher_email,
                f"setting {setting_id} designated teacher email",
                required=has_dt,
            ),
            "locality": _text(locality, "locality", required=False),
        }
        with self._tx() as s:
            row, _ = self._upsert(
                s,
                SettingRow,
                setting_id,
                _SETTING_FIELDS,
                values,
                actor=actor,
                entity="setting",
                entity_id=setting_id,
            )
            return r.Setting.model_validate(row)

    def setting(self, setting_id: str) -> r.Setting:
        with self._read() as s:
            row = s.get(SettingRow, setting_id)
            if row is None:
                raise UnknownSetting(setting_id)
            return r.Setting.model_validate(row)

    def settings(self) -> list[r.Setting]:
        with self._read() as s:
            rows = s.scalars(sa.select(SettingRow).order_by(SettingRow.id))
            return [r.Setting.model_validate(x) for x in rows]

    def designated_teacher_address(self, setting_id: str) -> r.Address:
        setting = self.setting(setting_id)
        if not setting.designated_teacher_email:
            raise MissingAddress(
                f"{setting.name} ({setting_id}) has no designated teacher e-mail address"
            )
        return r.Address(
            name=setting.designated_teacher_name or f"Designated teacher, {setting.name}",
            email=setting.designated_teacher_email,
            party_id=setting_id,
            role="designated-teacher",
        )

    # -- children, contacts, enrolments -------------------------------------------

    def save_child(
        self,
        child_id: str,
        given_name: str,
        family_name: str,
        date_of_birth: date,
        *,
        legal_status: str | None = None,
        locality: str | None = None,
        social_worker_id: str | None = None,
        carer_contact_id: str | None = None,
        actor: str,
    ) -> r.Child:
        child_id = _text(child_id, "child id")
        if not CHILD_ID_PATTERN.match(child_id):
            raise InvalidRecord(f"child id {child_id!r} must look like 'C-0001'")
        if not isinstance(date_of_birth, date) or isinstance(date_of_birth, datetime):
            raise InvalidRecord(f"child {child_id}: date of birth must be a date")
        values = {
            "id": child_id,
            "given_name": _text(given_name, f"child {child_id} given name"),
            "family_name": _text(family_name, f"child {child_id} family name"),
            "date_of_birth": date_of_birth,
            "legal_status": _text(legal_status, "legal status", required=False),
            "locality": _text(locality, "locality", required=False),
            "social_worker_id": _text(social_worker_id, "social worker", required=False),
            "carer_contact_id": _text(carer_contact_id, "carer contact", required=False),
        }
        with self._tx() as s:
            if values["social_worker_id"] and s.get(StaffRow, values["social_worker_id"]) is None:
                raise UnknownStaff(values["social_worker_id"])
            if values["carer_contact_id"]:
                contact = s.get(ContactRow, values["carer_contact_id"])
                if contact is None or contact.child_id != child_id:
                    raise UnknownContact(
                        values["carer_contact_id"],
                        f"it must be a contact linked to child {child_id}",
                    )
            row, _ = self._upsert(
                s,
                ChildRow,
                child_id,
                _CHILD_FIELDS,
                values,
                actor=actor,
                entity="child",
                entity_id=child_id,
            )
            return r.Child.model_validate(row)

    def child(self, child_id: str) -> r.Child:
        """The child, or :class:`UnknownChild`."""
        with self._read() as s:
            row = s.get(ChildRow, child_id)
            if row is None:
                raise UnknownChild(child_id)
            return r.Child.model_validate(row)

    def children(self) -> list[r.Child]:
        with self._read() as s:
            return [
                r.Child.model_validate(x)
                for x in s.scalars(sa.select(ChildRow).order_by(ChildRow.id))
            ]

    def save_contact(
        self,
        contact_id: str,
        child_id: str,
        role: ContactRole | str,
        name: str,
        *,
        email: str | None = None,
        receives_pep: bool | None = None,
        actor: str,
    ) -> r.Contact:
        """Create or update a contact linked to a child.

        ``receives_pep`` defaults to true for health visitors and foster carers and to
        false for parents and others (a parent gets the PEP only when flagged).
        """
        contact_id = _identifier(contact_id, "contact id")
        role = _enum(ContactRole, role, f"contact {contact_id} role")
        if receives_pep is None:
            receives_pep = role in (ContactRole.HEALTH_VISITOR, ContactRole.FOSTER_CARER)
        values = {
            "id": contact_id,
            "child_id": child_id,
            "role": role.value,
            "name": _text(name, f"contact {contact_id} name"),
            "email": _email(email, f"contact {contact_id} email", required=receives_pep),
            "receives_pep": bool(receives_pep),
        }
        with self._tx() as s:
            if s.get(ChildRow, child_id) is None:
                raise UnknownChild(child_id)
            row, _ = self._upsert(
                s,
                ContactRow,
                contact_id,
                _CONTACT_FIELDS,
                values,
                actor=actor,
                entity="contact",
                entity_id=contact_id,
            )
            return r.Contact.model_validate(row)

    def set_carer(self, child_id: str, contact_id: str | None, *, actor: str) -> r.Child:
        """Set (or clear) the child's main carer contact."""
        current = self.child(child_id)
        return self.save_child(
            **{**current.model_dump(exclude={"id", "carer_contact_id"})},
            child_id=child_id,
            carer_contact_id=contact_id,
            actor=actor,
        )

    def contact(self, contact_id: str) -> r.Contact:
        with self._read() as s:
            row = s.get(ContactRow, contact_id)
            if row is None:
                raise UnknownContact(contact_id)
            return r.Contact.model_validate(row)

    def contacts_for(self, child_id: str) -> list[r.Contact]:
        self.child(child_id)
        with self._read() as s:
            rows = s.scalars(
                sa.select(ContactRow).where(ContactRow.child_id == child_id).order_by(ContactRow.id)
            )
            return [r.Contact.model_validate(x) for x in rows]

    def early_years_recipients(self, child_id: str) -> list[r.Address]:
        """Who gets the PEP of a young child not in a setting: the health visitor, the
        foster carers and the parents flagged as appropriate (``receives_pep``)."""
        return [
            r.Address(name=c.name, email=c.email, party_id=c.id, role=c.role.value)
            for c in self.contacts_for(child_id)
            if c.receives_pep and c.email
        ]

    def address_for(self, party_id: str) -> r.Address:
        """The address of an attendee: a contact, a staff member or a setting (its DT)."""
        with self._read() as s:
            contact = s.get(ContactRow, party_id)
            if contact is not None:
                if not contact.email:
                    raise MissingAddress(
                        f"contact {party_id} ({contact.name}) has no e-mail address"
                    )
                return r.Address(
                    name=contact.name, email=contact.email, party_id=party_id, role=contact.role
                )
            staff = s.get(StaffRow, party_id)
            if staff is not None:
                return r.Address(
                    name=staff.name, email=staff.email, party_id=party_id, role="staff"
                )
            if s.get(SettingRow, party_id) is not None:
                return self.designated_teacher_address(party_id)
        raise UnknownRecord(party_id, "it is neither a contact, a staff member nor a setting")

    def enrol(self, child_id: str, setting_id: str, starts_on: date, *, actor: str) -> r.Enrolment:
        """The child attends ``setting_id`` from ``starts_on`` (may be in the future).

        The enrolment running on that date ends the day before; enrolling again at the
        same setting from the same date changes nothing.
        """
        with self._tx() as s:
            if s.get(ChildRow, child_id) is None:
                raise UnknownChild(child_id)
            if s.get(SettingRow, setting_id) is None:
                raise UnknownSetting(setting_id)
            rows = s.scalars(
                sa.select(EnrolmentRow)
                .where(EnrolmentRow.child_id == child_id)
                .order_by(EnrolmentRow.starts_on)
            ).all()
            for row in rows:
                if row.setting_id == setting_id and row.starts_on == starts_on:
                    return r.Enrolment.model_validate(row)
                if row.starts_on >= starts_on:
                    raise InvalidRecord(
                        f"child {child_id} already has an enrolment from {row.starts_on}; "
                        f"enrolments are added in date order"
                    )
            for row in rows:
                if row.ends_on is None or row.ends_on >= starts_on:
                    before = row.ends_on
                    row.ends_on = starts_on - timedelta(days=1)
                    self._audit(
                        s,
                        actor,
                        "child",
                        child_id,
                        "end-enrolment",
                        {
                            "setting_id": [row.setting_id, row.setting_id],
                            "ends_on": [before, row.ends_on],
                        },
                    )
            new = EnrolmentRow(child_id=child_id, setting_id=setting_id, starts_on=starts_on)
            s.add(new)
            s.flush()
            self._audit(
                s,
                actor,
                "child",
                child_id,
                "enrol",
                {"setting_id": [None, setting_id], "starts_on": [None, starts_on]},
            )
            return r.Enrolment.model_validate(new)

    def enrolments(self, child_id: str) -> list[r.Enrolment]:
        with self._read() as s:
            rows = s.scalars(
                sa.select(EnrolmentRow)
                .where(EnrolmentRow.child_id == child_id)
                .order_by(EnrolmentRow.starts_on)
            )
            return [r.Enrolment.model_validate(x) for x in rows]

    def setting_for(self, child_id: str, on: date) -> r.Setting | None:
        """The child's education setting on a date (``None``: not in a setting)."""
        self.child(child_id)
        for enrolment in self.enrolments(child_id):
            if enrolment.starts_on <= on and (enrolment.ends_on is None or on <= enrolment.ends_on):
                return self.setting(enrolment.setting_id)
        return None

    # -- care episodes ------------------------------------------------------------

    def open_care_episode(
        self,
        child_id: str,
        entered_care_on: date,
        *,
        emergency: bool = False,
        episode_id: str | None = None,
        actor: str,
    ) -> r.CareEpisode:
        """Record that a child entered care. Idempotent for the same entry date;
        refused while another episode is open. The id defaults to ``CE-0001-1``."""
        with self._tx() as s:
            if s.get(ChildRow, child_id) is None:
                raise UnknownChild(child_id)
            episodes = s.scalars(
                sa.select(CareEpisodeRow).where(CareEpisodeRow.child_id == child_id)
            ).all()
            for episode in episodes:
                if episode.left_care_on is None:
                    if episode.entered_care_on == entered_care_on:
                        return r.CareEpisode.model_validate(episode)
                    raise InvalidRecord(
                        f"child {child_id} is already in care (episode {episode.id} from "
                        f"{episode.entered_care_on}); close it first"
                    )
            episode_id = episode_id or f"CE-{child_id.removeprefix('C-')}-{len(episodes) + 1}"
            if s.get(CareEpisodeRow, episode_id) is not None:
                raise DuplicateRecord(f"care episode {episode_id!r} already exists")
            row = CareEpisodeRow(
                id=_identifier(episode_id, "care episode id"),
                child_id=child_id,
                entered_care_on=entered_care_on,
                emergency=bool(emergency),
            )
            s.add(row)
            s.flush()
            self._audit(
                s,
                actor,
                "care-episode",
                row.id,
                "create",
                _diff(
                    {},
                    {
                        "child_id": child_id,
                        "entered_care_on": entered_care_on,
                        "emergency": bool(emergency),
                    },
                ),
            )
            return r.CareEpisode.model_validate(row)

    def close_care_episode(
        self, episode_id: str, left_care_on: date, reason: str, *, actor: str
    ) -> r.CareEpisode:
        with self._tx() as s:
            row = s.get(CareEpisodeRow, episode_id)
            if row is None:
                raise UnknownCareEpisode(episode_id)
            if left_care_on < row.entered_care_on:
                raise InvalidRecord(
                    f"care episode {episode_id}: left care on {left_care_on} is before entry "
                    f"on {row.entered_care_on}"
                )
            before = _snapshot(row, ("left_care_on", "left_care_reason"))
            row.left_care_on = left_care_on
            row.left_care_reason = _text(reason, "reason for leaving care")
            changes = _diff(before, _snapshot(row, ("left_care_on", "left_care_reason")))
            if changes:
                s.flush()
                self._audit(s, actor, "care-episode", episode_id, "close", changes)
            return r.CareEpisode.model_validate(row)

    def care_episode(self, episode_id: str) -> r.CareEpisode:
        with self._read() as s:
            row = s.get(CareEpisodeRow, episode_id)
            if row is None:
                raise UnknownCareEpisode(episode_id)
            return r.CareEpisode.model_validate(row)

    def care_episodes(self, child_id: str) -> list[r.CareEpisode]:
        self.child(child_id)
        with self._read() as s:
            rows = s.scalars(
                sa.select(CareEpisodeRow)
                .where(CareEpisodeRow.child_id == child_id)
                .order_by(CareEpisodeRow.entered_care_on)
            )
            return [r.CareEpisode.model_validate(x) for x in rows]

    def current_care_episode(self, child_id: str) -> r.CareEpisode | None:
        open_ = [e for e in self.care_episodes(child_id) if e.is_open]
        return open_[-1] if open_ else None

    # -- term dates -----------------------------------------------------------------

    def save_term(
        self,
        academic_year: int,
        term: TermName | str,
        starts_on: date,
        ends_on: date,
        half_term_starts_on: date | None = None,
        half_term_ends_on: date | None = None,
        *,
        setting_id: str | None = None,
        actor: str,
    ) -> str:
        """Create or replace one term's dates (council default, or a setting's own).

        Returns ``created``, ``updated`` or ``unchanged``."""
        term = _enum(TermName, term, "term")
        try:
            Term(term.value, starts_on, ends_on, half_term_starts_on, half_term_ends_on)
        except (ValueError, TypeError) as exc:
            raise InvalidRecord(f"{academic_year} {term.value} term: {exc}") from None
        scope = setting_id or COUNCIL
        values = dict(
            zip(
                _TERM_FIELDS,
                (starts_on, ends_on, half_term_starts_on, half_term_ends_on),
                strict=True,
            )
        )
        with self._tx() as s:
            if setting_id and s.get(SettingRow, setting_id) is None:
                raise UnknownSetting(setting_id)
            row = s.scalars(
                sa.select(TermDatesRow).where(
                    TermDatesRow.scope == scope,
                    TermDatesRow.academic_year == academic_year,
                    TermDatesRow.term == term.value,
                )
            ).one_or_none()
            entity_id = f"{scope}/{academic_year}/{term.value}"
            if row is None:
                s.add(
                    TermDatesRow(
                        scope=scope,
                        setting_id=setting_id,
                        academic_year=academic_year,
                        term=term.value,
                        **values,
                    )
                )
                s.flush()
                self._audit(s, actor, "term-dates", entity_id, "create", _diff({}, values))
                return "created"
            before = _snapshot(row, _TERM_FIELDS)
            for name, value in values.items():
                setattr(row, name, value)
            changes = _diff(before, values)
            if not changes:
                return "unchanged"
            s.flush()
            self._audit(s, actor, "term-dates", entity_id, "update", changes)
            return "updated"

    def save_inset_day(self, day: date, *, setting_id: str | None = None, actor: str) -> str:
        """An INSET day of the council default calendar or of one setting (idempotent).

        Returns ``created`` or ``unchanged``."""
        scope = setting_id or COUNCIL
        with self._tx() as s:
            if setting_id and s.get(SettingRow, setting_id) is None:
                raise UnknownSetting(setting_id)
            exists = s.scalars(
                sa.select(InsetDayRow).where(InsetDayRow.scope == scope, InsetDayRow.day == day)
            ).first()
            if exists is not None:
                return "unchanged"
            academic_year = academic_year_of(day)
            s.add(
                InsetDayRow(
                    scope=scope, setting_id=setting_id, academic_year=academic_year, day=day
                )
            )
            s.flush()
            self._audit(
                s,
                actor,
                "term-dates",
                f"{scope}/{academic_year}/inset",
                "add-inset-day",
                {"day": [None, day]},
            )
            return "created"

    def _years(self, s: Session, scope: str) -> dict[int, AcademicYearTerms]:
        terms: dict[int, dict[str, TermDatesRow]] = {}
        for row in s.scalars(sa.select(TermDatesRow).where(TermDatesRow.scope == scope)):
            terms.setdefault(row.academic_year, {})[row.term] = row
        inset: dict[int, set[date]] = {}
        for row in s.scalars(sa.select(InsetDayRow).where(InsetDayRow.scope == scope)):
            inset.setdefault(row.academic_year, set()).add(row.day)
        years: dict[int, AcademicYearTerms] = {}
        for year, by_name in sorted(terms.items()):
            missing = [name for name in TERM_ORDER if name not in by_name]
            if missing:
                log.warning(
                    "term dates for %s %s lack the %s term(s); year ignored",
                    scope,
                    year,
                    ", ".join(missing),
                )
                continue
            years[year] = AcademicYearTerms(
                academic_year=year,
                terms=tuple(
                    Term(
                        name,
                        by_name[name].starts_on,
                        by_name[name].ends_on,
                        by_name[name].half_term_starts_on,
                        by_name[name].half_term_ends_on,
                    )
                    for name in TERM_ORDER
                ),
                inset_days=frozenset(inset.get(year, ())),
            )
        return years

    def school_calendar_for(self, setting_id: str | None = None) -> SchoolCalendar:
        """The school calendar of a setting: its own term dates where it has them for a
        year, else the council's; its INSET days on top. ``None``: the council default.
        Kept between calls while the term dates are unchanged (``calendar_cache.py``)."""
        with self._read() as s:
            return self._calendar_cache.get(s, setting_id, lambda: self._build_calendar(s, setting_id))

    def _build_calendar(self, s: Session, setting_id: str | None) -> SchoolCalendar:
        council = self._years(s, COUNCIL)
        if setting_id is None:
            return SchoolCalendar(council)
        setting = s.get(SettingRow, setting_id)
        if setting is None:
            raise UnknownSetting(setting_id)
        own = self._years(s, setting_id)
        own_inset = s.scalars(
            sa.select(InsetDayRow.day).where(InsetDayRow.scope == setting_id)
        ).all()
        return SchoolCalendar(
            council, setting_years=own, setting_name=setting.name, extra_inset_days=own_inset
        )

    # -- PEPs ------------------------------------------------------------------------

    def create_pep(
        self,
        child_id: str,
        academic_year: int,
        term: TermName | str,
        *,
        actor: str,
        is_initial: bool = False,
        on: date | None = None,
        care_episode_id: str | None = None,
        setting_id: str | None | _Unset = UNSET,
        meeting_at: datetime | None = None,
    ) -> r.Pep:
        """Open a PEP for a child's term, status ``not-started``.

        ``on`` (default: today by the clock) is the date the variant and owner role
        are worked out for. The setting defaults to the child's setting on that date,
        the care episode to the open one. A second PEP in the same term (after a
        change of setting) gets the reference suffix ``-2``.
        """
        term = _enum(TermName, term, "term")
        on = on or self.clock.now().date()
        _aware(meeting_at, "meeting_at")
        with self._tx() as s:
            child = s.get(ChildRow, child_id)
            if child is None:
                raise UnknownChild(child_id)
            if care_episode_id is None:
                episode = self.current_care_episode(child_id)
                care_episode_id = episode.id if episode else None
            elif s.get(CareEpisodeRow, care_episode_id) is None:
                raise UnknownCareEpisode(care_episode_id)
            if isinstance(setting_id, _Unset):
                current = self.setting_for(child_id, on)
                setting_id = current.id if current else None
            setting = s.get(SettingRow, setting_id) if setting_id else None
            if setting_id and setting is None:
                raise UnknownSetting(setting_id)
            already_open = s.scalars(
                sa.select(PepRow.id).where(
                    PepRow.child_id == child_id,
                    PepRow.status.not_in([PepStatus.FINAL.value, PepStatus.CANCELLED.value]),
                )
            ).first()
            if already_open is not None:
                raise OpenPepExists(child_id, already_open)
            sequences = s.scalars(
                sa.select(PepRow.sequence).where(
                    PepRow.child_id == child_id,
                    PepRow.academic_year == academic_year,
                    PepRow.term == term.value,
                )
            ).all()
            sequence = max(sequences, default=0) + 1
            now = self.clock.now()
            from pepflow.store.allocations import pep_owner

            owner = pep_owner(self, child_id, on, now.date())
            row = PepRow(
                id=pep_reference(child_id, academic_year, term, sequence),
                child_id=child_id,
                care_episode_id=care_episode_id,
                academic_year=academic_year,
                term=term.value,
                sequence=sequence,
                status=PepStatus.NOT_STARTED.value,
                is_initial=bool(is_initial),
                setting_id=setting_id,
                variant=variant_for(
                    child.date_of_birth, on, setting.kind if setting else None
                ).value,
                owner_role=owner.role.value,
                owner_staff_id=owner.staff_id,
                meeting_at=meeting_at,
                created_at=now,
                updated_at=now,
            )
            s.add(row)
            s.flush()
            self._audit(s, actor, "pep", row.id, "create", _diff({}, _snapshot(row, _PEP_FIELDS)))
            return self._pep_record(row)

    def update_pep(
        self,
        pep_id: str,
        *,
        actor: str,
        status: PepStatus | str | _Unset = UNSET,
        meeting_at: datetime | None | _Unset = UNSET,
        form_sent_at: datetime | None | _Unset = UNSET,
        form_returned_at: datetime | None | _Unset = UNSET,
        finalised_at: datetime | None | _Unset = UNSET,
        attendee_ids: Sequence[str] | _Unset = UNSET,
        setting_id: str | None | _Unset = UNSET,
        variant: Variant | str | _Unset = UNSET,
        owner_role: OwnerRole | str | _Unset = UNSET,
        owner_staff_id: str | None | _Unset = UNSET,
    ) -> r.Pep:
        """Change the given fields of a PEP (others untouched).

        Status changes follow :func:`pepflow.domain.rules.check_status_change`. Nothing
        changed: no write, no audit entry.
        """
        changes: dict[str, Any] = {}
        if not isinstance(status, _Unset):
            changes["status"] = _enum(PepStatus, status, "status").value
        for name, value in (
            ("meeting_at", meeting_at),
            ("form_sent_at", form_sent_at),
            ("form_returned_at", form_returned_at),
            ("finalised_at", finalised_at),
        ):
            if not isinstance(value, _Unset):
                changes[name] = _aware(value, name)
        if not isinstance(variant, _Unset):
            changes["variant"] = _enum(Variant, variant, "variant").value
        if not isinstance(owner_role, _Unset):
            changes["owner_role"] = _enum(OwnerRole, owner_role, "owner role").value
        if not isinstance(setting_id, _Unset):
            changes["setting_id"] = setting_id
        if not isinstance(owner_staff_id, _Unset):
            changes["owner_staff_id"] = owner_staff_id
        with self._tx() as s:
            row = s.get(PepRow, pep_id)
            if row is None:
                raise UnknownPep(pep_id)
            if "status" in changes:
                check_status_change(row.status, changes["status"])
            if changes.get("setting_id") and s.get(SettingRow, changes["setting_id"]) is None:
                raise UnknownSetting(changes["setting_id"])
            if changes.get("owner_staff_id") and s.get(StaffRow, changes["owner_staff_id"]) is None:
                raise UnknownStaff(changes["owner_staff_id"])
            before = _snapshot(row, _PEP_FIELDS)
            before_attendees = [a.attendee_id for a in row.attendees]
            closed = PepStatus(row.status).is_closed
            for name, value in changes.items():
                setattr(row, name, value)
            diff = _diff(before, _snapshot(row, _PEP_FIELDS))
            wanted_attendees = None
            if not isinstance(attendee_ids, _Unset):
                wanted = list(dict.fromkeys(_identifier(a, "attendee id") for a in attendee_ids))
                if wanted != before_attendees:
                    wanted_attendees = wanted
                    diff["attendee_ids"] = [before_attendees, wanted]
            if not diff:
                return self._pep_record(row)
            if closed:
                # nothing about a final or cancelled PEP changes (the session is rolled back)
                raise ClosedPep(pep_id, before["status"], f"change {', '.join(sorted(diff))}")
            if wanted_attendees is not None:
                row.attendees = [
                    PepAttendeeRow(attendee_id=a, position=i) for i, a in enumerate(wanted_attendees)
                ]
            row.updated_at = self.clock.now()
            s.flush()
            self._audit(s, actor, "pep", pep_id, "update", diff)
            return self._pep_record(row)

    def pep(self, pep_id: str) -> r.Pep:
        with self._read() as s:
            row = s.get(PepRow, pep_id)
            if row is None:
                raise UnknownPep(pep_id)
            return self._pep_record(row)

    def peps_for(self, child_id: str) -> list[r.Pep]:
        """A child's PEPs, oldest first (academic year, term, sequence)."""
        self.child(child_id)
        with self._read() as s:
            rows = s.scalars(sa.select(PepRow).where(PepRow.child_id == child_id)).all()
            peps = [self._pep_record(x) for x in rows]
        return sorted(peps, key=lambda p: (p.academic_year, p.term.index, p.sequence))

    def open_pep(self, child_id: str) -> r.Pep | None:
        """The child's open PEP (neither final nor cancelled), or ``None``. A child has
        at most one (:meth:`create_pep` refuses a second)."""
        with self._read() as s:
            row = s.scalars(
                sa.select(PepRow).where(
                    PepRow.child_id == child_id,
                    PepRow.status.not_in([PepStatus.FINAL.value, PepStatus.CANCELLED.value]),
                )
            ).first()
            return self._pep_record(row) if row is not None else None

    def current_pep(self, child_id: str) -> r.Pep | None:
        """The child's latest PEP that is not cancelled (it may be final), or ``None``."""
        live = [p for p in self.peps_for(child_id) if p.status is not PepStatus.CANCELLED]
        return live[-1] if live else None

    def record_event(self, entity: str, entity_id: str, action: str, *, actor: str, details: dict[str, Any] | None = None) -> None:
        """Audit something done with a record that changes no data (e.g. a document
        password given to a designated teacher)."""
        with self._tx() as s:
            self._audit(s, actor, entity, entity_id, action, _jsonable(details or {}))

    def record_pep_view(self, pep_id: str, *, actor: str) -> None:
        """Audit that someone looked at a PEP (every view of a child's PEP is auditable)."""
        with self._tx() as s:
            if s.get(PepRow, pep_id) is None:
                raise UnknownPep(pep_id)
            self._audit(s, actor, "pep", pep_id, "view", {})

    @staticmethod
    def _pep_record(row: PepRow) -> r.Pep:
        data = _snapshot(row, (*_PEP_FIELDS, "id", "created_at", "updated_at"))
        data["attendee_ids"] = tuple(a.attendee_id for a in row.attendees)
        return r.Pep.model_validate(data)

    # -- PEP content, documents, mail ---------------------------------------------------

    def save_section(
        self, pep_id: str, section: PepSection | str, content: dict[str, Any], *, actor: str,
        correction: str | None = None,
    ) -> None:
        """Replace the content (JSON) of one section of a PEP. A final PEP's sections
        change only as a correction, with its reason (audited as such)."""
        section = _enum(PepSection, section, "section")
        if not isinstance(content, dict):
            raise InvalidRecord("section content must be a JSON object (a dict)")
        content = _jsonable(content)
        with self._tx() as s:
            pep = s.get(PepRow, pep_id)
            if pep is None:
                raise UnknownPep(pep_id)
            row = s.get(PepSectionRow, (pep_id, section.value))
            before = dict(row.content) if row is not None else {}
            diff = _diff(before, content)
            if row is not None and not diff:
                return
            if PepStatus(pep.status).is_closed and not (correction and pep.status == PepStatus.FINAL.value):
                raise ClosedPep(pep_id, pep.status, f"change its {section.value} section")
            now = self.clock.now()
            if row is None:
                s.add(
                    PepSectionRow(
                        pep_id=pep_id,
                        section=section.value,
                        content=content,
                        updated_at=now,
                        updated_by=actor,
                    )
                )
            else:
                row.content = content
                row.updated_at = now
                row.updated_by = actor
            s.flush()
            if correction:
                diff = {**diff, "correction_reason": [None, correction]}
            self._audit(s, actor, "pep", pep_id, f"{'correct' if correction else 'save'}-section:{section.value}", diff)

    def section(self, pep_id: str, section: PepSection | str) -> dict[str, Any] | None:
        section = _enum(PepSection, section, "section")
        with self._read() as s:
            if s.get(PepRow, pep_id) is None:
                raise UnknownPep(pep_id)
            row = s.get(PepSectionRow, (pep_id, section.value))
            return dict(row.content) if row is not None else None

    def record_document(
        self,
        pep_id: str,
        kind: DocumentKind | str,
        filename: str,
        *,
        content: bytes | None = None,
        path: str | Path | None = None,
        purpose: str | None = None,
        actor: str,
        correction: str | None = None,
    ) -> r.DocumentVersion:
        """Keep a new version of a PEP document: its bytes, or the path of a stored file.

        The version number counts up per PEP and kind; sha256 and size are taken from
        the bytes (read from ``path`` when only a path is given). With a ``purpose``
        (what the version is for, e.g. the step's element instance) there is at most
        one version per PEP, kind and purpose: asked again, the existing one is
        returned and nothing is written (see :meth:`document_for`).
        """
        kind = _enum(DocumentKind, kind, "document kind")
        if (content is None) == (path is None):
            raise InvalidRecord("record_document needs either content or path, not both")
        data = content if content is not None else Path(path).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        with self._tx() as s:
            pep = s.get(PepRow, pep_id)
            if pep is None:
                raise UnknownPep(pep_id)
            correcting = correction and pep.status == PepStatus.FINAL.value and kind in (DocumentKind.FINAL, DocumentKind.FINAL_PDF)
            if PepStatus(pep.status).is_closed and not correcting:
                raise ClosedPep(pep_id, pep.status, f"add a {kind.value} document")
            if purpose is not None:
                existing = self._document_for(s, pep_id, kind, purpose)
                if existing is not None:
                    return existing
            latest = s.scalar(
                sa.select(sa.func.max(DocumentVersionRow.version)).where(
                    DocumentVersionRow.pep_id == pep_id, DocumentVersionRow.kind == kind.value
                )
            )
            row = DocumentVersionRow(
                pep_id=pep_id,
                kind=kind.value,
                version=(latest or 0) + 1,
                filename=_text(filename, "filename"),
                sha256=digest,
                size=len(data),
                content=content,
                path=str(path) if path is not None else None,
                purpose=purpose,
                created_at=self.clock.now(),
                created_by=actor,
            )
            s.add(row)
            s.flush()
            self._audit(
                s,
                actor,
                "pep",
                pep_id,
                "record-document",
                {
                    "document": [
                        None,
                        {
                            "kind": kind.value,
                            "version": row.version,
                            "filename": row.filename,
                            "sha256": digest,
                            "size": row.size,
                        },
                    ],
                    **({"correction_reason": [None, correction]} if correcting else {}),
                },
            )
            return r.DocumentVersion.model_validate(row)

    def document_for(self, pep_id: str, kind: DocumentKind | str, purpose: str) -> r.DocumentVersion | None:
        """The version of a PEP's document made for ``purpose``, if one was made."""
        kind = _enum(DocumentKind, kind, "document kind")
        with self._read() as s:
            return self._document_for(s, pep_id, kind, purpose)

    @staticmethod
    def _document_for(s: Session, pep_id: str, kind: DocumentKind, purpose: str) -> r.DocumentVersion | None:
        row = s.scalar(sa.select(DocumentVersionRow).where(
            DocumentVersionRow.pep_id == pep_id, DocumentVersionRow.kind == kind.value,
            DocumentVersionRow.purpose == purpose,
        ))
        return r.DocumentVersion.model_validate(row) if row is not None else None

    def documents(
        self, pep_id: str, kind: DocumentKind | str | None = None
    ) -> list[r.DocumentVersion]:
        with self._read() as s:
            query = sa.select(DocumentVersionRow).where(DocumentVersionRow.pep_id == pep_id)
            if kind is not None:
                query = query.where(
                    DocumentVersionRow.kind == _enum(DocumentKind, kind, "document kind").value
                )
            rows = s.scalars(query.order_by(DocumentVersionRow.kind, DocumentVersionRow.version))
            return [r.DocumentVersion.model_validate(x) for x in rows]

    def latest_document(self, pep_id: str, kind: DocumentKind | str) -> r.DocumentVersion | None:
        versions = self.documents(pep_id, kind)
        return versions[-1] if versions else None

    def document_content(self, document_id: int) -> bytes:
        with self._read() as s:
            row = s.get(DocumentVersionRow, document_id)
            if row is None:
                raise UnknownRecord(str(document_id), "no such document version")
            if row.content is not None:
                return row.content
            assert row.path is not None
            return Path(row.path).read_bytes()

    def record_mail(
        self,
        idempotency_key: str,
        *,
        kind: str,
        recipient: str,
        actor: str,
        pep_id: str | None = None,
        status: MailStatus | str = MailStatus.QUEUED,
        detail: str | None = None,
    ) -> tuple[r.MailLogEntry, bool]:
        """Log a mail once per idempotency key. Returns (entry, created): a second call
        with the same key returns the first entry and ``False`` (send nothing again)."""
        key = _text(idempotency_key, "idempotency key")
        status = _enum(MailStatus, status, "mail status")
        address = _email(recipient, "mail recipient")
        with self._tx() as s:
            existing = s.scalars(
                sa.select(MailLogRow).where(MailLogRow.idempotency_key == key)
            ).first()
            if existing is not None:
                return r.MailLogEntry.model_validate(existing), False
            if pep_id is not None and s.get(PepRow, pep_id) is None:
                raise UnknownPep(pep_id)
            now = self.clock.now()
            row = MailLogRow(
                idempotency_key=key,
                pep_id=pep_id,
                kind=_text(kind, "mail kind"),
                recipient=address,
                status=status.value,
                status_history=[{"status": status.value, "at": now.isoformat(), "detail": detail}],
                created_at=now,
                updated_at=now,
            )
            s.add(row)
            s.flush()
            self._audit(
                s,
                actor,
                "pep" if pep_id else "mail",
                pep_id or key,
                "record-mail",
                {
                    "mail": [
                        None,
                        {
                            "key": key,
                            "kind": row.kind,
                            "recipient": address,
                            "status": status.value,
                        },
                    ],
                },
            )
            return r.MailLogEntry.model_validate(row), True

    def set_mail_status(
        self,
        idempotency_key: str,
        status: MailStatus | str,
        *,
        actor: str,
        detail: str | None = None,
    ) -> r.MailLogEntry:
        status = _enum(MailStatus, status, "mail status")
        with self._tx() as s:
            row = s.scalars(
                sa.select(MailLogRow).where(MailLogRow.idempotency_key == idempotency_key)
            ).first()
            if row is None:
                raise UnknownMail(idempotency_key)
            now = self.clock.now()
            before = row.status
            row.status = status.value
            row.status_history = [
                *row.status_history,
                {"status": status.value, "at": now.isoformat(), "detail": detail},
            ]
            row.updated_at = now
            s.flush()
            self._audit(
                s,
                actor,
                "pep" if row.pep_id else "mail",
                row.pep_id or idempotency_key,
                "mail-status",
                {"key": [idempotency_key, idempotency_key], "status": [before, status.value]},
            )
            return r.MailLogEntry.model_validate(row)

    def mail_entry(self, idempotency_key: str) -> r.MailLogEntry | None:
        with self._read() as s:
            row = s.scalars(
                sa.select(MailLogRow).where(MailLogRow.idempotency_key == idempotency_key)
            ).first()
            return r.MailLogEntry.model_validate(row) if row is not None else None

    def mail_log(self, pep_id: str | None = None) -> list[r.MailLogEntry]:
        with self._read() as s:
            query = sa.select(MailLogRow).order_by(MailLogRow.id)
            if pep_id is not None:
                query = query.where(MailLogRow.pep_id == pep_id)
            return [r.MailLogEntry.model_validate(x) for x in s.scalars(query)]

    # -- the mail outbox ------------------------------------------------------------------
    #
    # A step that sends mail calls :meth:`enqueue_mail` (mail log entry, full message and
    # attachments, audit: one transaction) and returns. The sender claims due messages
    # (:meth:`claim_mail`), sends them and records the outcome (:meth:`mark_mail_sent`,
    # :meth:`schedule_mail_retry`, :meth:`mark_mail_failed`). Every outcome is appended
    # to the mail log entry's ``status_history`` and audited under the PEP.

    def enqueue_mail(
        self,
        idempotency_key: str,
        *,
        kind: str,
        message_id: str,
        sender: str,
        recipients: Sequence[str],
        subject: str,
        text_body: str,
        html_body: str | None = None,
        sender_name: str | None = None,
        reply_to: str | None = None,
        date: datetime | None = None,
        attachments: Sequence[dict[str, Any]] = (),
        pep_id: str | None = None,
        recipient_party_id: str | None = None,
        recipient_role: str | None = None,
        process_instance_key: int | None = None,
        element_id: str | None = None,
        raw: bytes | None = None,
        not_before: datetime | None = None,
        actor: str,
    ) -> tuple[r.MailLogEntry, bool]:
        """Queue one message once per idempotency key. Returns ``(entry, created)``.
        ``not_before`` holds it back until then (a password sent apart from its file).

        A second call with the same key (a retried or re-delivered job) changes nothing
        and returns the first entry with ``created=False``, whatever its status. Each
        attachment is ``{"filename", "content_type", "content": bytes}`` or
        ``{"filename", "content_type", "document_version_id": id}`` (the stored
        document version is read when the message is sent).
        """
        key = _text(idempotency_key, "idempotency key")
        if len(key) > 200:
            raise InvalidRecord(f"idempotency key {key[:60]!r}... is longer than 200 characters")
        addresses = [_email(a, "mail recipient") for a in recipients]
        if not addresses:
            raise InvalidRecord("a message needs at least one recipient")
        sender_address = _email(sender, "mail sender")
        reply_address = _email(reply_to, "mail reply-to", required=False)
        when = _aware(date, "mail date") or self.clock.now()
        try:
            return self._enqueue_mail(
                key, kind=_text(kind, "mail kind"), message_id=_text(message_id, "Message-ID"),
                sender=sender_address, recipients=addresses, subject=_text(subject, "subject"),
                text_body=text_body, html_body=html_body, sender_name=sender_name,
                reply_to=reply_address, date=when, attachments=attachments, pep_id=pep_id,
                recipient_party_id=recipient_party_id, recipient_role=recipient_role,
                process_instance_key=process_instance_key, element_id=element_id, raw=raw, actor=actor,
                not_before=_aware(not_before, "not before"),
            )
        except RecordsError:
            # Two workers queued the same key at once: the other one won.
            if self._active.get() is None:
                existing = self.mail_entry(key)
                if existing is not None:
                    return existing, False
            raise

    def _enqueue_mail(self, key: str, *, kind: str, recipients: list[str], attachments, pep_id,
                      actor: str, date: datetime, not_before: datetime | None = None,
                      **message: Any) -> tuple[r.MailLogEntry, bool]:
        with self._tx() as s:
            existing = s.scalars(
                sa.select(MailLogRow).where(MailLogRow.idempotency_key == key)
            ).first()
            if existing is not None:
                return r.MailLogEntry.model_validate(existing), False
            if pep_id is not None and s.get(PepRow, pep_id) is None:
                raise UnknownPep(pep_id)
            now = self.clock.now()
            log_row = MailLogRow(
                idempotency_key=key,
                pep_id=pep_id,
                kind=kind,
                recipient=recipients[0],
                status=MailStatus.QUEUED.value,
                status_history=[
                    {
                        "status": MailStatus.QUEUED.value,
                        "event": "queued",
                        "at": now.isoformat(),
                        "detail": f"queued as {message['message_id']}",
                    }
                ],
                created_at=now,
                updated_at=now,
            )
            s.add(log_row)
            s.flush()
            outbox = MailOutboxRow(
                mail_log_id=log_row.id,
                recipients=recipients,
                date=date,
                state=MailStatus.QUEUED.value,
                attempts=0,
                next_attempt_at=max(now, not_before) if not_before else now,
                **message,
            )
            s.add(outbox)
            s.flush()
            described = []
            for position, attachment in enumerate(attachments, start=1):
                content = attachment.get("content")
                document_id = attachment.get("document_version_id")
                if (content is None) == (document_id is None):
                    raise InvalidRecord("an attachment needs either content or document_version_id")
                if document_id is not None:
                    document = s.get(DocumentVersionRow, document_id)
                    if document is None:
                        raise UnknownRecord(str(document_id), "no such document version")
                    size, digest = document.size, document.sha256
                else:
                    size, digest = len(content), hashlib.sha256(content).hexdigest()
                s.add(
                    MailOutboxAttachmentRow(
                        outbox_id=outbox.id,
                        position=position,
                        filename=_text(attachment.get("filename"), "attachment filename"),
                        content_type=attachment.get("content_type") or "application/octet-stream",
                        size=size,
                        sha256=digest,
                        content=content,
                        document_version_id=document_id,
                    )
                )
                described.append({"filename": attachment.get("filename"), "sha256": digest})
            s.flush()
            self._audit(
                s,
                actor,
                "pep" if pep_id else "mail",
                pep_id or key,
                "record-mail",
                {
                    "mail": [
                        None,
                        {
                            "key": key,
                            "kind": kind,
                            "recipient": recipients[0],
                            "status": MailStatus.QUEUED.value,
                            "message_id": message["message_id"],
                            "attachments": described,
                        },
                    ],
                },
            )
            return r.MailLogEntry.model_validate(log_row), True

    def claim_mail(self, owner: str, *, limit: int = 50, lease: timedelta = timedelta(minutes=5)) -> list[int]:
        """Claim up to ``limit`` queued messages that are due; return their mail ids.

        A claim is a lease: a sender that dies holding it leaves the message to be
        claimed again once ``lease`` has passed.
        """
        now = self.clock.now()
        if not any_mail_due(self._engine, now):  # the usual answer, without a write transaction
            return []
        until = now + lease
        due = sa.and_(
            MailOutboxRow.state == MailStatus.QUEUED.value,
            MailOutboxRow.next_attempt_at <= now,
            sa.or_(MailOutboxRow.claimed_by.is_(None), MailOutboxRow.lease_until < now),
        )
        with self._tx() as s:
            candidates = list(
                s.scalars(
                    sa.select(MailOutboxRow.id)
                    .where(due)
                    .order_by(MailOutboxRow.next_attempt_at, MailOutboxRow.id)
                    .limit(limit)
                )
            )
            if not candidates:
                return []
            s.execute(
                sa.update(MailOutboxRow)
                .where(MailOutboxRow.id.in_(candidates), due)
                .values(claimed_by=owner, lease_until=until)
                .execution_options(synchronize_session=False)
            )
            return list(
                s.scalars(
                    sa.select(MailOutboxRow.mail_log_id)
                    .where(
                        MailOutboxRow.id.in_(candidates),
                        MailOutboxRow.claimed_by == owner,
                        MailOutboxRow.lease_until == until,
                    )
                    .order_by(MailOutboxRow.next_attempt_at, MailOutboxRow.id)
                )
            )

    def release_mail(self, mail_ids: Iterable[int], owner: str) -> None:
        """Give back claims not worked (a sender stopping): due again at once."""
        ids = list(mail_ids)
        if not ids:
            return
        with self._tx() as s:
            s.execute(
                sa.update(MailOutboxRow)
                .where(MailOutboxRow.mail_log_id.in_(ids), MailOutboxRow.claimed_by == owner)
                .values(claimed_by=None, lease_until=None)
                .execution_options(synchronize_session=False)
            )

    def release_orphaned_mail(self, prefix: str, *, except_owner: str) -> int:
        """Claims held by senders named ``prefix...`` other than ``except_owner``: in the
        embedded mode (one sender per database) they belong to a run that died."""
        with self._tx() as s:
            result = s.execute(
                sa.update(MailOutboxRow)
                .where(
                    MailOutboxRow.claimed_by.like(f"{prefix}%"),
                    MailOutboxRow.claimed_by != except_owner,
                    MailOutboxRow.state == MailStatus.QUEUED.value,
                )
                .values(claimed_by=None, lease_until=None)
                .execution_options(synchronize_session=False)
            )
            return result.rowcount or 0

    def outbox_messages(
        self, mail_ids: Sequence[int], *, with_content: bool = True, prebuilt_only: bool = False
    ) -> list[r.OutboxMessage]:
        """The queued messages ``mail_ids`` in that order, attachments' bytes loaded.
        With ``prebuilt_only``, a message built when queued comes without its parts'
        bytes (the sender transmits the built bytes)."""
        ids = list(mail_ids)
        if not ids:
            return []
        with self._read() as s:
            rows = s.execute(
                sa.select(MailOutboxRow, MailLogRow)
                .join(MailLogRow, MailLogRow.id == MailOutboxRow.mail_log_id)
                .where(MailOutboxRow.mail_log_id.in_(ids))
                .options(selectinload(MailOutboxRow.attachments), undefer(MailOutboxRow.raw) if with_content else defer(MailOutboxRow.raw))
            ).all()
            documents: dict[int, bytes] = {}
            wanted = {
                a.document_version_id
                for row, _ in rows
                for a in row.attachments
                if a.document_version_id is not None and not (prebuilt_only and row.raw is not None)
            }
            if with_content and wanted:
                for document in s.scalars(
                    sa.select(DocumentVersionRow).where(DocumentVersionRow.id.in_(wanted))
                ):
                    documents[document.id] = (
                        document.content
                        if document.content is not None
                        else Path(document.path).read_bytes()
                    )
            by_id = {}
            for row, log_row in rows:
                attachments = tuple(
                    r.OutboxAttachment(
                        position=a.position,
                        filename=a.filename,
                        content_type=a.content_type,
                        size=a.size,
                        sha256=a.sha256,
                        document_version_id=a.document_version_id,
                        data=(
                            (a.content if a.content is not None else documents[a.document_version_id])
                            # the built message carries its attachments already
                            if with_content and not (prebuilt_only and row.raw is not None)
                            else None
                        ),
                    )
                    for a in row.attachments
                )
                by_id[log_row.id] = r.OutboxMessage(
                    mail_id=log_row.id,
                    idempotency_key=log_row.idempotency_key,
                    pep_id=log_row.pep_id,
                    kind=log_row.kind,
                    message_id=row.message_id,
                    sender=row.sender,
                    sender_name=row.sender_name,
                    reply_to=row.reply_to,
                    recipients=tuple(row.recipients),
                    recipient_party_id=row.recipient_party_id,
                    recipient_role=row.recipient_role,
                    subject=row.subject,
                    text_body=row.text_body,
                    html_body=row.html_body,
                    date=row.date,
                    state=row.state,
                    attempts=row.attempts,
                    next_attempt_at=row.next_attempt_at,
                    last_error=row.last_error,
                    attachments=attachments,
                    raw=row.raw if with_content else None,
                )
            return [by_id[i] for i in ids if i in by_id]

    def outbox_message(self, mail_id: int, *, with_content: bool = False) -> r.OutboxMessage:
        found = self.outbox_messages([mail_id], with_content=with_content)
        if not found:
            raise UnknownMail(str(mail_id))
        return found[0]

    def _outbox_rows(self, s: Session, mail_id: int) -> tuple[MailOutboxRow, MailLogRow]:
        found = s.execute(
            sa.select(MailOutboxRow, MailLogRow)
            .join(MailLogRow, MailLogRow.id == MailOutboxRow.mail_log_id)
            .where(MailOutboxRow.mail_log_id == mail_id)
        ).first()
        if found is None:
            raise UnknownMail(str(mail_id))
        return found[0], found[1]

    def _mail_event(
        self,
        s: Session,
        log_row: MailLogRow,
        status: MailStatus,
        event: str,
        *,
        actor: str,
        detail: str | None,
        audit_action: str,
        **extra: Any,
    ) -> None:
        now = self.clock.now()
        before = log_row.status
        entry = {"status": status.value, "event": event, "at": now.isoformat(), "detail": detail}
        entry.update({k: _jsonable(v) for k, v in extra.items() if v is not None})
        log_row.status = status.value
        log_row.status_history = [*log_row.status_history, entry]
        log_row.updated_at = now
        s.flush()
        diff: dict[str, Any] = {"key": [log_row.idempotency_key, log_row.idempotency_key]}
        if before != status.value:
            diff["status"] = [before, status.value]
        diff["event"] = [None, {k: v for k, v in entry.items() if k != "at"}]
        self._audit(
            s,
            actor,
            "pep" if log_row.pep_id else "mail",
            log_row.pep_id or log_row.idempotency_key,
            audit_action,
            diff,
        )

    def mark_mail_sent(
        self,
        outcomes: Sequence[tuple[int, str]] | int,
        reply: str | None = None,
        *,
        actor: str,
    ) -> None:
        """Record that the server took each message: ``[(mail_id, server reply), ...]``
        (or one ``mail_id, reply``), in one transaction."""
        if isinstance(outcomes, int):
            outcomes = [(outcomes, reply or "")]
        now = self.clock.now()
        with self._tx() as s:
            for mail_id, server_reply in outcomes:
                row, log_row = self._outbox_rows(s, mail_id)
                row.attempts += 1
                row.state = MailStatus.SENT.value
                row.sent_at = now
                row.claimed_by = None
                row.lease_until = None
                row.last_error = None
                self._mail_event(
                    s, log_row, MailStatus.SENT, "sent", actor=actor, detail=server_reply,
                    audit_action="mail-sent", attempt=row.attempts, message_id=row.message_id,
                )

    def withdraw_queued_mail(self, pep_ids: Iterable[str], *, reason: str, actor: str) -> int:
        """Withdraw the messages about these PEPs that are still queued (not being sent
        right now): they will never go. Each is marked and audited with the reason."""
        ids = list(pep_ids)
        if not ids:
            return 0
        now = self.clock.now()
        with self._tx() as s:
            rows = s.execute(
                sa.select(MailOutboxRow, MailLogRow)
                .join(MailLogRow, MailLogRow.id == MailOutboxRow.mail_log_id)
                .where(
                    MailLogRow.pep_id.in_(ids),
                    MailOutboxRow.state.in_([MailStatus.QUEUED.value, MailStatus.FAILED.value]),
                    sa.or_(MailOutboxRow.claimed_by.is_(None), MailOutboxRow.lease_until < now),
                )
            ).all()
            for row, log_row in rows:
                row.state = MailStatus.WITHDRAWN.value
                row.claimed_by = None
                row.lease_until = None
                self._mail_event(
                    s, log_row, MailStatus.WITHDRAWN, "withdrawn", actor=actor, detail=reason,
                    audit_action="mail-withdrawn",
                )
            return len(rows)

    def schedule_mail_retry(
        self,
        mail_id: int,
        reason: str,
        next_attempt_at: datetime,
        *,
        actor: str,
        event: str = "retry-scheduled",
        code: int | None = None,
    ) -> None:
        """A transient failure (or a server refused for insecurity): stays queued."""
        with self._tx() as s:
            row, log_row = self._outbox_rows(s, mail_id)
            row.attempts += 1
            row.next_attempt_at = next_attempt_at
            row.claimed_by = None
            row.lease_until = None
            row.last_error = reason
            self._mail_event(
                s, log_row, MailStatus.QUEUED, event, actor=actor, detail=reason,
                audit_action="mail-retry-scheduled", attempt=row.attempts, code=code,
                next_attempt_at=next_attempt_at,
            )

    def mark_mail_failed(
        self, mail_id: int, reason: str, *, actor: str, code: int | None = None
    ) -> None:
        """A permanent failure: nothing more is tried until someone retries it."""
        with self._tx() as s:
            row, log_row = self._outbox_rows(s, mail_id)
            row.attempts += 1
            row.state = MailStatus.FAILED.value
            row.claimed_by = None
            row.lease_until = None
            row.last_error = reason
            self._mail_event(
                s, log_row, MailStatus.FAILED, "failed", actor=actor, detail=reason,
                audit_action="mail-failed", attempt=row.attempts, code=code,
            )

    def requeue_mail(
        self, mail_id: int, *, actor: str, recipients: Sequence[str] | None = None
    ) -> r.MailSummary:
        """Queue a failed (or waiting) message again, due now; ``recipients`` replaces the
        addresses when the records now give different ones. A sent message is refused."""
        addresses = [_email(a, "mail recipient") for a in recipients] if recipients else None
        with self._tx() as s:
            row, log_row = self._outbox_rows(s, mail_id)
            if row.state == MailStatus.SENT.value:
                raise InvalidRecord(
                    f"mail {mail_id} was already sent ({log_row.idempotency_key}); "
                    "it is not sent again"
                )
            changed = None
            if addresses and addresses != list(row.recipients):
                changed = [list(row.recipients), addresses]
                row.recipients = addresses
                row.raw = None  # its To: header named the old address: rebuilt when sent
                log_row.recipient = addresses[0]
            row.state = MailStatus.QUEUED.value
            row.attempts = 0
            row.next_attempt_at = self.clock.now()
            row.claimed_by = None
            row.lease_until = None
            self._mail_event(
                s, log_row, MailStatus.QUEUED, "retry-requested", actor=actor,
                detail=f"queued again by {actor}", audit_action="mail-retry-requested",
                recipients=changed,
            )
        return self.mail_summary(mail_id)

    def next_mail_due(self) -> datetime | None:
        """When the earliest queued message is next due (a claimed one: when its lease ends)."""
        due = sa.case(
            (
                sa.and_(
                    MailOutboxRow.lease_until.is_not(None),
                    MailOutboxRow.lease_until > MailOutboxRow.next_attempt_at,
                ),
                MailOutboxRow.lease_until,
            ),
            else_=MailOutboxRow.next_attempt_at,
        )
        with self._read() as s:
            value = s.scalar(
                sa.select(sa.func.min(due)).where(MailOutboxRow.state == MailStatus.QUEUED.value)
            )
        if value is None:
            return None
        if isinstance(value, str):  # SQLite hands back an aggregate of datetimes as text
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value

    def mail_summaries(
        self, pep_id: str | None = None, *, status: MailStatus | str | None = None
    ) -> list[r.MailSummary]:
        """Every message (optionally of one PEP, or in one status), oldest first."""
        with self._read() as s:
            query = (
                sa.select(MailLogRow, MailOutboxRow)
                .outerjoin(MailOutboxRow, MailOutboxRow.mail_log_id == MailLogRow.id)
                .order_by(MailLogRow.id)
            )
            if pep_id is not None:
                query = query.where(MailLogRow.pep_id == pep_id)
            if status is not None:
                query = query.where(
                    MailLogRow.status == _enum(MailStatus, status, "mail status").value
                )
            return [self._summary(log_row, row) for log_row, row in s.execute(query)]

    def mail_summary(self, mail_id: int) -> r.MailSummary:
        with self._read() as s:
            found = s.execute(
                sa.select(MailLogRow, MailOutboxRow)
                .outerjoin(MailOutboxRow, MailOutboxRow.mail_log_id == MailLogRow.id)
                .where(MailLogRow.id == mail_id)
            ).first()
            if found is None:
                raise UnknownMail(str(mail_id))
            return self._summary(*found)

    @staticmethod
    def _summary(log_row: MailLogRow, row: MailOutboxRow | None) -> r.MailSummary:
        return r.MailSummary(
            mail_id=log_row.id,
            idempotency_key=log_row.idempotency_key,
            pep_id=log_row.pep_id,
            kind=log_row.kind,
            recipient=log_row.recipient,
            status=log_row.status,
            status_history=tuple(log_row.status_history),
            message_id=row.message_id if row is not None else None,
            attempts=row.attempts if row is not None else 0,
            next_attempt_at=(
                row.next_attempt_at
                if row is not None and row.state == MailStatus.QUEUED.value
                else None
            ),
            last_error=row.last_error if row is not None else None,
            created_at=log_row.created_at,
            updated_at=log_row.updated_at,
        )

    # -- audit --------------------------------------------------------------------------

    def audit_entries(
        self, entity: str | None = None, entity_id: str | None = None
    ) -> list[r.AuditEntry]:
        """Audit entries, oldest first, optionally for one entity kind and id."""
        with self._read() as s:
            query = sa.select(AuditRow).order_by(AuditRow.id)
            if entity is not None:
                query = query.where(AuditRow.entity == entity)
            if entity_id is not None:
                query = query.where(AuditRow.entity_id == entity_id)
            return [r.AuditEntry.model_validate(x) for x in s.scalars(query)]
