"""Every role against every page and API route. The route list comes from the app:
a new route without a rule here fails ``test_every_route_has_a_rule``."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

from pepflow.web.security import ANON_CSRF_COOKIE

from .conftest import PASSWORD, Session

PUBLIC = "public"
CASE = {"social-worker", "leaving-care-worker", "personal-adviser"}
BS = {"business-support"}
TM = {"team-manager"}
READ_ALL = {"pep-coordinator", "virtual-school"}
OPS = {"operator"}
ADMIN = {"administrator"}
ALL = CASE | BS | TM | READ_ALL | OPS | ADMIN

# route name -> the roles that may call it (scope checks come on top)
EXPECTED: dict[str, set[str] | str] = {
    "openapi": PUBLIC, "swagger_ui_html": PUBLIC,
    "sign_in_page": PUBLIC, "sign_in": PUBLIC, "oidc_login": PUBLIC, "oidc_callback": PUBLIC,
    "reset_password_page": PUBLIC, "reset_password": PUBLIC,
    "sign_out": ALL, "me": ALL, "home": ALL,
    "search_user_tasks": CASE | BS | TM | READ_ALL, "get_user_task": CASE | BS | TM | READ_ALL,
    "get_user_task_form": CASE | BS | TM | READ_ALL,
    "claim_user_task": CASE | BS | TM, "unclaim_user_task": CASE | BS | TM, "complete_user_task": CASE | BS | TM,
    "get_draft": CASE | BS | TM, "save_draft": CASE | BS | TM, "delete_draft": CASE | BS | TM,
    "tasks_page": CASE | BS | TM | READ_ALL, "task_page": CASE | BS | TM | READ_ALL,
    "get_pep": CASE | BS | TM | READ_ALL, "download_document": CASE | BS | TM | READ_ALL,
    "pep_page": CASE | BS | TM | READ_ALL,
    "get_child": CASE | BS | TM | READ_ALL, "child_page": CASE | BS | TM | READ_ALL,
    "get_allocations": CASE | BS | TM | READ_ALL, "allocate": TM, "put_meeting_venue": CASE | TM, "put_return_comments": CASE | TM,
    "upload_school_form": CASE | BS,
    "reviews_page": BS, "review_page": BS, "review_decide": BS,
    "search_process_instances": OPS, "get_process_instance": OPS, "get_process_instance_xml": OPS,
    "cancel_process_instance": OPS, "search_incidents": OPS, "resolve_incident": OPS,
    "cancel_process_instances": OPS, "resolve_incidents": OPS,
    "operations_page": OPS, "instance_page": OPS,
    "get_dashboard": READ_ALL, "get_dashboard_csv": READ_ALL, "dashboard_page": READ_ALL,
    "forecast_page": READ_ALL, "forecast_chart": READ_ALL, "forecast_csv": READ_ALL,
    # the Virtual School's quality review and Pupil Premium Plus (issue 15)
    "pep_quality_page": CASE | BS | TM | READ_ALL, "rate_pep_quality": {"virtual-school"},
    "improve_pep": CASE | TM, "request_ppp": CASE | BS, "decide_ppp": {"virtual-school"},
    "record_ppp_impact": CASE | BS, "quality_criteria_page": READ_ALL, "save_quality_criterion": {"virtual-school"},
    "quality_dashboard_page": READ_ALL, "ppp_ledger_page": READ_ALL, "ppp_ledger_csv": READ_ALL,
    "list_users": ADMIN, "create_user": ADMIN, "unlock_user": ADMIN, "users_page": ADMIN,
    "disable_user": ADMIN, "enable_user": ADMIN, "revoke_sessions": ADMIN, "issue_password_reset": ADMIN,
    # issue 14: reassignment and cover; council events
    "colleagues": CASE | BS | TM | READ_ALL,
    "give_task": TM | {"pep-coordinator"}, "move_caseload": TM | {"pep-coordinator"},
    "list_absences": TM | {"pep-coordinator"}, "add_absence": TM | {"pep-coordinator"},
    "withdraw_absence": TM | {"pep-coordinator"}, "cover_page": TM | {"pep-coordinator"},
    "record_looked_after": CASE | BS | TM | {"pep-coordinator"}, "record_left_care": CASE | BS | TM | {"pep-coordinator"},
    "record_setting_changed": CASE | BS | TM | {"pep-coordinator"},
    "record_meeting_changed": CASE | BS | TM | {"pep-coordinator"}, "events_page": CASE | BS | TM | {"pep-coordinator"},
}

# one account per role, each with that role only
ROLE_USERS = {
    "social-worker": "st-0001", "leaving-care-worker": "st-0003", "personal-adviser": "st-0004",
    "business-support": "st-0011", "team-manager": "st-0040", "pep-coordinator": "st-0020", "virtual-school": "st-0021",
    "operator": "ops-only", "administrator": "admin-only",
}
PARAMS = {"user_task_key": "1", "pep_id": "PEP-NONE", "document_id": "1", "child_id": "C-NONE",
          "process_instance_key": "1", "incident_key": "1", "user_id": "999999",
          "request_id": "999999", "return_id": "999999",
          "staff_id": "ST-NONE", "absence_id": "999999"}
ROLE_DENIED = "your role does not allow"


def flat_routes(routes):
    """The app's routes, with included routers opened up (FastAPI keeps them
    as included-router objects; their own route list has the full paths)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from flat_routes(inner.routes)
        else:
            yield route


def app_routes(app):
    for route in flat_routes(app.routes):
        if isinstance(route, Mount):
            continue
        assert isinstance(route, (APIRoute, Route)), f"unknown kind of route {route!r}"
        if isinstance(route, (APIRoute, Route)):
            for method in sorted(route.methods - {"HEAD"}):
                yield route.name, method, re.sub(r"{(\w+)}", lambda m: PARAMS[m.group(1)], route.path)


def test_every_route_has_a_rule(world):
    names = {name for name, _m, _p in app_routes(world.app)}
    assert names - EXPECTED.keys() == set(), "routes without a permission rule"
    assert EXPECTED.keys() - names == set(), "rules for routes that do not exist"


def test_static_mounts_are_only_static(world):
    mounts = {r.path for r in flat_routes(world.app.routes) if isinstance(r, Mount)}
    assert mounts == {"/static", "/vendor/form-js", "/vendor/bpmn-js", "/vendor/swagger-ui"}


def _call(client, method, path, headers):
    body = {} if method in ("POST", "PUT") else None
    if path.endswith("/school-form"):
        return client.request(method, path, headers=headers, files={"file": ("x.docx", b"x")})
    return client.request(method, path, headers=headers, json=body, follow_redirects=False)


@pytest.fixture
def role_sessions(world):
    world.accounts.add("ops-only", password=PASSWORD, extra_roles=("operator",))
    world.accounts.add("admin-only", password=PASSWORD, extra_roles=("administrator",))
    sessions = {role: Session(world.app, username) for role, username in ROLE_USERS.items()}
    for role, s in sessions.items():
        assert set(s.get("/api/v1/me").json()["roles"]) == {role}
    yield sessions
    for s in sessions.values():
        s.close()


def test_every_role_against_every_route(world, role_sessions):
    checked = 0
    # sign-out last: it ends the session
    for name, method, path in sorted(app_routes(world.app), key=lambda r: r[0] == "sign_out"):
        rule = EXPECTED[name]
        if rule == PUBLIC:
            continue
        for role, s in role_sessions.items():
            response = _call(s.client, method, path, {"X-CSRF-Token": s.csrf})
            denied = response.status_code == 403 and ROLE_DENIED in response.text
            if role in rule:
                assert not denied, f"{role} should reach {method} {path}: {response.status_code} {response.text[:200]}"
                assert response.status_code < 500, f"{method} {path} as {role}: {response.text[:300]}"
            else:
                assert denied, f"{role} must not reach {method} {path}: {response.status_code} {response.text[:200]}"
            checked += 1
    assert checked > 100


def test_anonymous_is_turned_away_everywhere(world):
    from fastapi.testclient import TestClient

    with TestClient(world.app) as client:
        for name, method, path in app_routes(world.app):
            if EXPECTED[name] == PUBLIC:
                continue
            response = _call(client, method, path, {})
            if method == "GET":
                expected = 401 if path.startswith("/api/") else 303
                assert response.status_code == expected, f"{method} {path}: {response.status_code}"
                if expected == 303:
                    assert response.headers["location"].startswith("/sign-in")
            else:
                assert response.status_code in (401, 403), f"{method} {path}: {response.status_code}"


def test_state_changing_routes_need_the_csrf_token(world, role_sessions):
    for name, method, path in sorted(app_routes(world.app), key=lambda r: r[0] == "sign_out"):
        if method == "GET" or EXPECTED[name] == PUBLIC:
            continue
        role = sorted(EXPECTED[name])[0]
        s = role_sessions[role]
        for headers in ({}, {"X-CSRF-Token": "forged"}):
            response = _call(s.client, method, path, headers)
            assert response.status_code == 403 and "CSRF" in response.text, f"{method} {path}: {response.status_code}"


def test_sign_in_form_needs_its_csrf_token(world):
    from fastapi.testclient import TestClient

    with TestClient(world.app) as client:
        client.get("/sign-in")
        assert client.cookies.get(ANON_CSRF_COOKIE)
        response = client.post("/sign-in", data={"username": "st-0001", "password": PASSWORD, "csrf_token": "nope"},
                               follow_redirects=False)
        assert response.status_code == 403
