"""Children, their contacts, where they go to school (enrolments) and their care episodes.

Changes are audited under entity ``child`` (enrolments too), ``contact`` and
``care-episode``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa

from pepflow.domain.enums import ContactRole
from pepflow.domain.rules import CHILD_ID_PATTERN
from pepflow.store import records as r
from pepflow.store.core_reads import by_key, fields_of, one_by_key
from pepflow.store.errors import (
    DuplicateRecord,
    InvalidRecord,
    MissingAddress,
    UnknownCareEpisode,
    UnknownChild,
    UnknownContact,
    UnknownRecord,
    UnknownSetting,
    UnknownStaff,
)
from pepflow.store.models import (
    STAFF_AND_ROLES,
    CareEpisodeRow,
    ChildRow,
    ContactRow,
    EnrolmentRow,
    SettingRow,
    StaffRow,
)
from pepflow.store.settings_repo import SettingsRepository
from pepflow.store.unit_of_work import UnitOfWork
from pepflow.store.values import _diff, _email, _enum, _identifier, _snapshot, _text

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

#: Core reads built once (issue 16): an attendee's address is read for every message
#: about a PEP, a child's contacts for every early-years PEP
_CONTACTS_OF_CHILD = fields_of(ContactRow).where(ContactRow.child_id == sa.bindparam("b_child")).order_by(ContactRow.id)
_STAFF_NAME_EMAIL = sa.select(StaffRow.name, StaffRow.email).where(StaffRow.id == sa.bindparam("b_id"))
_SETTING_EXISTS = sa.select(SettingRow.id).where(SettingRow.id == sa.bindparam("b_id"))
#: a child's enrolments and care episodes (``b_child``), read by the casework at most
#: steps; the checks and the insert of a new care episode (issue 16)
_ENROLMENTS = fields_of(EnrolmentRow).where(EnrolmentRow.child_id == sa.bindparam("b_child")).order_by(
    EnrolmentRow.starts_on)
_EPISODES = fields_of(CareEpisodeRow).where(CareEpisodeRow.child_id == sa.bindparam("b_child"))
_EPISODES_IN_ORDER = _EPISODES.order_by(CareEpisodeRow.entered_care_on)
_CHILD_EXISTS = sa.select(ChildRow.id).where(ChildRow.id == sa.bindparam("b_id"))
_EPISODE_EXISTS = sa.select(CareEpisodeRow.id).where(CareEpisodeRow.id == sa.bindparam("b_id"))
_INSERT_EPISODE = sa.insert(CareEpisodeRow.__table__)


class ChildrenRepository:
    """Children, contacts, enrolments and care episodes (``store.children_repo``)."""

    def __init__(self, uow: UnitOfWork, settings: SettingsRepository) -> None:
        self.uow = uow
        self.settings = settings

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
        with self.uow.transaction() as s:
            social_worker = values["social_worker_id"]
            if social_worker and s.get(StaffRow, social_worker, options=STAFF_AND_ROLES) is None:
                raise UnknownStaff(values["social_worker_id"])
            if values["carer_contact_id"]:
                contact = s.get(ContactRow, values["carer_contact_id"])
                if contact is None or contact.child_id != child_id:
                    raise UnknownContact(
                        values["carer_contact_id"],
                        f"it must be a contact linked to child {child_id}",
                    )
            row, _ = self.uow.upsert(
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
        with self.uow.rows() as conn:  # Core: read for every job of a child
            data = one_by_key(conn, ChildRow, child_id)
        if data is None:
            raise UnknownChild(child_id)
        return r.Child.model_validate(data)

    def children(self) -> list[r.Child]:
        with self.uow.read() as s:
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
        with self.uow.transaction() as s:
            if s.get(ChildRow, child_id) is None:
                raise UnknownChild(child_id)
            row, _ = self.uow.upsert(
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
        with self.uow.rows() as conn:
            data = one_by_key(conn, ContactRow, contact_id)
        if data is None:
            raise UnknownContact(contact_id)
        return r.Contact.model_validate(data)

    def contacts_for(self, child_id: str) -> list[r.Contact]:
        self.child(child_id)
        return self.uow.records(r.Contact, _CONTACTS_OF_CHILD, {"b_child": child_id})

    def early_years_recipients(self, child_id: str) -> list[r.Address]:
        """Who gets the PEP of a young child not in a setting: the health visitor, the
        foster carers and the parents flagged as appropriate (``receives_pep``)."""
        return [
            r.Address(name=c.name, email=c.email, party_id=c.id, role=c.role.value)
            for c in self.contacts_for(child_id)
            if c.receives_pep and c.email
        ]

    def address_for(self, party_id: str) -> r.Address:
        """The address of an attendee: a contact, a staff member or a setting (its DT).

        Through Core, asking only as far as the first kind the id is (issue 16)."""
        staff = is_setting = None
        with self.uow.rows() as conn:
            contact = conn.execute(by_key(ContactRow), {"key": party_id}).first()
            if contact is None:
                staff = conn.execute(_STAFF_NAME_EMAIL, {"b_id": party_id}).first()
            if contact is None and staff is None:
                is_setting = conn.execute(_SETTING_EXISTS, {"b_id": party_id}).first() is not None
        if contact is not None:
            if not contact.email:
                raise MissingAddress(
                    f"contact {party_id} ({contact.name}) has no e-mail address"
                )
            return r.Address(
                name=contact.name, email=contact.email, party_id=party_id, role=contact.role
            )
        if staff is not None:
            return r.Address(name=staff.name, email=staff.email, party_id=party_id, role="staff")
        if is_setting:
            return self.settings.designated_teacher_address(party_id)
        raise UnknownRecord(party_id, "it is neither a contact, a staff member nor a setting")

    def enrol(self, child_id: str, setting_id: str, starts_on: date, *, actor: str) -> r.Enrolment:
        """The child attends ``setting_id`` from ``starts_on`` (may be in the future).

        The enrolment running on that date ends the day before; enrolling again at the
        same setting from the same date changes nothing.
        """
        with self.uow.transaction() as s:
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
                    self.uow.audit(
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
            self.uow.audit(
                s,
                actor,
                "child",
                child_id,
                "enrol",
                {"setting_id": [None, setting_id], "starts_on": [None, starts_on]},
            )
            return r.Enrolment.model_validate(new)

    def enrolments(self, child_id: str) -> list[r.Enrolment]:
        return self.uow.records(r.Enrolment, _ENROLMENTS, {"b_child": child_id})

    def setting_for(self, child_id: str, on: date) -> r.Setting | None:
        """The child's education setting on a date (``None``: not in a setting)."""
        self.child(child_id)
        for enrolment in self.enrolments(child_id):
            if enrolment.starts_on <= on and (enrolment.ends_on is None or on <= enrolment.ends_on):
                return self.settings.setting(enrolment.setting_id)
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
        with self.uow.transaction() as s:
            conn = self.uow.connection(s)
            if conn.execute(_CHILD_EXISTS, {"b_id": child_id}).first() is None:
                raise UnknownChild(child_id)
            episodes = conn.execute(_EPISODES, {"b_child": child_id}).mappings().all()
            for episode in episodes:
                if episode["left_care_on"] is None:
                    if episode["entered_care_on"] == entered_care_on:
                        return r.CareEpisode.model_validate(dict(episode))
                    raise InvalidRecord(
                        f"child {child_id} is already in care (episode {episode['id']} from "
                        f"{episode['entered_care_on']}); close it first"
                    )
            episode_id = episode_id or f"CE-{child_id.removeprefix('C-')}-{len(episodes) + 1}"
            if conn.execute(_EPISODE_EXISTS, {"b_id": episode_id}).first() is not None:
                raise DuplicateRecord(f"care episode {episode_id!r} already exists")
            row = {
                "id": _identifier(episode_id, "care episode id"),
                "child_id": child_id,
                "entered_care_on": entered_care_on,
                "emergency": bool(emergency),
            }
            conn.execute(_INSERT_EPISODE, row)  # a new row: no loaded copy to forget
            self.uow.audit(
                s,
                actor,
                "care-episode",
                row["id"],
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
        with self.uow.transaction() as s:
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
                self.uow.audit(s, actor, "care-episode", episode_id, "close", changes)
            return r.CareEpisode.model_validate(row)

    def care_episode(self, episode_id: str) -> r.CareEpisode:
        with self.uow.rows() as conn:
            data = one_by_key(conn, CareEpisodeRow, episode_id)
        if data is None:
            raise UnknownCareEpisode(episode_id)
        return r.CareEpisode.model_validate(data)

    def care_episodes(self, child_id: str) -> list[r.CareEpisode]:
        self.child(child_id)
        return self.uow.records(r.CareEpisode, _EPISODES_IN_ORDER, {"b_child": child_id})

    def current_care_episode(self, child_id: str) -> r.CareEpisode | None:
        open_ = [e for e in self.care_episodes(child_id) if e.is_open]
        return open_[-1] if open_ else None
