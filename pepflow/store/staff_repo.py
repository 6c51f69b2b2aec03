"""Staff: who they are, their roles and Identity login, and the addresses and groups the
process writes to by role (the Virtual School, the PEP co-ordinator, a locality's
business support team). Every change is audited under entity ``staff``.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from pepflow.domain.enums import StaffRole
from pepflow.store import records as r
from pepflow.store.core_reads import each_of, with_each
from pepflow.store.errors import DuplicateRecord, InvalidRecord, MissingAddress, UnknownStaff
from pepflow.store.models import STAFF_AND_ROLES, StaffRoleRow, StaffRow
from pepflow.store.unit_of_work import UnitOfWork
from pepflow.store.values import (
    UNSET,
    _Unset,
    _diff,
    _email,
    _enum,
    _identifier,
    _snapshot,
    _text,
    check_login,
)

_STAFF_FIELDS = ("name", "email", "team", "candidate_group", "login")


def staff_record(row: StaffRow) -> r.Staff:
    return r.Staff(
        id=row.id,
        name=row.name,
        email=row.email,
        roles=tuple(StaffRole(x.role) for x in row.roles),
        team=row.team,
        candidate_group=row.candidate_group,
        login=row.login,
    )


#: Staff with their roles in one Core statement, built once (issue 16): a member's row
#: once per role (once, with a NULL role, should they have none), by id then role - the
#: order of the ORM's ``StaffRow.roles``; add a ``where``, read with :func:`staff_from_rows`
STAFF_WITH_ROLES = with_each(StaffRow, StaffRoleRow.role, StaffRoleRow.staff_id == StaffRow.id, StaffRow.id, StaffRoleRow.role)
_BY_ID = STAFF_WITH_ROLES.where(StaffRow.id == sa.bindparam("b_id"))
#: a staff member with their roles by Identity login (``b_login``)
_BY_LOGIN = STAFF_WITH_ROLES.where(StaffRow.login == sa.bindparam("b_login"))
#: the staff holding a role (``b_role``), with all their roles
_WITH_ROLE = STAFF_WITH_ROLES.where(
    StaffRow.id.in_(sa.select(StaffRoleRow.staff_id).where(StaffRoleRow.role == sa.bindparam("b_role")))
)


def staff_from_rows(result: sa.Result) -> list[r.Staff]:
    """Staff records, in the result's order, from a :data:`STAFF_WITH_ROLES` result."""
    return [r.Staff(**member, roles=tuple(StaffRole(role) for role in roles))
            for member, roles in each_of(result, "role")]


class StaffRepository:
    """The staff of the records store (``store.staff_repo``)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

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
        with self.uow.transaction() as s:
            if values.get("login"):
                holder = s.scalar(sa.select(StaffRow.id).where(StaffRow.login == values["login"]))
                if holder is not None and holder != staff_id:
                    raise DuplicateRecord(f"login {values['login']!r} is already {holder}'s")
            row = s.get(StaffRow, staff_id, options=STAFF_AND_ROLES)
            if row is None:
                row = StaffRow(**values, roles=[StaffRoleRow(role=role) for role in role_values])
                s.add(row)
                s.flush()
                self.uow.audit(
                    s,
                    actor,
                    "staff",
                    staff_id,
                    "create",
                    _diff({}, {**values, "roles": role_values}),
                )
                return staff_record(row)
            before = {**_snapshot(row, _STAFF_FIELDS), "roles": [x.role for x in row.roles]}
            for name, value in values.items():
                setattr(row, name, value)
            if before["roles"] != role_values:
                row.roles = [StaffRoleRow(role=role) for role in role_values]
            changes = _diff(before, {**_snapshot(row, _STAFF_FIELDS), "roles": role_values})
            if changes:
                s.flush()
                self.uow.audit(s, actor, "staff", staff_id, "update", changes)
            return staff_record(row)

    def staff(self, staff_id: str) -> r.Staff:
        with self.uow.rows() as conn:  # Core: read for most jobs (issue 16)
            found = staff_from_rows(conn.execute(_BY_ID, {"b_id": staff_id}))
        if not found:
            raise UnknownStaff(staff_id)
        return found[0]

    def staff_with_role(self, role: StaffRole | str) -> list[r.Staff]:
        role = _enum(StaffRole, role, "role")
        with self.uow.rows() as conn:
            return staff_from_rows(conn.execute(_WITH_ROLE, {"b_role": role.value}))

    def all_staff(self) -> list[r.Staff]:
        with self.uow.rows() as conn:
            return staff_from_rows(conn.execute(STAFF_WITH_ROLES))

    def staff_by_login(self, login: str) -> r.Staff | None:
        """The staff member with this Identity login (case-insensitive), or ``None``."""
        with self.uow.rows() as conn:
            found = staff_from_rows(conn.execute(_BY_LOGIN, {"b_login": login.strip().lower()}))
        return found[0] if found else None

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
