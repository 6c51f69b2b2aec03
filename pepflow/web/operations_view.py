"""What the operations view shows of the engine (issue 14, point 5): instance search,
element names, visit counts, the history as a tree with durations, and incidents in
words. Operators see identifiers, dates, flags and codes - never a child's name or
notes (variables go through :func:`pepflow.web.service.operator_view`)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from pepflow.casework import at_local
from pepflow.engine.queries import InstanceFilter, search_instances

from . import words

STATES = ("ACTIVE", "COMPLETED", "CANCELED")
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
CONTAINERS = {"subProcess", "process"}


@dataclass
class Search:
    """The operations search as submitted; ``problems`` say what was refused and why."""

    child: str = ""
    pep: str = ""
    state: str = ""
    element: str = ""
    started_from: str = ""
    started_to: str = ""
    error: str = ""
    variable: str = ""
    value: str = ""
    incidents_only: bool = False
    problems: list[str] = field(default_factory=list)

    def query(self) -> dict[str, str]:
        keys = ("child", "pep", "state", "element", "started_from", "started_to", "error", "variable", "value")
        out = {k: getattr(self, k) for k in keys if getattr(self, k)}
        if self.incidents_only:
            out["incidents_only"] = "yes"
        return out


def parse_day(text: str, what: str, problems: list[str]) -> date | None:
    """A day as typed in England (``3/3/2027``, ``03/03/2027``) or ISO (``2027-03-03``);
    anything else refused in words."""
    text = text.strip()
    if not text:
        return None
    for fmt in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d %B %Y", "%d %b %Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    problems.append(f"{what} must be a real date, like 3/3/2027 (you entered “{text[:40]}”)")
    return None


class DiagramIndex:
    """Element id -> name and id -> enclosing subprocess, from the definition's XML."""

    def __init__(self, xml: str | None) -> None:
        self.names: dict[str, str] = {}
        self.parent: dict[str, str | None] = {}
        self.types: dict[str, str] = {}
        self.text: dict[str, str] = {}
        self.form_ids: dict[str, str] = {}
        if not xml:
            return
        try:
            root = ET.fromstring(xml)
        except ET.ParseError:
            return
        for process in root.iter(f"{BPMN}process"):
            self._walk(process, None)

    def _walk(self, node, parent: str | None) -> None:
        for child in node:
            tag = child.tag.removeprefix(BPMN)
            ident = child.get("id")
            if ident and child.tag.startswith(BPMN) and tag not in ("sequenceFlow", "laneSet", "extensionElements", "documentation"):
                self.names[ident] = child.get("name") or ident
                self.parent[ident] = parent
                self.types[ident] = tag
                self.text[ident] = " ".join(v for node in child.iter() for v in node.attrib.values())
                form = next((n.get("formId") for n in child.iter() if n.tag.endswith("formDefinition") and n.get("formId")), None)
                if form:
                    self.form_ids[ident] = form
                if tag in CONTAINERS:
                    self._walk(child, ident)

    def name(self, element_id: str) -> str:
        return self.names.get(element_id, element_id)

    def variables_used(self, element_id: str, names, form_fields=lambda form_id: ()) -> list[str]:
        """The variables (of ``names``) that an element uses: those its definition
        mentions (mappings, assignment, schedule, conditions) and, for a user task,
        the fields of its form (``form_fields(form_id)``)."""
        import re

        text = self.text.get(element_id, "")
        used = {n for n in names if re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])", text)}
        if element_id in self.form_ids:
            used |= set(form_fields(self.form_ids[element_id])) & set(names)
        return sorted(used)

    def ids_named(self, text: str) -> tuple[str, ...]:
        """Element ids whose name or id contains ``text`` (case-insensitive)."""
        needle = text.strip().casefold()
        return tuple(i for i, n in self.names.items() if needle in n.casefold() or needle in i.casefold())


def instance_filter(s: Search, diagram: DiagramIndex) -> InstanceFilter | None:
    """The engine filter for a search; None when the search asks for nothing that can
    exist (an element name no element has) - the page then says so."""
    variables: list[tuple[str, Any]] = []
    if s.child:
        variables.append(("childId", s.child.strip().upper()))
    if s.pep:
        variables.append(("pepId", s.pep.strip().upper()))
    if s.variable:
        if not s.value:
            s.problems.append(f"Enter the value {s.variable} must have (or clear the variable name)")
        else:
            variables.append((s.variable.strip(), _typed(s.value.strip())))
    if s.state and s.state not in STATES:
        s.problems.append(f"State must be one of {', '.join(w.lower() for w in STATES)}")
        s.state = ""
    elements: tuple[str, ...] = ()
    if s.element:
        elements = diagram.ids_named(s.element)
        if not elements:
            s.problems.append(f"No step of the diagram is called “{s.element[:80]}”")
            return None
    start = parse_day(s.started_from, "Started from", s.problems)
    end = parse_day(s.started_to, "Started to", s.problems)
    if start and end and end < start:
        s.problems.append("Started to is before Started from")
    return InstanceFilter(
        state=s.state or None, active_elements=elements,
        started_from=at_local(start, 0) if start else None,
        started_before=at_local(end + timedelta(days=1), 0) if end else None,
        variables=tuple(variables), incident_text=s.error.strip() or None, with_incident=s.incidents_only,
    )


def _typed(value: str) -> Any:
    if value in ("true", "false"):
        return value == "true"
    try:
        return int(value)
    except ValueError:
        return value


def search(engine, s: Search, diagram: DiagramIndex):
    f = instance_filter(s, diagram)
    if f is None or s.problems:
        return []
    return search_instances(engine, f)


def visit_counts(history) -> dict[str, int]:
    """How many times each element was entered."""
    return dict(Counter(h.element_id for h in history if h.event == "ACTIVATED"))


@dataclass
class Node:
    element_id: str
    name: str
    element_type: str
    started: datetime
    ended: datetime | None = None
    outcome: str = "active"
    children: list[Node] = field(default_factory=list)

    @property
    def duration(self) -> str:
        return duration_words(self.started, self.ended) if self.ended else "still active"


def history_tree(history, diagram: DiagramIndex) -> list[Node]:
    """The history as nested entries: each activation paired with its completion or
    termination (in order, per element), placed under the subprocess run it happened
    in. Entries the diagram does not place stay at the top level."""
    roots: list[Node] = []
    open_runs: dict[str, list[Node]] = {}
    for h in history:
        if h.event == "ACTIVATED":
            node = Node(h.element_id, diagram.name(h.element_id), h.element_type, h.at)
            parent_id = diagram.parent.get(h.element_id)
            container = open_runs.get(parent_id or "", [])
            (container[-1].children if parent_id and container else roots).append(node)
            open_runs.setdefault(h.element_id, []).append(node)
        else:
            runs = open_runs.get(h.element_id) or []
            if runs:
                node = runs.pop(0)
                node.ended, node.outcome = h.at, h.event.lower()
            else:  # an end without a start (an event that completes at once)
                roots.append(Node(h.element_id, diagram.name(h.element_id), h.element_type, h.at, h.at, h.event.lower()))
    return roots


def duration_words(start: datetime, end: datetime) -> str:
    seconds = int((end - start).total_seconds())
    if seconds < 1:
        return "under a second"
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60} min"
    return f"{hours // 24} days"


def when(value: datetime | None) -> str:
    """Operators' time stamps: the date in words and the time to the second."""
    if value is None:
        return ""
    local = value.astimezone(words.LONDON)
    return f"{words.long_date(local)}, {local:%H:%M:%S}"
