"""What the API and the pages show and do, over the engine interface and the
records store; every check of scope (own caseload, locality team) happens here."""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import HTTPException

from pepflow.casework import at_local
from pepflow.domain.enums import PepSection
from pepflow.pep_content import answers_view
from pepflow.engine.errors import NotFound
from pepflow.engine.views import UserTask
from pepflow.store.models import ChildRow
from pepflow.store.unit_of_work import create_store_engine

from pepflow.domain.variables import contract_for, value_fits
from pepflow.handover import Handover

from .access import AccessRules
from .accounts import Accounts
from .security import Principal

WITHHELD = "(withheld: not in the process contract)"


def operator_view(variables: dict[str, Any], bpmn_process_id: str = "pep") -> dict[str, Any]:
    """What an operator sees of an instance's variables: a value only when the process
    contract names the variable and the value is of its kind (identifier, date, flag,
    code); anything else - whatever its name - is withheld."""
    contract = contract_for(bpmn_process_id) or {}
    shown: dict[str, Any] = {}
    for key, value in variables.items():
        kind = contract.get(key)
        shown[key] = value if kind is not None and value_fits(kind, value) else WITHHELD
    return shown


DASHBOARD_TTL = 15.0


@dataclass
class WebBackend:
    """The parts of the embedded product the web layer works with."""

    engine: Any  # pepflow.engine.interface.WorkflowEngine plus form()/definition_xml()
    store: Any  # RecordsStore
    casework: Any  # Casework
    clock: Any
    accounts: Accounts
    database_url: str
    data_dir: Path
    runtime: Any = None
    _names: dict[str, str] = field(default_factory=dict)
    _names_at: float = 0.0
    _people: tuple[float, dict[str, str]] | None = None
    # the dashboard's records (dashboard_view.Dashboard): read at most every DASHBOARD_TTL seconds
    _dashboard: tuple[float, Any] | None = None
    _element_names: dict[int, dict[str, str]] = field(default_factory=dict)
    _reads: sa.Engine | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    access: AccessRules = field(init=False)
    handover: Handover = field(init=False)

    def __post_init__(self) -> None:
        self.access = AccessRules(self.store, self.engine, self.clock)
        self.handover = Handover(self.store, self.engine, self.clock)

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def events(self):
        """The council's events (:mod:`pepflow.events`), as the CLI and the demo record them."""
        from pepflow.events import CouncilEvents

        return CouncilEvents(self.store, self.engine, self.casework, self.clock)

    @property
    def reads(self) -> sa.Engine:
        if self._reads is None:
            self._reads = create_store_engine(self.database_url)
        return self._reads

    def close(self) -> None:
        if self._reads is not None:
            self._reads.dispose()

    # ---------------------------------------------------------------- audit
    def audit(self, actor: str, entity: str, entity_id: str, action: str, diff: dict | None = None) -> None:
        """Write one entry to the records store's audit log (views and changes of a
        child's data), in a transaction of the store's unit of work."""
        store = self.store
        with store.uow.transaction() as session:
            store.uow.audit(session, actor, entity, entity_id, action, diff or {})

    # ---------------------------------------------------------------- names
    def child_names(self) -> dict[str, str]:
        """Child id -> name, refreshed at most every 30 s (one query)."""
        if time.monotonic() - self._names_at > 30 or not self._names:
            with self.reads.connect() as conn:
                rows = conn.execute(sa.select(ChildRow.id, ChildRow.given_name, ChildRow.family_name)).all()
            self._names = {r.id: f"{r.given_name} {r.family_name}" for r in rows}
            self._names_at = time.monotonic()
        return self._names

    def element_names(self, process_definition_key: int) -> dict[str, str]:
        names = self._element_names.get(process_definition_key)
        if names is None:
            names = {}
            try:
                root = ET.fromstring(self.engine.definition_xml(process_definition_key))
                for el in root.iter():
                    if el.get("id") and el.get("name"):
                        names[el.get("id")] = el.get("name")
            except (NotFound, ET.ParseError):
                pass
            self._element_names[process_definition_key] = names
        return names

    # ---------------------------------------------------------------- tasks
    def task_for(self, principal: Principal, user_task_key: int) -> UserTask:
        try:
            task = self.engine.user_task(user_task_key)
        except NotFound:
            raise HTTPException(404, f"no user task {user_task_key}") from None
        if not self.access.may_see_task(principal, task):
            raise HTTPException(403, "this task is not in your caseload or your team's queue")
        return task

    def list_tasks(
        self, principal: Principal, *, queue: str | None, child_ref: str | None, element_id: str | None,
        due_before: date | None, due_after: date | None, overdue: bool | None, descending: bool,
        page: int, page_size: int,
    ) -> tuple[str, int, list[UserTask]]:
        """One page of a queue: ``mine`` (assigned to me), ``team`` (my team's unclaimed),
        ``claimed`` (my team's, claimed by a colleague or me: who has what), ``done``
        (what I completed, latest first), ``all`` (read-all roles). ``child_ref`` is a
        child or PEP reference or part of a child's name."""
        if queue is None:
            queue = "all" if principal.reads_all else (
                "team" if principal.is_business_support or principal.is_team_manager else "mine")
        filters: dict[str, Any] = {"element_id": element_id or None}
        if queue == "mine":
            filters["assignee"] = principal.login
            if not principal.login:
                return queue, 0, []
        elif queue == "team":
            filters["candidate_groups"] = principal.candidate_groups or []
            filters["unassigned"] = True
        elif queue == "claimed":
            filters["candidate_groups"] = principal.candidate_groups or []
            filters["assigned"] = True
        elif queue == "done":
            filters["state"] = "COMPLETED"
            filters["completed_by"] = principal.staff_id
            filters["latest_completed_first"] = True
        elif queue == "all":
            if not principal.reads_all:
                raise HTTPException(403, "only PEP co-ordinators and the Virtual School see every task")
        else:
            raise HTTPException(422, "queue is one of mine, team, claimed, done, all")
        now = self.now()
        if child_ref and child_ref.strip():
            matches = self.child_matches(child_ref)
            if not matches:
                return queue, 0, []
            filters["variable_matches"] = matches
        # dates are days in England: from the start of due_after to the end of due_before
        if due_after:
            filters["due_from"] = at_local(due_after, 0)
        if due_before:
            filters["due_before"] = at_local(due_before + timedelta(days=1), 0)
        if overdue is True:
            filters["overdue_at"] = now
        elif overdue is False:
            filters["not_overdue_at"] = now
        total, tasks = self.engine.search_user_tasks(
            descending=descending, offset=(page - 1) * page_size, limit=page_size, **filters
        )
        if not principal.reads_all and queue != "done":  # the queue is by assignment; what shows follows the allocation
            visible = [t for t in tasks if self.access.may_see_task(principal, t)]
            total -= len(tasks) - len(visible)
            tasks = visible
        return queue, total, tasks

    def child_matches(self, text: str) -> list[tuple[str, str, bool]]:
        """What a search box finds: a child reference, the start of a PEP reference, or
        every child whose name contains the words typed (any order, any case)."""
        ref = text.strip().upper()
        matches = [("childId", ref, False), ("pepId", ref, True)]
        words = [w for w in text.lower().split() if w]
        if words:
            for child_id, name in self.child_names().items():
                if all(w in name.lower() for w in words):
                    matches.append(("childId", child_id, False))
        return matches[:500]

    def people(self) -> dict[str, str]:
        """Identity login (a task's assignee) and staff id -> the person's name; a
        candidate group -> the team's name in words (kept 30 s, like the children's)."""
        if self._people and time.monotonic() - self._people[0] < 30:
            return self._people[1]
        names: dict[str, str] = {}
        for staff in self.store.all_staff():
            names[staff.id] = staff.name
            if staff.login:
                names[staff.login] = staff.name
            names.setdefault(staff.email, staff.name)
            if staff.candidate_group:
                role = "Team managers" if "team-manager" in {r.value for r in staff.roles} else "Business support"
                names[staff.candidate_group] = f"{role}, {staff.team}" if staff.team else role
        self._people = (time.monotonic(), names)
        return names

    def shown_options(self, options: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """An option list as the embedded web shows it: the process's label (a role and
        a reference) with the person's name from the records store in front. Only what
        is shown changes; the values - what is submitted and checked - do not."""
        shown = []
        for option in options:
            value, name = option.get("value"), None
            try:
                name = self.store.address_for(value).name if isinstance(value, str) else None
            except Exception:  # noqa: BLE001 - no name to add: the label stays as it is
                name = None
            label = option.get("label")
            shown.append({**option, "label": f"{name} - {label}" if name else label})
        return shown

    # ---------------------------------------------------------------- PEPs
    def child_for(self, principal: Principal, child_id: str):
        from pepflow.store.errors import UnknownChild

        try:
            child = self.store.child(child_id)
        except UnknownChild:
            raise HTTPException(404, f"no child {child_id}") from None
        if not self.access.may_see_child(principal, child):
            raise HTTPException(403, "this child is not in your caseload or your team's locality")
        return child

    def pep_for(self, principal: Principal, pep_id: str):
        from pepflow.store.errors import UnknownPep

        try:
            pep = self.store.pep(pep_id)
        except UnknownPep:
            raise HTTPException(404, f"no PEP {pep_id}") from None
        child = self.child_for(principal, pep.child_id)
        return pep, child

    def pep_details(self, principal: Principal, pep_id: str) -> dict[str, Any]:
        pep, child = self.pep_for(principal, pep_id)
        self.store.record_pep_view(pep.id, actor=principal.staff_id)
        tasks = [t for t in self.engine.user_tasks() if t.variables.get("pepId") == pep.id
                 and self.access.may_see_task(principal, t)]
        return {
            "pep": pep,
            "child": child,
            "documents": self.store.documents(pep.id),
            "schoolReturn": self.store.section(pep.id, PepSection.SCHOOL_RETURN),
            "answers": answers_view(self.store, pep, self.access.today()),
            "mail": self.store.mail_log(pep.id),
            "history": self.store.audit_entries("pep", pep.id),
            "openTasks": tasks,
        }

    def child_details(self, principal: Principal, child_id: str) -> dict[str, Any]:
        child = self.child_for(principal, child_id)
        self.audit(principal.staff_id, "child", child.id, "view", {})
        return {"child": child, "peps": self.store.peps_for(child.id), "episodes": self.store.care_episodes(child.id),
                "allocations": self.store.allocations.for_child(child.id),
                "assignment": self.allocation_state(child.id),
                "can_allocate": self.access.may_manage_child(principal, child)}

    def allocation_state(self, child_id: str):
        from pepflow.ownership import assignment_for
        from pepflow.store.errors import RecordsError

        try:
            return assignment_for(self.store, child_id, self.access.today())
        except RecordsError:
            return None

    # ---------------------------------------------------------------- operations
    def instance_rows(self, *, state: str | None, element_id: str | None, page: int, page_size: int):
        instances = self.engine.instances(state=state or None, element_id=element_id or None)
        instances.sort(key=lambda i: i.process_instance_key, reverse=True)
        incidents: dict[int, int] = {}
        for incident in self.engine.incidents():
            incidents[incident.process_instance_key] = incidents.get(incident.process_instance_key, 0) + 1
        start = (page - 1) * page_size
        return len(instances), instances[start:start + page_size], incidents

    # ---------------------------------------------------------------- dashboard
    def dashboard_reader(self):
        """The Virtual School's records (:class:`pepflow.web.dashboard_view.Dashboard`).
        They cover every PEP of the council, so they are read at most every
        ``DASHBOARD_TTL`` seconds and shared by every reader (a figure a few seconds old
        is what a Virtual School Head reports from anyway); filters work on that copy."""
        from .dashboard_view import Dashboard

        cached = self._dashboard
        if cached is not None and time.monotonic() - cached[0] < DASHBOARD_TTL:
            return cached[1]
        with self._lock:
            cached = self._dashboard
            if cached is not None and time.monotonic() - cached[0] < DASHBOARD_TTL:
                return cached[1]
            reader = Dashboard(self)
            self._dashboard = (time.monotonic(), reader)
            return reader

    def dashboard(self, filters=None) -> dict[str, Any]:
        """The dashboard's figures (every card's count, the late steps), as the API
        gives them; ``lines`` (a row per child) stay with the pages and the CSV."""
        result = dict(self.dashboard_reader().compute(filters))
        result.pop("lines")
        return result
