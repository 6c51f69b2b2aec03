"""User tasks: the task list's searches, claiming and reassigning, and completion
checked against the task's form, the process's variable contract and the product's
own completion checks; and how a task's assignment and schedule are read when it is
created, strictly as Zeebe does or leniently (``strict=False``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from . import statements as q, store as t
from . import strict as strict_rules
from .errors import InvalidState, InvalidVariables, NotFound
from .expressions import evaluate
from .jobs import apply_result
from .shared import _Op, _as_list, _check_key, _json, _parse_instant, _user_task_view, find_task
from .views import UserTask

if TYPE_CHECKING:  # pragma: no cover
    from .core import EngineCore


class UserTasks:
    def __init__(self, core: EngineCore) -> None:
        self.core = core

    def add_completion_check(self, check) -> None:
        """``check(task, submitted)`` runs before a user task is completed and raises
        :class:`InvalidVariables` to refuse it (the product's own rules on what a person
        entered, e.g. a meeting date on a school day). Camunda 8 has no such hook: there
        the diagram checks the same values in the step after the task."""
        self.core.completion_checks.append(check)

    def user_tasks(
        self,
        *,
        state: str | None = "CREATED",
        assignee: str | None = None,
        candidate_group: str | None = None,
        candidate_groups: Iterable[str] | None = None,
        candidate_user: str | None = None,
        process_instance_key: int | None = None,
        element_id: str | None = None,
        unassigned: bool = False,
    ) -> list[UserTask]:
        u = t.user_tasks
        query = sa.select(u).order_by(u.c.due_date.is_(None), u.c.due_date, u.c.key)
        if state:
            query = query.where(u.c.state == state)
        if assignee:
            query = query.where(u.c.assignee == assignee)
        if unassigned:
            query = query.where(u.c.assignee.is_(None))
        if process_instance_key is not None:
            query = query.where(u.c.instance_key == process_instance_key)
        if element_id:
            query = query.where(u.c.element_id == element_id)
        with self.core.store.read() as conn:
            rows = conn.execute(query).all()
        groups = set(candidate_groups or ())
        if candidate_group:
            groups.add(candidate_group)
        views = [_user_task_view(row) for row in rows]
        if groups:
            views = [v for v in views if groups & set(v.candidate_groups)]
        if candidate_user:
            views = [v for v in views if candidate_user in v.candidate_users]
        return views

    def search_user_tasks(
        self,
        *,
        state: str | None = "CREATED",
        assignee: str | None = None,
        candidate_groups: Iterable[str] | None = None,
        unassigned: bool = False,
        assigned: bool = False,
        completed_by: str | None = None,
        element_id: str | None = None,
        due_from: datetime | None = None,
        due_before: datetime | None = None,
        overdue_at: datetime | None = None,
        not_overdue_at: datetime | None = None,
        variable_matches: Iterable[tuple[str, str, bool]] = (),
        descending: bool = False,
        latest_completed_first: bool = False,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[int, list[UserTask]]:
        """One page of user tasks by due date (undated last), and how many match; the
        database filters, counts and pages, so a queue of thousands costs one page.
        ``variable_matches`` are (name, value, prefix) of string variables, any of
        which may match (a child reference is a childId, or the start of a pepId)."""
        u = t.user_tasks
        conditions = []
        if state:
            conditions.append(u.c.state == state)
        if assignee:
            conditions.append(u.c.assignee == assignee)
        if unassigned:
            conditions.append(u.c.assignee.is_(None))
        if assigned:
            conditions.append(u.c.assignee.is_not(None))
        if completed_by:
            conditions.append(u.c.completed_by == completed_by)
        if element_id:
            conditions.append(u.c.element_id == element_id)
        if candidate_groups is not None:
            groups = list(candidate_groups)
            if not groups:
                return 0, []
            conditions.append(sa.or_(*(u.c.candidate_groups.contains(_json(g), autoescape=True) for g in groups)))
        if due_from is not None:
            conditions.append(u.c.due_date >= due_from)
        if due_before is not None:
            conditions.append(u.c.due_date < due_before)
        if overdue_at is not None:
            conditions.append(u.c.due_date < overdue_at)
        if not_overdue_at is not None:
            conditions.append(sa.or_(u.c.due_date.is_(None), u.c.due_date >= not_overdue_at))
        matches = [
            u.c.variables.contains(
                f"{_json(name)}:{_json(value)[:-1]}" if prefix else f"{_json(name)}:{_json(value)}", autoescape=True
            )
            for name, value, prefix in variable_matches
        ]
        if matches:
            conditions.append(sa.or_(*matches))
        if latest_completed_first:
            order = (u.c.completed_at.desc(), u.c.key.desc())
        elif descending:
            order = (u.c.due_date.is_(None).desc(), u.c.due_date.desc(), u.c.key.desc())
        else:
            order = (u.c.due_date.is_(None), u.c.due_date, u.c.key)
        with self.core.store.read() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(u).where(*conditions)).scalar_one()
            rows = conn.execute(
                sa.select(u).where(*conditions).order_by(*order).offset(offset).limit(limit)
            ).all()
        return total, [_user_task_view(row) for row in rows]

    def user_task(self, user_task_key: int) -> UserTask:
        _check_key(user_task_key, "user task")
        with self.core.store.read() as conn:
            row = conn.execute(sa.select(t.user_tasks).where(t.user_tasks.c.key == user_task_key)).first()
        if row is None:
            raise NotFound(f"no user task {user_task_key}")
        return _user_task_view(row)

    def claim(self, user_task_key: int, assignee: str, *, allow_override: bool = False) -> UserTask:
        if not assignee:
            raise InvalidVariables("an assignee is needed to claim a task")
        with self.core.operation() as op:
            row = self.open_user_task(op, user_task_key)
            if row.assignee and row.assignee != assignee and not allow_override:
                raise InvalidState(f"user task {user_task_key} is already assigned to {row.assignee}")
            op.conn.execute(t.user_tasks.update().where(t.user_tasks.c.key == user_task_key).values(assignee=assignee))
        return self.user_task(user_task_key)

    def unclaim(self, user_task_key: int) -> UserTask:
        with self.core.operation() as op:
            self.open_user_task(op, user_task_key)
            op.conn.execute(t.user_tasks.update().where(t.user_tasks.c.key == user_task_key).values(assignee=None))
        return self.user_task(user_task_key)

    def reassign_user_task(self, user_task_key: int, *, assignee: str | None, candidate_groups: Iterable[str]) -> UserTask:
        """Give an open task to someone else (a change of allocation): its assignee and
        candidate groups are replaced (Camunda: assign + update candidate groups)."""
        with self.core.operation() as op:
            self.open_user_task(op, user_task_key)
            op.conn.execute(t.user_tasks.update().where(t.user_tasks.c.key == user_task_key).values(
                assignee=assignee or None, candidate_groups=_json(list(candidate_groups))))
        return self.user_task(user_task_key)

    def open_user_task(self, op: _Op, user_task_key: int):
        _check_key(user_task_key, "user task")
        row = op.conn.execute(q.USER_TASK, {"b_key": user_task_key}).first()
        if row is None:
            raise NotFound(f"no user task {user_task_key}")
        if row.state != "CREATED":
            raise InvalidState(f"user task {user_task_key} is {row.state.lower()}")
        return row

    def complete_user_task(
        self, user_task_key: int, variables: Mapping[str, Any] | None = None, *, actor: str | None = None
    ) -> None:
        """Complete a user task with exactly the values its form allows, checked against
        the form (:mod:`pepflow.engine.form_validation`) and the process's variable
        contract, and every completion check the product registered
        (:meth:`add_completion_check`); anything else is refused and nothing changes."""
        submitted = dict(variables or {})
        _json(submitted)
        with self.core.operation() as op:
            row = self.open_user_task(op, user_task_key)
            live = self.core.modify(op, row.instance_key)
            task = find_task(live, row.task_id)
            submitted = self.check_submission(live.definition.bpmn_process_id, row.form_id, task.data, submitted, op.now)
            for check in self.core.completion_checks:  # on values the form has already checked
                check(_user_task_view(row), submitted)
            apply_result(op, task, {}, submitted)
            op.conn.execute(q.UPDATE_USER_TASK, {
                "b_key": user_task_key, "state": "COMPLETED", "completed_at": op.now,
                "completed_by": actor or row.assignee, "variables": _json(submitted),
            })
            task.run()
            self.core.waits.step(op, live)

    def check_submission(self, bpmn_process_id: str, form_id: str | None, context: Mapping[str, Any],
                         submitted: Mapping[str, Any], now: datetime, *, partial: bool = False) -> dict[str, Any]:
        """What a person may submit for a task of ``form_id`` (also used for drafts)."""
        context = {k: v for k, v in context.items() if k != "data_objects"}
        if form_id:
            checked = self.core.form(form_id).validate(
                submitted, context, now=now,
                process_variables=self.core.contracts.process_variables(bpmn_process_id), partial=partial,
            )
        elif self.core.contracts.has_contract(bpmn_process_id) and submitted:
            raise InvalidVariables("this task has no form: it takes no values",
                                   problems=["this task has no form: it takes no values"])
        else:
            checked = dict(submitted)
        self.core.contracts.check(bpmn_process_id, checked, "task completion")
        return checked


def strict_user_task(config, data: dict, now: datetime, where: str):
    """Assignment and schedule evaluated and type-checked as Zeebe does."""
    def value(expression: str | None, label: str):
        return evaluate(expression, data, now, f"{where} {label}") if expression else None

    assignee = strict_rules.assignee(value(config.assignee, "assignee"), config.assignee, where) if config.assignee else None
    groups = (
        strict_rules.candidates(value(config.candidate_groups, "candidateGroups"), config.candidate_groups, f"{where} candidateGroups")
        if config.candidate_groups else []
    )
    users = (
        strict_rules.candidates(value(config.candidate_users, "candidateUsers"), config.candidate_users, f"{where} candidateUsers")
        if config.candidate_users else []
    )
    due = strict_rules.schedule_date(value(config.due_date, "dueDate"), config.due_date, f"{where} dueDate") if config.due_date else None
    follow_up = (
        strict_rules.schedule_date(value(config.follow_up_date, "followUpDate"), config.follow_up_date, f"{where} followUpDate")
        if config.follow_up_date else None
    )
    return assignee, groups, users, due, follow_up


def lenient_user_task(config, data: dict, now: datetime, where: str):
    """strict=False: a string is split on commas, a time without offset is UTC."""
    if config is None:
        return None, [], [], None, None
    assignee = evaluate(config.assignee, data, now, f"{where} assignee")
    groups = _as_list(evaluate(config.candidate_groups, data, now, f"{where} candidateGroups"))
    users = _as_list(evaluate(config.candidate_users, data, now, f"{where} candidateUsers"))
    due = _parse_instant(evaluate(config.due_date, data, now, f"{where} dueDate"), where)
    follow_up = _parse_instant(evaluate(config.follow_up_date, data, now, f"{where} followUpDate"), where)
    return assignee, groups, users, due, follow_up
