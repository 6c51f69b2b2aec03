"""Tasklist rehearsal: every user task a demo year reaches, worked as in Camunda Tasklist.

Tasklist renders a task's Camunda Form with form-js from the process variables only
(nothing of the product's own web); a person fills it in and presses "Complete task",
which is form-js's ``submit()`` - its validation, then the data that completes the
task. Here, for each user task ``pep demo`` reaches in a simulated year:

1. the form the diagram links (``formId``) and the task's variables - what Zeebe hands
   Tasklist - go into form-js (``@bpmn-io/form-js``, the UMD viewer) in Debian's
   Chromium, with the browser in England's time zone and locale on the simulated day;
2. every option list a form reads (``valuesKey``) must be a non-empty list in those
   variables, without a person's name in any label;
3. what the role-player (``pepflow.roleplay``) decides is entered as a person enters it
   (:mod:`tests.tasklist.form_user`): the date typed into the date picker, the time into
   the time picker, tags picked from the list, a radio button clicked and then the
   field it reveals, boxes ticked; every value the process needs must have a field;
4. form-js must report no validation error and give back what was entered; only the
   data it submits completes the task, so the process runs on with exactly what
   Tasklist would have sent.

The user tasks are discovered (the diagram's ``bpmn:userTask`` elements, and whatever
the demo reaches), not listed: a new user task fails here until the demo reaches it
and its form can be worked from process variables alone.
"""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import datetime

import pytest

from pepflow.engine.runtime import Engine

from .form_user import CHROMIUM, LONDON, ROOT, VIEWER, Browser, components

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"

#: user tasks of the diagram that a demo year does not reach, with the reason; each is
#: rehearsed elsewhere or is a gap to close
NOT_IN_A_DEMO_YEAR: dict[str, str] = {
    # the demo's Virtual School rates green or amber; red and the improvement it asks
    # for are played in tests/process/test_quality_cycle.py and in the browser
    # (tests/web/test_quality_browser.py)
    "ImprovePepTask": "a demo year rates no PEP red",
}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium (/usr/bin/chromium) is not installed"),
    pytest.mark.skipif(not VIEWER.exists(), reason="node_modules is absent: run `npm ci --ignore-scripts`"),
]


def diagram_user_tasks() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "bpmn").glob("*.bpmn"):
        found |= {e.get("id") for e in ET.parse(path).getroot().iter(f"{BPMN}userTask")}
    return found


def people_names(tmp_path) -> set[str]:
    """Every person's name in the sample data: none may appear in an option label."""
    from pepflow.clock import SimulationClock
    from pepflow.sample_data import load_sample_data
    from pepflow.store import RecordsStore
    from pepflow.store.migrate import migrate

    url = f"sqlite:///{tmp_path / 'names.sqlite3'}"
    migrate(url)
    store = RecordsStore(url, SimulationClock(datetime(2026, 9, 1, tzinfo=LONDON)))
    try:
        load_sample_data(store)
        names = {s.name for s in store.all_staff() if s.name}
        names |= {c.name for child in store.children() for c in store.contacts_for(child.id) if c.name}
        names |= {s.designated_teacher_name for s in store.settings() if s.designated_teacher_name}
        names |= {f"{c.given_name} {c.family_name}" for c in store.children()}
    finally:
        store.close()
    return names


def test_every_user_task_of_a_demo_year_works_in_form_js_with_process_variables_only(tmp_path, monkeypatch, capsys):
    from pepflow.demo import run_demo

    names = people_names(tmp_path)
    browser = Browser()
    browser.start()
    lines: list[str] = []
    per_task: Counter[str] = Counter()
    visits: Counter[tuple] = Counter()
    original = Engine.complete_user_task

    def through_tasklist(self, user_task_key, variables=None, *, actor=None):
        task = self.user_task(user_task_key)
        schema = json.loads(json.dumps(self.form(task.form_id).schema))
        # what Zeebe hands Tasklist: the task's variables, as JSON
        handed = json.loads(json.dumps(task.variables))
        now = self.clock.now()
        worked = browser.work(schema, handed, dict(variables or {}), now)
        for c in components(schema):
            for option in handed.get(c.get("valuesKey") or "", None) or []:
                if any(name in str(option.get("label")) for name in names):
                    worked.problems.append(f"{c['key']}: a person's name in the option {option}")
        visit = (task.variables.get("pepId"), task.element_id)
        visits[visit] += 1
        if visits[visit] == 1 and worked.prefilled:
            # the first time a PEP reaches a task its form must open empty: a value
            # there came from an earlier task (last term's, last round's) and would be
            # submitted as this one's answer by a person who did not notice it
            worked.problems.append(f"opened with values from earlier tasks: {worked.prefilled}")
        if task.element_id == "TypeUpPepTask" and handed.get("returnReasonCode"):
            # sent back: business support sees why, not only a task that came back
            if "Sent back for changes by the social worker:" not in worked.text:
                worked.problems.append("sent back for changes, but the form does not say why")
        errors = {k: v for k, v in worked.errors.items() if v}
        where = f"{task.element_id} {task.variables.get('pepId', '')} on {now.astimezone(LONDON):%d/%m/%Y}"
        verdict = "ok" if worked.ok and not errors else "FAILED"
        lines.append(f"  {len(lines) + 1:3} {verdict:6} {where}: " + "; ".join(worked.entered))
        if verdict != "ok":
            raise AssertionError(
                f"{where}: form-js errors {errors}; problems {worked.problems}\n"
                f"variables handed to the form: {json.dumps(handed, sort_keys=True)}\nform as shown:\n{worked.text}"
            )
        per_task[task.element_id] += 1
        # only what form-js submitted completes the task, as Tasklist does
        fields = {c["key"] for c in components(schema) if c.get("key")}
        return original(self, user_task_key, {k: v for k, v in worked.data.items() if k in fields}, actor=actor)

    monkeypatch.setattr(Engine, "complete_user_task", through_tasklist)
    try:
        result = asyncio.run(run_demo(tmp_path / "demo"))
    finally:
        browser.close()
        with capsys.disabled():
            print("\nTasklist rehearsal, one line per user task completed through form-js:")
            print("\n".join(lines))
            print("Tasklist rehearsal, per user task:")
            for element in sorted(diagram_user_tasks() | set(per_task)):
                reason = NOT_IN_A_DEMO_YEAR.get(element)
                status = f"{per_task[element]:3} completed" if per_task[element] else f"not reached ({reason or 'no reason given'})"
                print(f"  {element:32} {status}")

    assert result.incidents == []
    assert result.final_peps > 0
    reached = set(per_task)
    assert reached == diagram_user_tasks() - set(NOT_IN_A_DEMO_YEAR), (
        "user tasks of the diagram not rehearsed in a demo year: "
        f"{sorted(diagram_user_tasks() - reached - set(NOT_IN_A_DEMO_YEAR))}"
    )
