"""What an operator reads about instances: the instances by state, process and active
element, one instance with its variables and open incidents, its history of element
events, and the size of its stored state.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from . import statements as q, store as t
from .errors import NotFound
from .shared import _aware, _check_key
from .views import HistoryEntry, ProcessInstance

if TYPE_CHECKING:  # pragma: no cover
    from .core import EngineCore
    from .jobs import Jobs


class History:
    def __init__(self, core: EngineCore, jobs: Jobs) -> None:
        self.core = core
        self.jobs = jobs

    def instances(self, *, state: str | None = None, bpmn_process_id: str | None = None, element_id: str | None = None) -> list[ProcessInstance]:
        i = t.instances
        query = sa.select(
            i.c.key, i.c.bpmn_process_id, i.c.version, i.c.process_definition_key, i.c.state,
            i.c.active_elements, i.c.started_at, i.c.ended_at,
        ).order_by(i.c.key)
        if state:
            query = query.where(i.c.state == state)
        if bpmn_process_id:
            query = query.where(i.c.bpmn_process_id == bpmn_process_id)
        with self.core.store.read() as conn:
            rows = conn.execute(query).all()
        views = [
            ProcessInstance(
                row.key, row.bpmn_process_id, row.version, row.process_definition_key, row.state,
                json.loads(row.active_elements), _aware(row.started_at), _aware(row.ended_at),
            )
            for row in rows
        ]
        if element_id:
            views = [v for v in views if element_id in v.active_elements]
        return views

    def active_instance_variables(self, bpmn_process_id: str) -> list[tuple[int, int, dict[str, Any]]]:
        """(instance key, definition key, variables) of every active instance of a process,
        in one query (the daily check of allocations reads them all)."""
        with self.core.store.read() as conn:
            rows = conn.execute(q.ACTIVE_INSTANCE_VARIABLES, {"b_process": bpmn_process_id}).all()
        return [(row.key, row.process_definition_key, json.loads(row.variables)) for row in rows]

    def instance(self, process_instance_key: int) -> ProcessInstance:
        _check_key(process_instance_key, "process instance")
        with self.core.store.read() as conn:
            row = conn.execute(sa.select(t.instances).where(t.instances.c.key == process_instance_key)).first()
        if row is None:
            raise NotFound(f"no process instance {process_instance_key}")
        return ProcessInstance(
            row.key, row.bpmn_process_id, row.version, row.process_definition_key, row.state,
            json.loads(row.active_elements), _aware(row.started_at), _aware(row.ended_at),
            json.loads(row.variables), self.jobs.incidents(state="ACTIVE", process_instance_key=row.key),
        )

    def history(self, process_instance_key: int) -> list[HistoryEntry]:
        _check_key(process_instance_key, "process instance")
        h = t.history
        with self.core.store.read() as conn:
            rows = conn.execute(
                sa.select(h).where(h.c.instance_key == process_instance_key).order_by(h.c.id)
            ).all()
        return [HistoryEntry(r.element_id, r.element_type, r.event, _aware(r.at)) for r in rows]

    def stored_state_bytes(self, process_instance_key: int) -> int:
        _check_key(process_instance_key, "process instance")
        with self.core.store.read() as conn:
            text = conn.execute(
                sa.select(t.instances.c.snapshot).where(t.instances.c.key == process_instance_key)
            ).scalar()
        return len((text or "").encode())
