"""What the API and the pages show and do, over the engine interface and the
records store; every check of scope (own caseload, locality team) happens here."""

from __future__ import annotations

import csv
import io
import re
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import HTTPException

from pepflow.calendar import MissingTermDates, WorkingDays, academic_year_of
from pepflow.casework import at_local, local_date
from pepflow.pep_content import answers_view
from pepflow.domain.enums import PepSection, PepStatus, TermName
from pepflow.engine.errors import NotFound
from pepflow.engine.views import UserTask
from pepflow.store.models import CareEpisodeRow, ChildRow, EscalationRow, PepRow
from pepflow.store.repository import create_store_engine

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
_WORKING_DAYS = WorkingDays()  # England bank holidays, built once


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
    # the dashboard's figures: recomputed at most every DASHBOARD_TTL seconds
    _dashboard: tuple[float, dict[str, Any]] | None = None
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
        child's data). The store has no public method for an arbitrary entry, so
        this uses its transaction and audit helpers (see docs/web.md)."""
        store = self.store
        with store._tx() as session:  # noqa: SLF001 - documented gap in the store API
            store._audit(session, actor, entity, entity_id, action, diff or {})  # noqa: SLF001

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
    def dashboard(self) -> dict[str, Any]:
        """The Virtual School's figures. They count every PEP of the council, so they are
        computed at most every ``DASHBOARD_TTL`` seconds and shared by every reader (a
        figure a few seconds old is what a Virtual School Head reports from anyway)."""
        cached = self._dashboard
        if cached is not None and time.monotonic() - cached[0] < DASHBOARD_TTL:
            return cached[1]
        with self._lock:
            cached = self._dashboard
            if cached is not None and time.monotonic() - cached[0] < DASHBOARD_TTL:
                return cached[1]
            figures = self._compute_dashboard()
            self._dashboard = (time.monotonic(), figures)
            return figures

    def _compute_dashboard(self) -> dict[str, Any]:
        today = local_date(self.now())
        with self.reads.connect() as conn:
            episodes = conn.execute(sa.select(
                CareEpisodeRow.child_id, CareEpisodeRow.entered_care_on, CareEpisodeRow.left_care_on)).all()
            peps = conn.execute(sa.select(
                PepRow.id, PepRow.child_id, PepRow.academic_year, PepRow.term, PepRow.status,
                PepRow.is_initial, PepRow.finalised_at, PepRow.form_sent_at, PepRow.form_returned_at,
            )).all()
            late = conn.execute(sa.select(
                EscalationRow.pep_id, EscalationRow.child_id, EscalationRow.kind, EscalationRow.owner_staff_id,
                EscalationRow.raised_at,
            ).where(EscalationRow.resolved_at.is_(None)).order_by(EscalationRow.raised_at)).all()
        in_care: dict[str, date] = {}
        for e in episodes:
            if e.entered_care_on <= today and (e.left_care_on is None or e.left_care_on > today):
                in_care[e.child_id] = max(e.entered_care_on, in_care.get(e.child_id, e.entered_care_on))
        term_info: dict[str, Any] = {"academicYear": None, "term": None, "endsOn": None}
        current = previous = None
        try:
            calendar = self.store.school_calendar_for(None)
            term = calendar.term_of(today)
            if term is not None:
                year = academic_year_of(term.starts_on)
            else:
                year, term = calendar.next_term(today)
            current = (year, term.name.value if hasattr(term.name, "value") else str(term.name))
            term_info = {"academicYear": year, "term": current[1], "endsOn": term.ends_on.isoformat()}
            order = [t.value for t in TermName]
            i = order.index(current[1])
            previous = (year, order[i - 1]) if i > 0 else (year - 1, order[-1])
            term_end = term.ends_on
        except (MissingTermDates, LookupError, ValueError):
            term_end = None
        this_term = [p for p in peps if current and (p.academic_year, p.term) == current and p.status != PepStatus.CANCELLED.value]
        completed_in_time = [
            p for p in this_term
            if p.status == PepStatus.FINAL.value and p.finalised_at is not None
            and (term_end is None or p.finalised_at.date() <= term_end)
        ]
        forms_not_returned = [
            p for p in peps if p.status == PepStatus.FORM_SENT.value and p.form_returned_at is None
        ]
        now = self.now()
        overdue_initial = [
            t for t in self.engine.user_tasks(element_id="ArrangeInitialMeetingTask") if t.due_date and t.due_date < now
        ]
        # up to date: a final PEP for this term or the last one; children in care for
        # fewer than 20 working days (the initial PEP window) are not counted
        final_terms: dict[str, set[tuple[int, str]]] = {}
        for p in peps:
            if p.status == PepStatus.FINAL.value:
                final_terms.setdefault(p.child_id, set()).add((p.academic_year, p.term))
        cutoff = _WORKING_DAYS.add_working_days(today, -20)
        counted = [c for c, entered in in_care.items() if entered <= cutoff]
        up_to_date = [c for c in counted if final_terms.get(c, set()) & {current, previous}]
        pct = round(100.0 * len(up_to_date) / len(counted), 1) if counted else None
        return {
            "asOf": today.isoformat(),
            "term": term_info,
            "childrenInCare": len(in_care),
            "pepsDueThisTerm": len(this_term),
            "pepsCompletedInTime": len(completed_in_time),
            "overdueInitialMeetings": len(overdue_initial),
            "formsNotReturned": len(forms_not_returned),
            "childrenCounted": len(counted),
            "childrenWithUpToDatePep": len(up_to_date),
            "percentWithUpToDatePep": pct,
            "childrenWithoutUpToDatePep": sorted(set(counted) - set(up_to_date)),
            # every wait a person owns that ran late: open until the PEP moves on
            "lateSteps": len(late),
            "escalations": [
                {"pepId": e.pep_id, "childId": e.child_id, "kind": e.kind, "ownerStaffId": e.owner_staff_id,
                 "raisedAt": e.raised_at.isoformat()}
                for e in late
            ],
        }

    @staticmethod
    def dashboard_csv(figures: dict[str, Any]) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["measure", "value"])
        writer.writerow(["as_of", figures["asOf"]])
        writer.writerow(["academic_year", figures["term"]["academicYear"]])
        writer.writerow(["term", figures["term"]["term"]])
        for key in ("childrenInCare", "pepsDueThisTerm", "pepsCompletedInTime", "overdueInitialMeetings",
                    "formsNotReturned", "childrenCounted", "childrenWithUpToDatePep", "percentWithUpToDatePep"):
            writer.writerow([re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower(), figures[key]])
        writer.writerow([])
        writer.writerow(["child_id_without_up_to_date_pep"])
        for child_id in figures["childrenWithoutUpToDatePep"]:
            writer.writerow([child_id])
        return out.getvalue()
