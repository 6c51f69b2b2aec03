"""A person working a Camunda Form in Tasklist: form-js in Debian's Chromium, driven by
Playwright as a user drives it - typing into the date and time pickers, picking tags
from the list, ticking boxes, choosing radio buttons and select options - then
Tasklist's "Complete task", which is ``form.submit()``: form-js validates and hands
back the data that completes the task.

The form gets only what Zeebe hands Tasklist: the schema the user task links
(``formId``) and the task's variables. Nothing of the product's own web.

What a role-player means to enter arrives as process-variable values (an instant for
a date-time field, a list of ids for a tag list...); :func:`typed` turns each into
what a person types or picks, in the browser's locale (en-GB: ``dd/mm/yyyy``, 24 h,
Europe/London), and :func:`same_value` checks that form-js gave back what was meant,
at the precision of the field (a date field keeps the London date of an instant).
"""

from __future__ import annotations

import queue
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
VIEWER = ROOT / "node_modules" / "@bpmn-io" / "form-js" / "dist" / "form-viewer.umd.js"
STYLES = ROOT / "node_modules" / "@bpmn-io" / "form-js" / "dist" / "assets" / "form-js.css"
LONDON = ZoneInfo("Europe/London")
#: how long a field may take to appear (a condition re-rendering the form)
APPEAR_MS = 5_000
ENTRY_ATTEMPTS = 3  # a value the form does not show after entering is entered again, up to this

#: component types that hold no value a person enters
DISPLAY_ONLY = {"text", "html", "image", "spacer", "separator", "button", "iframe", "documentPreview", "group", "dynamiclist", "table"}

_IMPORT = """
async ([schema, variables]) => {
  document.body.innerHTML = '<div id="form"></div>';
  window.form = new FormViewer.Form({ container: document.getElementById('form') });
  await window.form.importSchema(schema, variables);
  return [window.form._id, window.form._getState().data];
}
"""

_SUBMIT = """
async () => {
  // the person moves to "Complete task": the field they left blurs, and form-js's
  // effects of the last entry run (Preact runs them after the next frames) - a
  // person's click never comes sooner than that
  document.activeElement && document.activeElement.blur();
  for (let i = 0; i < 3; i++) await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  const { data, errors } = window.form.submit();
  const shown = [...document.querySelectorAll('#form .fjs-form-field')]
    .filter(e => e.offsetParent !== null).length;
  return { data, errors, shown, text: document.getElementById('form').innerText };
}
"""


@dataclass
class Worked:
    """What happened to one form: the data form-js submitted, its validation errors,
    and what went wrong on the way (each a sentence)."""

    data: dict[str, Any]
    errors: dict[str, list[str]]
    problems: list[str] = field(default_factory=list)
    entered: list[str] = field(default_factory=list)  # "meetingAt: typed 21/09/2026 10:00"
    text: str = ""
    prefilled: dict[str, Any] = field(default_factory=dict)  # fields that opened with a value

    @property
    def ok(self) -> bool:
        return not self.problems and not any(self.errors.values())


def components(schema: dict) -> list[dict]:
    """Every component, in the order a person meets them (top to bottom)."""
    out: list[dict] = []

    def walk(items: list[dict]) -> None:
        for c in items:
            out.append(c)
            walk(c.get("components", []))

    walk(schema.get("components", []))
    return out


def _instant(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=LONDON)


def _local_day(value: str) -> date:
    """The London date a value means: a date itself, or an instant's London date."""
    if len(value) == 10:
        return date.fromisoformat(value)
    instant = _instant(value)
    if instant is None:
        raise ValueError(f"{value!r} is neither a date nor a date-time")
    return instant.astimezone(LONDON).date()


def typed(component: dict, value: Any) -> str:
    """What a person types into a datetime field for ``value``: ``dd/mm/yyyy`` and/or
    ``HH:MM`` (the en-GB browser's formats)."""
    subtype = component.get("subtype", "date")
    if subtype == "date":
        return f"{_local_day(value):%d/%m/%Y}"
    instant = _instant(value)
    if instant is None:
        raise ValueError(f"{component['key']}: {value!r} is not a date-time")
    local = instant.astimezone(LONDON)
    return f"{local:%d/%m/%Y} {local:%H:%M}" if subtype == "datetime" else f"{local:%H:%M}"


def same_value(meant: Any, given: Any) -> bool:
    """Did form-js give back what was meant? Dates at the field's precision: a date
    (``2026-09-21``) keeps the London date of an instant; a date-time is the same instant."""
    if isinstance(meant, list) and isinstance(given, list):
        return len(meant) == len(given) and all(same_value(m, g) for m, g in zip(meant, given))
    if isinstance(meant, str) and isinstance(given, str) and meant != given:
        if len(given) == 10 and given[4] == "-":
            try:
                return _local_day(meant) == date.fromisoformat(given)
            except ValueError:
                return False
        a, b = _instant(meant), _instant(given)
        return a is not None and b is not None and a == b
    return meant == given


class FormUser:
    """Works one form on a Playwright page (sync API) as a person would."""

    def __init__(self, page) -> None:
        self.page = page

    def work(self, schema: dict, variables: dict, answers: dict, now: datetime) -> Worked:
        page = self.page
        page.clock.set_fixed_time(now)  # the browser's today is the task's day (forms refuse past dates)
        form_id, opened = page.evaluate(_IMPORT, [schema, variables])
        problems: list[str] = []
        entered: list[str] = []
        every = components(schema)
        by_key = {c["key"]: c for c in every if c.get("key")}
        # what the form showed before anyone typed: values taken from the process variables
        prefilled = {
            k: v for k, v in opened.items()
            if k in by_key and by_key[k].get("type") not in DISPLAY_ONLY | {"expression"} and v not in (None, "", [], False)
        }
        for key in answers:
            if key not in by_key:
                problems.append(f"{key}: the process needs it but the form has no field for it")
        for c in every:
            if c.get("valuesKey"):
                options = variables.get(c["valuesKey"])
                if not isinstance(options, list) or not options:
                    problems.append(f"{c.get('key')}: its options ({c['valuesKey']}) are not a non-empty list in the task's variables")
        for c in every:
            key = c.get("key")
            if key not in answers or c.get("type") in DISPLAY_ONLY or c.get("type") == "expression":
                continue
            dom_id = f"fjs-form-{form_id}-{c['id']}"
            shown = page.evaluate("(key) => window.form._getState().data[key]", key)
            if shown not in (None, "", []) and same_value(answers[key], shown):
                entered.append(f"{key}: kept {shown!r} as shown")
                continue
            try:
                # a person sees the value in the field before going on, and enters it
                # again when the field does not show it (on a loaded machine a keystroke
                # can land before form-js has drawn what it belongs to); said, never hidden
                for attempt in range(1, ENTRY_ATTEMPTS + 1):
                    how = self._enter(c, page.locator(f'[id="{dom_id}"]'), dom_id, answers[key], variables)
                    shown = self._settled(key, answers[key])
                    if same_value(answers[key], shown) or attempt == ENTRY_ATTEMPTS:
                        break
                    entered.append(f"{key}: {how}, but the form showed {shown!r}: entered again")
                entered.append(f"{key}: {how}")
                if not same_value(answers[key], shown):
                    problems.append(f"{key}: {answers[key]!r} was entered {ENTRY_ATTEMPTS} times but the form holds {shown!r}")
            except _CannotEnter as exc:
                problems.append(f"{key}: {exc}")
            except Exception as exc:  # noqa: BLE001 - Playwright's timeouts: the field never appeared
                hidden = (c.get("conditional") or {}).get("hide")
                why = f"the form hides it ({hidden})" if hidden else f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
                problems.append(f"{key}: {answers[key]!r} could not be entered: {why}")
        result = page.evaluate(_SUBMIT)
        data = result["data"]
        for key, meant in answers.items():
            if key in by_key and key in data and not same_value(meant, data[key]):
                problems.append(f"{key}: {meant!r} was entered but form-js submitted {data[key]!r}")
            elif key in by_key and key not in data:
                problems.append(f"{key}: {meant!r} was entered but form-js submitted nothing for it")
        return Worked(data=data, errors=result["errors"] or {}, problems=problems, entered=entered, text=result["text"],
                      prefilled=prefilled)

    def _settled(self, key: str, meant: Any, wait_s: float = 2.0) -> Any:
        """The form's value of ``key`` once it holds ``meant`` (form-js applies an entry
        in its next render), or whatever it holds after ``wait_s``."""
        deadline = time.monotonic() + wait_s
        while True:
            shown = self.page.evaluate("(key) => window.form._getState().data[key]", key)
            if same_value(meant, shown) or time.monotonic() > deadline:
                return shown
            self.page.wait_for_timeout(20)

    # ------------------------------------------------------------------ fields
    def _options(self, c: dict, variables: dict) -> list[dict]:
        return list(variables.get(c["valuesKey"]) or []) if c.get("valuesKey") else list(c.get("values") or [])

    def _label_of(self, c: dict, value: Any, variables: dict) -> tuple[int, str]:
        for index, option in enumerate(self._options(c, variables)):
            if option.get("value") == value:
                return index, option.get("label", "")
        raise _CannotEnter(f"{value!r} is not an option the form offers")

    def _enter(self, c: dict, locator, dom_id: str, value: Any, variables: dict) -> str:
        kind = c.get("type")
        page = self.page
        if kind in ("textfield", "textarea", "number"):
            locator.fill("" if value is None else str(value), timeout=APPEAR_MS)
            return f"typed {value!r}"
        if kind == "checkbox":
            locator.set_checked(bool(value), timeout=APPEAR_MS)
            return "ticked" if value else "left unticked"
        if kind == "checklist":
            picked = []
            for v in value or []:
                index, label = self._label_of(c, v, variables)
                page.locator(f'[id="{dom_id}-{index}"]').check(timeout=APPEAR_MS)
                picked.append(label)
            return f"ticked {picked}"
        if kind == "radio":
            index, label = self._label_of(c, value, variables)
            page.locator(f'[id="{dom_id}-{index}"]').check(timeout=APPEAR_MS)
            return f"chose {label!r}"
        if kind == "select":
            _index, label = self._label_of(c, value, variables)
            page.keyboard.press("Escape")  # as a person closes a date picker still open above it
            page.locator(f'[id="{dom_id}"]').focus(timeout=APPEAR_MS)  # tabbing in opens the list
            if not page.locator(".fjs-select-anchor .fjs-dropdownlist-item").count():
                page.locator(f'[id="{dom_id}-display"]').click(timeout=APPEAR_MS)
            _item(page, ".fjs-select-anchor", label).click(timeout=APPEAR_MS)
            return f"selected {label!r}"
        if kind == "taglist":
            picked = []
            shown = page.evaluate("(key) => window.form._getState().data[key]", c["key"]) or []
            for v in shown:
                if v not in (value or []):  # a tag left from before: removed as a person removes it
                    _index, label = self._label_of(c, v, variables)
                    tag = page.locator(f'[id="{dom_id}"]').locator("xpath=ancestor::div[contains(@class,'fjs-form-field')]")
                    tag.locator(".fjs-taglist-tag").filter(has_text=label).locator(".fjs-taglist-tag-remove").click(timeout=APPEAR_MS)
                    picked.append(f"removed {label}")
            for v in value or []:
                if v in shown:
                    continue
                _index, label = self._label_of(c, v, variables)
                locator.click(timeout=APPEAR_MS)
                locator.fill(label[-12:], timeout=APPEAR_MS)  # types part of it, as people search
                _item(page, ".fjs-taglist-anchor", label).click(timeout=APPEAR_MS)
                picked.append(label)
            return f"picked {picked}"
        if kind == "datetime":
            subtype = c.get("subtype", "date")
            text = typed(c, value)
            if subtype in ("date", "datetime"):
                from playwright.sync_api import expect  # imported where Playwright runs: the module loads without it

                day = page.locator(f'[id="{dom_id}-date"]')
                day.click(timeout=APPEAR_MS)
                day.fill(text.split(" ")[0])
                expect(day).to_have_value(text.split(" ")[0], timeout=APPEAR_MS)
                day.press("Enter")
            if subtype in ("time", "datetime"):
                clock = page.locator(f'[id="{dom_id}-time"]')
                clock.click(timeout=APPEAR_MS)
                clock.fill(text.split(" ")[-1])
                # Typing closes form-js's list of times on its next render. Enter while
                # the list is still drawn chooses the list's highlighted time (the one
                # entered before, or 12:00), not the typed one; a person waits for the
                # list to go and moves on, and leaving the field keeps what was typed.
                anchor = clock.locator("xpath=ancestor::div[contains(@class,'fjs-timepicker-anchor')]")
                anchor.locator(".fjs-dropdownlist").wait_for(state="detached", timeout=APPEAR_MS)
                clock.press("Tab")
            else:
                page.locator(f'[id="{dom_id}-date"]').press("Tab")
            return f"typed {text}"
        raise _CannotEnter(f"the rehearsal cannot enter a {kind!r} field; teach FormUser how a person fills it")


class _CannotEnter(Exception):
    pass


def _item(page, anchor: str, label: str):
    """The dropdown entry whose whole text is ``label`` (not one that merely contains it)."""
    return page.locator(f"{anchor} .fjs-dropdownlist-item").filter(has_text=re.compile(f"^{re.escape(label)}$"))


class Browser(threading.Thread):
    """One Chromium page with form-js, in its own thread (Playwright's sync API cannot
    run inside the asyncio loop the demo runs); ``work()`` is called from any thread."""

    def __init__(self) -> None:
        super().__init__(name="tasklist-rehearsal", daemon=True)
        self.jobs: queue.Queue = queue.Queue()

    def run(self) -> None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            # a council's browser: English time and dates (form-js writes the browser's offset)
            page = browser.new_page(timezone_id="Europe/London", locale="en-GB")
            page.set_content("<!doctype html><html><head></head><body></body></html>")
            page.add_style_tag(path=str(STYLES))
            page.add_script_tag(path=str(VIEWER))
            user = FormUser(page)
            while True:
                job = self.jobs.get()
                if job is None:
                    break
                args, answer = job
                try:
                    answer.put(("ok", user.work(*args)))
                except Exception as exc:  # noqa: BLE001 - handed back to the caller
                    answer.put(("error", exc))
            browser.close()

    def work(self, schema: dict, variables: dict, answers: dict, now: datetime) -> Worked:
        answer: queue.Queue = queue.Queue()
        self.jobs.put(((schema, variables, answers, now), answer))
        kind, value = answer.get(timeout=120)
        if kind == "error":
            raise value
        return value

    def close(self) -> None:
        self.jobs.put(None)
        self.join(30)
