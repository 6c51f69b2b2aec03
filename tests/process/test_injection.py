"""Injection suite: every user task of the diagram, completed with what a person must
not be able to send, is refused - and nothing changes, in the records store or in the
engine (every table compared before and after).

Generated, not listed: the user tasks are the diagram's (``bpmn/pep.bpmn``), reached
by playing a PEP year; the attempts come from each task's form (``forms/``) and the
process's variable contract - every variable the process owns, keys no form has, a
wrong type for every field, another child's ids for every option field. A new task,
form field or variable is covered without touching this file.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from pepflow.domain.variables import PEP_VARIABLES, Kind
from pepflow.engine.errors import InvalidVariables
from pepflow.roleplay import RolePlayer

from .conftest import PepWorld

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 9, 14, 7, 0, tzinfo=timezone.utc)


def diagram_user_tasks() -> set[str]:
    xml = (ROOT / "bpmn" / "pep.bpmn").read_text()
    return set(re.findall(r'<bpmn:userTask id="(\w+)"', xml))


def state(world: PepWorld) -> dict[str, list]:
    """Every row of every table (records store and engine share the database)."""
    engine = sa.create_engine(world.url)
    try:
        meta = sa.MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            return {name: sorted(json.dumps(list(row), default=str) for row in conn.execute(sa.select(table)))
                    for name, table in meta.tables.items()}
    finally:
        engine.dispose()


def _sample(kind: Kind, variables: dict):
    """A well-formed value of ``kind`` (so only the rule "a person may not set it" refuses it)."""
    return {
        Kind.IDENTIFIER: "PEP-C-0002-2026-AUT", Kind.IDENTIFIERS: ["CT-0001"], Kind.DATE: "2026-10-01",
        Kind.DATETIME: "2026-10-01T09:00:00Z", Kind.DATE_OR_DATETIME: "2026-10-01", Kind.DATES: ["2026-10-01"],
        Kind.BOOLEAN: True, Kind.CODE: "school-age", Kind.GROUPS: ["business-support-south"], Kind.INTEGER: 1,
        Kind.LOGIN: "bartholomew.nettleby@council.example.org",
        Kind.OPTIONS: [{"label": "Foster carer (CT-0001)", "value": "CT-0001"}],
    }[kind]


WRONG = {  # per component type: values of another type or outside the field's rules
    "textfield": [True, 1, ["x"], {"a": 1}, "x" * 20_000],
    "textarea": [True, 1, ["x"], "x" * 20_000],
    "number": ["12", True, [1], float("inf") if False else "NaN"],
    "checkbox": ["true", 1, "yes", [True]],
    "radio": ["true", "maybe", 1, [True]],
    "select": ["not-an-option", 1, True, ["typing-errors"], "Typing errors"],
    "taglist": ["ES-0001", [1], ["not-an-id"], [["ES-0001"]], {"value": "ES-0001"}],
    "checklist": ["x", [1]],
    "datetime": [True, 20261001, "tomorrow", "2026-02-30", "2026-10-01T09:00:00+25:00", ["2026-10-01"]],
}
DATE_ONLY_WRONG = ["2026-10-01T09:00:00Z", "01/10/2026"]
DATETIME_WRONG = ["2026-10-01", "2026-10-01T09:00", "2020-01-06T09:00:00Z"]  # no offset; in the past
OTHER_CASELOAD = ["CT-0001", "CT-0007", "ES-0004", "ST-0002", "ST-0004", "C-0002"]  # not C-0001's


def attempts(world: PepWorld, task, valid: dict) -> list[tuple[str, dict]]:
    form = world.engine.form(task.form_id)
    keys = {f.key for f in form.fields}
    tried: list[tuple[str, dict]] = []
    for name, kind in PEP_VARIABLES.items():  # every variable the process owns
        if name not in keys:
            tried.append((f"process variable {name}", {**valid, name: task.variables.get(name, _sample(kind, task.variables))}))
            tried.append((f"process variable {name} (another value)", {**valid, name: _sample(kind, task.variables)}))
    for name in ("venue", "childName", "notes", "__proto__", "constructor", "a.b", "pepId ", ""):
        tried.append((f"unknown key {name!r}", {**valid, name: "x"}))
    for field in form.fields:
        if field.kind == "expression":
            tried.append((f"{field.key}: not what the form computes", {**valid, field.key: ["2030-01-01"]}))
            continue
        wrong = list(WRONG.get(field.kind, []))
        if field.kind == "datetime":
            wrong += DATE_ONLY_WRONG if field.subtype == "date" else DATETIME_WRONG
        if field.kind in ("taglist", "checklist"):
            wrong += [[other] for other in OTHER_CASELOAD] + [[*valid.get(field.key, []), other] for other in OTHER_CASELOAD]
            wrong += [[*valid.get(field.key, []), *valid.get(field.key, [])[:1]]]  # an option twice
        if field.kind in ("select", "radio") and field.values_key:
            wrong += OTHER_CASELOAD
        for value in wrong:
            tried.append((f"{field.key} = {str(value)[:40]!r}", {**valid, field.key: value}))
        if field.required and field.key in valid:  # (a field the answers hide is not required)
            tried.append((f"{field.key} missing", {k: v for k, v in valid.items() if k != field.key}))
    return tried


def _school_returns_a_flagged_form(world: PepWorld) -> None:
    from datetime import date

    from pepflow.documents import SchoolReturn
    from pepflow.documents.fill import edit_document, fill_form, set_text
    from pepflow.domain.enums import DocumentKind

    pep_id = world.engine.instance(next(iter(
        i.process_instance_key for i in world.engine.instances(state="ACTIVE")))).variables["pepId"]
    form = world.store.latest_document(pep_id, DocumentKind.FORM)
    filled = fill_form(world.store.document_content(form.id), SchoolReturn(sdq_score=12, completed_on=date(2026, 9, 15)))
    flagged = edit_document(filled, lambda root: set_text(root, "school.attendance_percent", "ninety"))
    world.events.form_returned(pep_id, flagged, actor="ES-0001 designated teacher")


@pytest.mark.slow
async def test_every_user_task_refuses_every_injection_and_nothing_changes(tmp_path, world_factory):
    world = world_factory(f"sqlite:///{tmp_path / 'injection.sqlite3'}", START)
    roles = RolePlayer(world.store, return_pep_at_first_check=True)  # the loop back to type-up is reached too
    published = world.engine.publish_message("child-looked-after", "C-0001", {
        "childId": "C-0001", "enteredCareOn": "2026-09-14", "emergency": False})
    [key] = published.started_instances
    await world.runtime.run_until_idle()
    seen: set[str] = set()
    refused = 0
    for _ in range(200):
        tasks = world.engine.user_tasks(process_instance_key=key)
        if not tasks and "SchoolFormReturnedEvent" in world.engine.instance(key).active_elements:
            # the school returns the form with an answer the read-back cannot read, so
            # business support's review (ReviewReturnedFormTask) is reached too
            _school_returns_a_flagged_form(world)
            await world.runtime.run_until_idle()
            continue
        if not tasks:
            due = world.engine.next_timer_due()
            if due is None or seen >= diagram_user_tasks():
                break
            await world.runtime.advance(max(due, world.clock.now()) - world.clock.now())
            continue
        for task in tasks:
            valid = roles.variables_for(task, world.clock.now())
            if task.element_id not in seen:
                before = state(world)
                for label, variables in attempts(world, task, valid):
                    try:
                        world.engine.complete_user_task(task.user_task_key, variables, actor=roles.actor_for(task))
                    except InvalidVariables as exc:
                        message = str(exc)
                    else:
                        raise AssertionError(f"{task.element_id}: accepted {label}")
                    assert "Poppy" not in message and "x" * 100 not in message, label
                    refused += 1
                assert state(world) == before, f"{task.element_id}: a refused completion changed something"
                seen.add(task.element_id)
            world.engine.complete_user_task(task.user_task_key, valid, actor=roles.actor_for(task))
            await world.runtime.run_until_idle()
        if seen >= diagram_user_tasks() and not world.engine.user_tasks(process_instance_key=key):
            break
    assert seen == diagram_user_tasks(), f"user tasks never reached: {diagram_user_tasks() - seen}"
    assert refused > 300


async def test_the_web_refuses_what_the_engine_refuses_and_audits_nothing(tmp_path, world_factory):
    """The same check behind the web route (one task, the worst attempts)."""
    from fastapi.testclient import TestClient

    from pepflow.web import WebBackend, WebSettings, create_app
    from pepflow.web.accounts import Accounts
    from pepflow.web.seed import seed_sample_accounts

    world = world_factory(f"sqlite:///{tmp_path / 'web.sqlite3'}", START)
    world.engine.publish_message("child-looked-after", "C-0001", {
        "childId": "C-0001", "enteredCareOn": "2026-09-14", "emergency": False})
    await world.runtime.run_until_idle()
    [task] = world.engine.user_tasks()
    accounts = Accounts(world.url, world.clock)
    seed_sample_accounts(accounts, world.store, "correct-horse-battery-staple")
    app = create_app(WebBackend(world.engine, world.store, world.casework, world.clock, accounts, world.url, tmp_path),
                     WebSettings(secret_key="x" * 40, _env_file=None))
    from tests.web.conftest import Session

    sw = Session(app, "st-0001")
    valid = RolePlayer(world.store).variables_for(task, world.clock.now())
    before = state(world)
    for variables in ({**valid, "pepId": "PEP-C-0002-2026-AUT"}, {**valid, "ownerAssignee": "x@y.z"},
                      {**valid, "inviteeIds": ["CT-0001"]}, {**valid, "venue": "Room 2, Poppy's school"},
                      {**valid, "meetingAt": "next week"}):
        response = sw.post(f"/api/v1/user-tasks/{task.user_task_key}/completion", json={"variables": variables})
        assert response.status_code == 422, response.text
        assert "Poppy" not in response.text
    after = state(world)
    # viewing the task list is audited; nothing else may have changed
    assert {k: v for k, v in after.items() if k != "audit_log"} == {k: v for k, v in before.items() if k != "audit_log"}
    sw.close()
    accounts.close()
