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
TEAM_MANAGER = frozenset({StaffRole.TEAM_MANAGER})

# What each role may do. Scopes (the children allocated to a caseworker today, a
# locality's team) are checked per record, at each request (pepflow/web/access.py).
PERMISSIONS: dict[str, frozenset[StaffRole]] = {
    "signed-in": frozenset(StaffRole),
    "tasks:read": CASEWORKER_ROLES | {StaffRole.BUSINESS_SUPPORT} | TEAM_MANAGER | READ_ALL_ROLES,
    "tasks:work": CASEWORKER_ROLES | {StaffRole.BUSINESS_SUPPORT} | TEAM_MANAGER,
    "pep:read": CASEWORKER_ROLES | {StaffRole.BUSINESS_SUPPORT} | TEAM_MANAGER | READ_ALL_ROLES,
    "pep:upload": CASEWORKER_ROLES | {StaffRole.BUSINESS_SUPPORT},
    # review a returned form: accept, accept with edits, ask the school again (issue 12)
    "returns:review": frozenset({StaffRole.BUSINESS_SUPPORT}),
    # the PEP's meeting details in the records (the owner, or the team manager)
    "pep:write": CASEWORKER_ROLES | TEAM_MANAGER,
    # allocate a worker to a child of the locality
    "allocations:write": TEAM_MANAGER,
    # give a task to a colleague, cover an absence, move a caseload (the child's scope
    # is checked per child: the team manager's locality; the PEP co-ordinator's all)
    # record a council event (entry into care, leaving care, change of school, a
    # meeting moved/cancelled/not held) for a child the person may see
    "events:write": CASEWORKER_ROLES | {StaffRole.BUSINESS_SUPPORT} | TEAM_MANAGER | {StaffRole.PEP_COORDINATOR},
    "tasks:reassign": TEAM_MANAGER | frozenset({StaffRole.PEP_COORDINATOR}),
    "dashboard": READ_ALL_ROLES,
    # the Virtual School's quality review and Pupil Premium Plus (issue 15): the
    # Virtual School rates, edits criteria and decides; the child's worker and
    # business support (who type up the school's requests) request PP+ and record its impact
    "quality:rate": frozenset({StaffRole.VIRTUAL_SCHOOL}),
    "ppp:request": CASEWORKER_ROLES | {StaffRole.BUSINESS_SUPPORT},
    "ppp:decide": frozenset({StaffRole.VIRTUAL_SCHOOL}),
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
    #: the login a task's assignee is (the staff record's Identity login); the one
    #: place the web maps an account to it (pepflow.ownership.login_of)
    login: str | None = None
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
    def is_team_manager(self) -> bool:
        return StaffRole.TEAM_MANAGER in self.roles

    @property
    def candidate_groups(self) -> list[str]:
        return [self.candidate_group] if self.candidate_group else []

    def is_assignee(self, task) -> bool:
        return bool(self.login) and task.assignee == self.login


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
    """Principals by (account, session version) for a short while. The default is no
    cache at all (``ttl`` 0): a disabled account, a revoked session, a new role or
    team takes effect at the next request, whichever process changed it."""

    def __init__(self, ttl: float = 0.0) -> None:
        self.ttl = ttl
        self._items: dict[tuple[int, int], tuple[float, Principal | None]] = {}

    def get(self, key: tuple[int, int]):
        if self.ttl <= 0:
            return None
        item = self._items.get(key)
        if item and item[0] > time.monotonic():
            return item
        return None

    def put(self, key: tuple[int, int], principal: Principal | None) -> None:
        if self.ttl <= 0:
            return
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
    login = None
    if account.staff_id:
        try:
            staff = web.store.staff(account.staff_id)
        except UnknownStaff:
            staff = None
        if staff is not None:
            roles |= set(staff.roles)
            name, team, group = staff.name, staff.team, staff.candidate_group
            login = staff.login or staff.email
    return Principal(account.id, account.username, staff_id, name, frozenset(roles), team, group, login)


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
