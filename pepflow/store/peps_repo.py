"""PEPs: one per child and term, their sections' content, who viewed them and the
versions of their documents. Everything is audited under entity ``pep`` and the PEP id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa

from pepflow.domain.enums import DocumentKind, OwnerRole, PepSection, PepStatus, TermName, Variant
from pepflow.domain.rules import check_status_change, pep_reference, variant_for
from pepflow.store import records as r
from pepflow.store.children_repo import ChildrenRepository
from pepflow.store.core_reads import each_of, fields_of, with_each
from pepflow.store.errors import (
    ClosedPep,
    InvalidRecord,
    OpenPepExists,
    UnknownCareEpisode,
    UnknownChild,
    UnknownPep,
    UnknownRecord,
    UnknownSetting,
    UnknownStaff,
)
from pepflow.store.models import (
    PEP_AND_ATTENDEES,
    PEP_EXISTS,
    CareEpisodeRow,
    ChildRow,
    DocumentVersionRow,
    PepAttendeeRow,
    PepRow,
    PepSectionRow,
    SettingRow,
    StaffRow,
)
from pepflow.store.unit_of_work import UnitOfWork
from pepflow.store.values import (
    UNSET,
    _Unset,
    _aware,
    _diff,
    _enum,
    _identifier,
    _jsonable,
    _snapshot,
    _text,
)


class PepOwner(Protocol):
    """What a new PEP records of its owner (:class:`pepflow.store.allocations.Owner`)."""

    @property
    def role(self) -> OwnerRole: ...

    @property
    def staff_id(self) -> str | None: ...


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


#: PEPs with their attendees in one statement: a PEP's row once per attendee (once,
#: with a NULL attendee, when it has none); add a ``where``, read with :func:`peps_from_rows`
PEPS_WITH_ATTENDEES = with_each(
    PepRow, PepAttendeeRow.attendee_id, PepAttendeeRow.pep_id == PepRow.id, PepRow.id, PepAttendeeRow.position
)
_PEP_WITH_ATTENDEES = PEPS_WITH_ATTENDEES.where(PepRow.id == sa.bindparam("pep_id"))
#: a child's PEPs (``b_child``), and only the open ones (neither final nor cancelled)
_PEPS_OF_CHILD = PEPS_WITH_ATTENDEES.where(PepRow.child_id == sa.bindparam("b_child"))
_OPEN_PEPS_OF_CHILD = _PEPS_OF_CHILD.where(
    PepRow.status.not_in([PepStatus.FINAL.value, PepStatus.CANCELLED.value])
)
_SECTION_CONTENT = sa.select(PepSectionRow.content).where(
    PepSectionRow.pep_id == sa.bindparam("pep_id"), PepSectionRow.section == sa.bindparam("section")
)


#: a document version's stored bytes and the file they are in otherwise, by ``b_id`` (read
#: for every attachment; issue 16)
_DOCUMENT_CONTENT = sa.select(DocumentVersionRow.content, DocumentVersionRow.path).where(
    DocumentVersionRow.id == sa.bindparam("b_id"))
#: a PEP's document made for a purpose (a step's element instance), by ``b_pep``, ``b_kind``, ``b_purpose``
_DOCUMENT_FOR = fields_of(DocumentVersionRow).where(
    DocumentVersionRow.pep_id == sa.bindparam("b_pep"), DocumentVersionRow.kind == sa.bindparam("b_kind"),
    DocumentVersionRow.purpose == sa.bindparam("b_purpose"),
)

# A PEP's writes (create, update, a section, a document) go through Core statements built
# once (issue 16): loading a PEP as an ORM object to read its status, and a flush to write
# a row nothing reads back, cost more than the statements. A loaded ORM copy of a row
# written here is expired (``UnitOfWork.forget``).
_peps, _attendees, _sections = PepRow.__table__, PepAttendeeRow.__table__, PepSectionRow.__table__
_PEP_STATUS = sa.select(_peps.c.status).where(_peps.c.id == sa.bindparam("b_pep"))
_CHILD_BIRTH = sa.select(ChildRow.__table__.c.date_of_birth).where(ChildRow.__table__.c.id == sa.bindparam("b_id"))
_EPISODE_EXISTS = sa.select(CareEpisodeRow.__table__.c.id).where(CareEpisodeRow.__table__.c.id == sa.bindparam("b_id"))
_SETTING_KIND = sa.select(SettingRow.__table__.c.kind).where(SettingRow.__table__.c.id == sa.bindparam("b_id"))
_STAFF_EXISTS = sa.select(StaffRow.__table__.c.id).where(StaffRow.__table__.c.id == sa.bindparam("b_id"))
_OPEN_PEP = sa.select(_peps.c.id).where(
    _peps.c.child_id == sa.bindparam("b_child"),
    _peps.c.status.not_in([PepStatus.FINAL.value, PepStatus.CANCELLED.value]),
)
_SEQUENCES = sa.select(_peps.c.sequence).where(
    _peps.c.child_id == sa.bindparam("b_child"), _peps.c.academic_year == sa.bindparam("b_year"),
    _peps.c.term == sa.bindparam("b_term"),
)
#: the columns to set are the parameters; ``b_pep`` (and ``b_section``) the row
_INSERT_PEP, _UPDATE_PEP = _peps.insert(), _peps.update().where(_peps.c.id == sa.bindparam("b_pep"))
_INSERT_ATTENDEE = _attendees.insert()
_DELETE_ATTENDEES = _attendees.delete().where(_attendees.c.pep_id == sa.bindparam("b_pep"))
_INSERT_SECTION = _sections.insert()
_UPDATE_SECTION = _sections.update().where(
    _sections.c.pep_id == sa.bindparam("b_pep"), _sections.c.section == sa.bindparam("b_section")
)
_LATEST_VERSION = sa.select(sa.func.max(DocumentVersionRow.__table__.c.version)).where(
    DocumentVersionRow.__table__.c.pep_id == sa.bindparam("b_pep"),
    DocumentVersionRow.__table__.c.kind == sa.bindparam("b_kind"),
)
_INSERT_DOCUMENT = DocumentVersionRow.__table__.insert()


@cache
def _documents(of_kind: bool) -> sa.Select:
    """A PEP's document versions (``b_pep``), of one kind (``b_kind``) if ``of_kind``: built
    once (statement building cost more than the query; issue 16)."""
    query = fields_of(DocumentVersionRow).where(DocumentVersionRow.pep_id == sa.bindparam("b_pep"))
    if of_kind:
        query = query.where(DocumentVersionRow.kind == sa.bindparam("b_kind"))
    return query.order_by(DocumentVersionRow.kind, DocumentVersionRow.version)


def peps_from_rows(result: sa.Result) -> dict[str, r.Pep]:
    """PEP records by id from a :data:`PEPS_WITH_ATTENDEES` result."""
    return {pep["id"]: r.Pep.model_validate({**pep, "attendee_ids": tuple(attendees)})
            for pep, attendees in each_of(result, "attendee_id")}


def _pep_and_attendees(conn: sa.Connection, pep_id: str) -> tuple[dict[str, Any], list[str]] | None:
    """A PEP's row (column values by attribute name) and its attendees, or None."""
    rows = conn.execute(_PEP_WITH_ATTENDEES, {"pep_id": pep_id}).mappings().all()
    if not rows:
        return None
    data = {k: v for k, v in rows[0].items() if k != "attendee_id"}
    return data, [x["attendee_id"] for x in rows if x["attendee_id"] is not None]


def _snapshot_of(data: dict[str, Any]) -> dict[str, Any]:
    return {f: data[f] for f in _PEP_FIELDS}


def pep_record(row: PepRow) -> r.Pep:
    data = _snapshot(row, (*_PEP_FIELDS, "id", "created_at", "updated_at"))
    data["attendee_ids"] = tuple(a.attendee_id for a in row.attendees)
    return r.Pep.model_validate(data)


class PepRepository:
    """PEPs, sections, views and documents (``store.peps_repo``).

    ``owner_of(child_id, pep_day, today)`` is the owner a new PEP records
    (:func:`pepflow.store.allocations.pep_owner` over the store).
    """

    def __init__(
        self, uow: UnitOfWork, children: ChildrenRepository,
        owner_of: Callable[[str, date, date], PepOwner],
    ) -> None:
        self.uow = uow
        self.children = children
        self._owner_of = owner_of

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
        on = on or self.uow.clock.now().date()
        _aware(meeting_at, "meeting_at")
        with self.uow.transaction() as s:
            conn = self.uow.connection(s)
            child = conn.execute(_CHILD_BIRTH, {"b_id": child_id}).first()
            if child is None:
                raise UnknownChild(child_id)
            if care_episode_id is None:
                episode = self.children.current_care_episode(child_id)
                care_episode_id = episode.id if episode else None
            elif conn.execute(_EPISODE_EXISTS, {"b_id": care_episode_id}).first() is None:
                raise UnknownCareEpisode(care_episode_id)
            if isinstance(setting_id, _Unset):
                current = self.children.setting_for(child_id, on)
                setting_id = current.id if current else None
            setting = conn.execute(_SETTING_KIND, {"b_id": setting_id}).first() if setting_id else None
            if setting_id and setting is None:
                raise UnknownSetting(setting_id)
            already_open = conn.execute(_OPEN_PEP, {"b_child": child_id}).scalars().first()
            if already_open is not None:
                raise OpenPepExists(child_id, already_open)
            sequences = conn.execute(
                _SEQUENCES, {"b_child": child_id, "b_year": academic_year, "b_term": term.value}
            ).scalars().all()
            sequence = max(sequences, default=0) + 1
            now = self.uow.clock.now()
            owner = self._owner_of(child_id, on, now.date())
            values = {
                "child_id": child_id,
                "care_episode_id": care_episode_id,
                "academic_year": academic_year,
                "term": term.value,
                "sequence": sequence,
                "status": PepStatus.NOT_STARTED.value,
                "is_initial": bool(is_initial),
                "setting_id": setting_id,
                "variant": variant_for(
                    child.date_of_birth, on, setting.kind if setting else None
                ).value,
                "owner_role": owner.role.value,
                "owner_staff_id": owner.staff_id,
                "meeting_at": meeting_at,
                "form_sent_at": None,
                "form_returned_at": None,
                "finalised_at": None,
            }
            pep_id = pep_reference(child_id, academic_year, term, sequence)
            self.uow.connection(s).execute(
                _INSERT_PEP, {"id": pep_id, **values, "created_at": now, "updated_at": now}
            )
            self.uow.audit(s, actor, "pep", pep_id, "create", _diff({}, values))
            return r.Pep.model_validate(
                {"id": pep_id, **values, "attendee_ids": (), "created_at": now, "updated_at": now}
            )

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
        with self.uow.transaction() as s:
            conn = self.uow.connection(s)
            found = _pep_and_attendees(conn, pep_id)
            if found is None:
                raise UnknownPep(pep_id)
            data, before_attendees = found
            if "status" in changes:
                check_status_change(data["status"], changes["status"])
            if changes.get("setting_id") and conn.execute(_SETTING_KIND, {"b_id": changes["setting_id"]}).first() is None:
                raise UnknownSetting(changes["setting_id"])
            owner = changes.get("owner_staff_id")
            if owner and conn.execute(_STAFF_EXISTS, {"b_id": owner}).first() is None:
                raise UnknownStaff(changes["owner_staff_id"])
            before = _snapshot_of(data)
            closed = PepStatus(data["status"]).is_closed
            data.update(changes)
            diff = _diff(before, _snapshot_of(data))
            wanted_attendees = None
            if not isinstance(attendee_ids, _Unset):
                wanted = list(dict.fromkeys(_identifier(a, "attendee id") for a in attendee_ids))
                if wanted != before_attendees:
                    wanted_attendees = wanted
                    diff["attendee_ids"] = [before_attendees, wanted]
            if not diff:
                return r.Pep.model_validate({**data, "attendee_ids": tuple(before_attendees)})
            if closed:
                # nothing about a final or cancelled PEP changes (the session is rolled back)
                raise ClosedPep(pep_id, before["status"], f"change {', '.join(sorted(diff))}")
            data["updated_at"] = self.uow.clock.now()
            conn.execute(
                _UPDATE_PEP,
                {"b_pep": pep_id, "updated_at": data["updated_at"],
                 **{name: data[name] for name in diff if name != "attendee_ids"}},
            )
            self.uow.forget(s, PepRow, pep_id)
            if wanted_attendees is not None:
                conn.execute(_DELETE_ATTENDEES, {"b_pep": pep_id})
                if wanted_attendees:
                    conn.execute(
                        _INSERT_ATTENDEE,
                        [{"pep_id": pep_id, "attendee_id": a, "position": i} for i, a in enumerate(wanted_attendees)],
                    )
                self.uow.forget(s, PepAttendeeRow, *((pep_id, a) for a in before_attendees))
            self.uow.audit(s, actor, "pep", pep_id, "update", diff)
            return r.Pep.model_validate(
                {**data, "attendee_ids": tuple(before_attendees if wanted_attendees is None else wanted_attendees)}
            )

    def pep(self, pep_id: str) -> r.Pep:
        with self.uow.rows() as conn:  # Core: the hottest read of a simulated year
            peps = peps_from_rows(conn.execute(_PEP_WITH_ATTENDEES, {"pep_id": pep_id}))
        if pep_id not in peps:
            raise UnknownPep(pep_id)
        return peps[pep_id]

    def peps_for(self, child_id: str) -> list[r.Pep]:
        """A child's PEPs, oldest first (academic year, term, sequence)."""
        self.children.child(child_id)
        with self.uow.rows() as conn:  # Core, with their attendees in the same statement
            peps = peps_from_rows(conn.execute(_PEPS_OF_CHILD, {"b_child": child_id})).values()
        return sorted(peps, key=lambda p: (p.academic_year, p.term.index, p.sequence))

    def open_pep(self, child_id: str) -> r.Pep | None:
        """The child's open PEP (neither final nor cancelled), or ``None``. A child has
        at most one (:meth:`create_pep` refuses a second)."""
        with self.uow.rows() as conn:
            peps = peps_from_rows(conn.execute(_OPEN_PEPS_OF_CHILD, {"b_child": child_id}))
        return next(iter(peps.values()), None)

    def current_pep(self, child_id: str) -> r.Pep | None:
        """The child's latest PEP that is not cancelled (it may be final), or ``None``."""
        live = [p for p in self.peps_for(child_id) if p.status is not PepStatus.CANCELLED]
        return live[-1] if live else None

    def record_pep_view(self, pep_id: str, *, actor: str) -> None:
        """Audit that someone looked at a PEP (every view of a child's PEP is auditable)."""
        with self.uow.transaction() as s:
            if s.get(PepRow, pep_id, options=PEP_AND_ATTENDEES) is None:
                raise UnknownPep(pep_id)
            self.uow.audit(s, actor, "pep", pep_id, "view", {})

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
        with self.uow.transaction() as s:
            conn = self.uow.connection(s)
            status = conn.execute(_PEP_STATUS, {"b_pep": pep_id}).scalar()
            if status is None:
                raise UnknownPep(pep_id)
            row = conn.execute(_SECTION_CONTENT, {"pep_id": pep_id, "section": section.value}).first()
            before = dict(row.content) if row is not None else {}
            diff = _diff(before, content)
            if row is not None and not diff:
                return
            if PepStatus(status).is_closed and not (correction and status == PepStatus.FINAL.value):
                raise ClosedPep(pep_id, status, f"change its {section.value} section")
            now = self.uow.clock.now()
            written = {"content": content, "updated_at": now, "updated_by": actor}
            if row is None:
                conn.execute(_INSERT_SECTION, {"pep_id": pep_id, "section": section.value, **written})
            else:
                conn.execute(_UPDATE_SECTION, {"b_pep": pep_id, "b_section": section.value, **written})
                self.uow.forget(s, PepSectionRow, (pep_id, section.value))
            if correction:
                diff = {**diff, "correction_reason": [None, correction]}
            self.uow.audit(s, actor, "pep", pep_id, f"{'correct' if correction else 'save'}-section:{section.value}", diff)

    def section(self, pep_id: str, section: PepSection | str) -> dict[str, Any] | None:
        section = _enum(PepSection, section, "section")
        with self.uow.rows() as conn:
            # a saved section's PEP exists (its foreign key): only a missing one asks
            content = conn.execute(_SECTION_CONTENT, {"pep_id": pep_id, "section": section.value}).scalar()
            if content is not None:
                return dict(content)
            if conn.execute(PEP_EXISTS, {"pep_id": pep_id}).first() is None:
                raise UnknownPep(pep_id)
            return None

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
        with self.uow.transaction() as s:
            conn = self.uow.connection(s)
            status = conn.execute(_PEP_STATUS, {"b_pep": pep_id}).scalar()
            if status is None:
                raise UnknownPep(pep_id)
            correcting = correction and status == PepStatus.FINAL.value and kind in (DocumentKind.FINAL, DocumentKind.FINAL_PDF)
            if PepStatus(status).is_closed and not correcting:
                raise ClosedPep(pep_id, status, f"add a {kind.value} document")
            if purpose is not None:
                existing = self._document_for(conn, pep_id, kind, purpose)
                if existing is not None:
                    return existing
            latest = conn.execute(_LATEST_VERSION, {"b_pep": pep_id, "b_kind": kind.value}).scalar()
            row = {
                "pep_id": pep_id,
                "kind": kind.value,
                "version": (latest or 0) + 1,
                "filename": _text(filename, "filename"),
                "sha256": digest,
                "size": len(data),
                "path": str(path) if path is not None else None,
                "purpose": purpose,
                "created_at": self.uow.clock.now(),
                "created_by": actor,
            }
            row["id"] = conn.execute(_INSERT_DOCUMENT, {**row, "content": content}).inserted_primary_key[0]
            self.uow.audit(
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
                            "version": row["version"],
                            "filename": row["filename"],
                            "sha256": digest,
                            "size": row["size"],
                        },
                    ],
                    **({"correction_reason": [None, correction]} if correcting else {}),
                },
            )
            return r.DocumentVersion.model_validate(row)

    def document_for(self, pep_id: str, kind: DocumentKind | str, purpose: str) -> r.DocumentVersion | None:
        """The version of a PEP's document made for ``purpose``, if one was made."""
        kind = _enum(DocumentKind, kind, "document kind")
        with self.uow.rows() as conn:
            return self._document_for(conn, pep_id, kind, purpose)

    @staticmethod
    def _document_for(conn: sa.Connection, pep_id: str, kind: DocumentKind, purpose: str) -> r.DocumentVersion | None:
        row = conn.execute(_DOCUMENT_FOR, {"b_pep": pep_id, "b_kind": kind.value, "b_purpose": purpose}).mappings().first()
        return r.DocumentVersion.model_validate(dict(row)) if row is not None else None

    def documents(
        self, pep_id: str, kind: DocumentKind | str | None = None
    ) -> list[r.DocumentVersion]:
        params = {"b_pep": pep_id}
        if kind is not None:
            params["b_kind"] = _enum(DocumentKind, kind, "document kind").value
        with self.uow.rows() as conn:
            rows = conn.execute(_documents(kind is not None), params).mappings().all()
        return [r.DocumentVersion.model_validate(dict(x)) for x in rows]

    def latest_document(self, pep_id: str, kind: DocumentKind | str) -> r.DocumentVersion | None:
        versions = self.documents(pep_id, kind)
        return versions[-1] if versions else None

    def document_content(self, document_id: int) -> bytes:
        with self.uow.rows() as conn:  # Core: the bytes and the path, nothing else
            row = conn.execute(_DOCUMENT_CONTENT, {"b_id": document_id}).first()
        if row is None:
            raise UnknownRecord(str(document_id), "no such document version")
        if row.content is not None:
            return row.content
        assert row.path is not None
        return Path(row.path).read_bytes()
