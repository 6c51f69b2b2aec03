"""Who is asking, and what they may do: sessions, CSRF, roles and scopes.

Sessions are a signed cookie (itsdangerous) carrying the account id, the account's
session version (sign-out and password changes bump it, so old cookies stop
working) and the CSRF token. Every state-changing request must carry that token,
as the ``X-CSRF-Token`` header (the pages' JavaScript) or a ``csrf_token`` form field.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, HTTPException, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from pepflow.domain.enums import StaffRole
from pepflow.store.errors import UnknownStaff

SESSION_COOKIE = "pep_session"
ANON_CSRF_COOKIE = "pep_csrf"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

CASEWORKER_ROLES = frozenset({StaffRole.SOCIAL_WORKER, StaffRole.LEAVING_CARE_WORKER, StaffRole.PERSONAL_ADVISER})
READ_ALL_ROLES = frozenset({StaffRole.PEP_COORDINATOR, StaffRole.VIRTUAL_SCHOOL})

# What each role may do. Scopes (own caseload, locality team) are checked per record.
PERMISSIONS: dict[str, frozenset[StaffRole]] = {
    "signed-in": frozenset(StaffRole),
    "tasks:read": CASEWORKER_ROLES | {StaffRole.BUSINESS_SUPPORT} | READ_ALL_ROLES,
    "tasks:work": CASEWORKER_ROLES | {StaffRole.BUSINESS_SUPPORT},
    "pep:read": CASEWORKER_ROLES | {StaffRole.BUSINESS_SUPPORT} | READ_ALL_ROLES,
    "pep:upload": CASEWORKER_ROLES | {StaffRole.BUSINESS_SUPPORT},
    "dashboard": READ_ALL_ROLES,
    "operations:read": frozenset({StaffRole.OPERATOR}),
    "operations:write": frozenset({StaffRole.OPERATOR}),
    "accounts": frozenset({StaffRole.ADMINISTRATOR}),
}


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    staff_id: str
    name: str
    roles: frozenset[StaffRole]
    team: str | None
    candidate_group: str | None
    csrf: str = field(repr=False, default="")

    def can(self, permission: str) -> bool:
        return bool(self.roles & PERMISSIONS[permission])

    @property
    def is_caseworker(self) -> bool:
        return bool(self.roles & CASEWORKER_ROLES)

    @property
    def is_business_support(self) -> bool:
        return StaffRole.BUSINESS_SUPPORT in self.roles

    @property
    def reads_all(self) -> bool:
        return bool(self.roles & READ_ALL_ROLES)

    @property
    def candidate_groups(self) -> list[str]:
        return [self.candidate_group] if self.candidate_group else []

    def may_see_child(self, child) -> bool:
        """The child's record: own caseload, locality team, or read-all roles."""
        if self.reads_all:
            return True
        if self.is_caseworker and child.social_worker_id == self.staff_id:
            return True
        if self.is_business_support and self.team and child.locality == self.team:
            return True
        return False

    def may_see_task(self, task) -> bool:
        if self.reads_all:
            return True
        if self.staff_id and (task.assignee == self.staff_id or self.staff_id in task.candidate_users):
            return True
        return bool(set(self.candidate_groups) & set(task.candidate_groups))

    def may_work_task(self, task) -> bool:
        if not self.can("tasks:work"):
            return False
        if task.assignee and task.assignee != self.staff_id:
            return False
        return task.assignee == self.staff_id or self.staff_id in task.candidate_users or bool(
            set(self.candidate_groups) & set(task.candidate_groups))


class Sessions:
    def __init__(self, secret: str, max_age_seconds: float) -> None:
        self.serializer = URLSafeTimedSerializer(secret, salt="pep-session")
        self.anon = URLSafeTimedSerializer(secret, salt="pep-anon-csrf")
        self.max_age = max_age_seconds

    def issue(self, user_id: int, session_version: int) -> tuple[str, str]:
        csrf = secrets.token_urlsafe(24)
        return self.serializer.dumps({"u": user_id, "v": session_version, "c": csrf}), csrf

    def read(self, cookie: str | None) -> dict[str, Any] | None:
        if not cookie:
            return None
        try:
            return self.serializer.loads(cookie, max_age=self.max_age)
        except BadSignature:
            return None

    def anon_token(self) -> tuple[str, str]:
        token = secrets.token_urlsafe(24)
        return token, self.anon.dumps(token)

    def anon_check(self, cookie: str | None, submitted: str | None) -> bool:
        if not cookie or not submitted:
            return False
        try:
            token = self.anon.loads(cookie, max_age=3600)
        except BadSignature:
            return False
        return hmac.compare_digest(str(token), submitted)


class NotSignedIn(Exception):
    """Pages redirect to the sign-in page; the API answers 401."""


class PrincipalCache:
    """Principals by (account, session version) for a short while: a request needs
    no account or staff query when the same person asks again within ``ttl``."""

    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._items: dict[tuple[int, int], tuple[float, Principal | None]] = {}

    def get(self, key: tuple[int, int]):
        item = self._items.get(key)
        if item and item[0] > time.monotonic():
            return item
        return None

    def put(self, key: tuple[int, int], principal: Principal | None) -> None:
        if len(self._items) > 5000:
            self._items.clear()
        self._items[key] = (time.monotonic() + self.ttl, principal)

    def clear(self) -> None:
        self._items.clear()


def load_principal(request: Request) -> Principal | None:
    web = request.app.state.web
    data = web.sessions.read(request.cookies.get(SESSION_COOKIE))
    if not data:
        return None
    key = (int(data["u"]), int(data["v"]))
    cached = web.principals.get(key)
    if cached is not None:
        principal = cached[1]
    else:
        principal = _build_principal(web, *key)
        web.principals.put(key, principal)
    if principal is None:
        return None
    return Principal(**{**principal.__dict__, "csrf": data["c"]})


def _build_principal(web, user_id: int, version: int) -> Principal | None:
    account = web.accounts.get(user_id)
    if account is None or not account.active or account.session_version != version:
        return None
    roles: set[StaffRole] = {StaffRole(r) for r in account.extra_roles if r in StaffRole._value2member_map_}
    name, team, group, staff_id = account.username, None, None, account.staff_id or f"user:{account.username}"
    if account.staff_id:
        try:
            staff = web.store.staff(account.staff_id)
        except UnknownStaff:
            staff = None
        if staff is not None:
            roles |= set(staff.roles)
            name, team, group = staff.name, staff.team, staff.candidate_group
    return Principal(account.id, account.username, staff_id, name, frozenset(roles), team, group)


async def check_csrf(request: Request) -> None:
    """Dependency of every state-changing route."""
    if request.method in SAFE_METHODS:
        return
    principal = load_principal(request)
    submitted = request.headers.get("x-csrf-token")
    if submitted is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        submitted = value if isinstance(value, str) else None
    if principal is not None:
        if submitted and hmac.compare_digest(principal.csrf, submitted):
            return
    elif request.app.state.web.sessions.anon_check(request.cookies.get(ANON_CSRF_COOKIE), submitted):
        return
    raise HTTPException(status_code=403, detail="missing or wrong CSRF token; reload the page")


def allow(permission: str):
    """Dependency: a signed-in principal with ``permission``; 401/403 otherwise."""
    if permission not in PERMISSIONS:
        raise KeyError(permission)

    def dependency(request: Request) -> Principal:
        principal = load_principal(request)
        if principal is None:
            raise NotSignedIn()
        if not principal.can(permission):
            raise HTTPException(status_code=403, detail=f"your role does not allow this ({permission})")
        request.state.principal = principal
        return principal

    dependency.permission = permission  # read by the permission test and docs
    return Depends(dependency)
