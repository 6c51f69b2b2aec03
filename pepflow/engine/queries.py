"""Read-only searches over the embedded engine's tables for the operations view:
instances by state, start date, variable value, active element and incident text.

Kept apart from :mod:`pepflow.engine.runtime` (the engine's operations); nothing here
writes. Variables are compared as stored (JSON values), so ``childId = C-0001`` finds
the instances whose ``childId`` is that string.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from . import store as t
from .shared import _incident_view
from .views import ProcessInstance


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


@dataclass(frozen=True)
class InstanceFilter:
    state: str | None = None
    bpmn_process_id: str | None = None
    #: any of these element ids active (an element chosen by name may be several ids)
    active_elements: tuple[str, ...] = ()
    started_from: datetime | None = None
    started_before: datetime | None = None
    #: variable name -> value it must equal (strings compared case-insensitively)
    variables: tuple[tuple[str, Any], ...] = ()
    #: the instance has an open incident whose type or message contains this text
    incident_text: str | None = None
    #: the instance has an open incident
    with_incident: bool = False


def _matches(value: Any, wanted: Any) -> bool:
    if isinstance(value, str) and isinstance(wanted, str):
        return value.casefold() == wanted.casefold()
    if isinstance(value, list):
        return any(_matches(v, wanted) for v in value)
    return value == wanted or str(value) == str(wanted)


def search_instances(engine, f: InstanceFilter) -> list[ProcessInstance]:
    """The instances that match every filter given, newest first, with their variables
    and open incidents."""
    i, inc = t.instances, t.incidents
    query = sa.select(
        i.c.key, i.c.bpmn_process_id, i.c.version, i.c.process_definition_key, i.c.state,
        i.c.active_elements, i.c.started_at, i.c.ended_at, i.c.variables,
    ).order_by(i.c.key.desc())
    if f.state:
        query = query.where(i.c.state == f.state)
    if f.bpmn_process_id:
        query = query.where(i.c.bpmn_process_id == f.bpmn_process_id)
    if f.started_from:
        query = query.where(i.c.started_at >= f.started_from)
    if f.started_before:
        query = query.where(i.c.started_at < f.started_before)
    if f.with_incident or f.incident_text:
        sub = sa.select(inc.c.instance_key).where(inc.c.state == "ACTIVE")
        if f.incident_text:
            like = f"%{f.incident_text.lower()}%"
            sub = sub.where(sa.or_(sa.func.lower(inc.c.error_message).like(like), sa.func.lower(inc.c.error_type).like(like)))
        query = query.where(i.c.key.in_(sub))
    with engine.store.read() as conn:
        rows = conn.execute(query).all()
        open_incidents = conn.execute(sa.select(inc).where(inc.c.state == "ACTIVE").order_by(inc.c.key)).all()
    by_instance: dict[int, list] = {}
    for row in open_incidents:
        by_instance.setdefault(row.instance_key, []).append(row)
    out = []
    for row in rows:
        active = json.loads(row.active_elements)
        if f.active_elements and not set(active) & set(f.active_elements):
            continue
        variables = json.loads(row.variables) if row.variables else {}
        if any(not _matches(variables.get(name), value) for name, value in f.variables):
            continue
        out.append(ProcessInstance(
            row.key, row.bpmn_process_id, row.version, row.process_definition_key, row.state, active,
            _aware(row.started_at), _aware(row.ended_at), variables,
            [_incident_view(x) for x in by_instance.get(row.key, [])],
        ))
    return out


def variable_names(engine, bpmn_process_id: str | None = None) -> list[str]:
    """Every variable name held by an instance (for the search form's list)."""
    i = t.instances
    query = sa.select(i.c.variables)
    if bpmn_process_id:
        query = query.where(i.c.bpmn_process_id == bpmn_process_id)
    names: set[str] = set()
    with engine.store.read() as conn:
        for (raw,) in conn.execute(query.limit(5000)):
            names.update(json.loads(raw or "{}").keys())
    return sorted(names)
