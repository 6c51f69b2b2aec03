"""The ``staff`` import: staff members, their roles, team and login."""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from pepflow.domain.enums import StaffRole
from pepflow.store import RecordsError, RecordsStore
from pepflow.store.values import check_login

from .rows import Collector, EmailCell, Identifier, Row, existing, outcome, unique_ids


class StaffRowIn(Row):
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

def check_staff(
    store: RecordsStore, rows: list[tuple[int, StaffRowIn]], errors: Collector
) -> None:
    unique_ids(rows, errors)
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


def apply_staff(store: RecordsStore, row: StaffRowIn, actor: str, notes: Collector) -> str:
    before = existing(store.staff, row.id)
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
    return outcome(before, after)
