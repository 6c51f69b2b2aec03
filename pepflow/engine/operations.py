"""Operator commands on the embedded engine, with Zeebe's semantics: delete a deployed
resource, change an activated job's timeout, hand out a key.

Resource deletion follows Zeebe 8.9+ (``ResourceDeletionDeleteProcessor``; Camunda's
page "Resource deletion"):

- a process definition is deleted by its key: no new instance starts on it (by key or
  version: NOT_FOUND), and when it was the latest version the previous version that is
  still deployed becomes the latest (its message start events start instances again);
  instances already running on it run to their end (Zeebe calls it "draining");
- a version number is never reused: the next deployment of the process continues
  after the highest version ever deployed; a redeployment is a duplicate only of the
  latest version still deployed;
- a form is deleted by its key; a user task's ``formId`` then links the latest
  version still deployed;
- an unknown key: NOT_FOUND "Expected to delete resource but no resource found with
  key `K`"; a process definition deleted already while its instances still run:
  INVALID_STATE "... it is already being deleted."

Deletions are rows of ``engine_deleted_resource``; the definitions stay stored (the
running instances need them, and the version numbering does).
"""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import TYPE_CHECKING

import sqlalchemy as sa

from . import store as t
from .errors import InvalidState, InvalidVariables, NotFound

if TYPE_CHECKING:  # pragma: no cover
    from .core import EngineCore

PROCESS, FORM = "process", "form"


def load_deleted(conn: sa.Connection) -> set[int]:
    return {row.key for row in conn.execute(sa.select(t.deleted_resources.c.key)).all()}


def delete_resource(core: EngineCore, key: int) -> str:
    """Delete the process definition or form with ``key``; returns which it was."""
    if key <= 0:
        raise NotFound(f"Expected to delete resource but no resource found with key `{key}`")
    with core.operation() as op:
        conn = op.conn
        definition = conn.execute(
            sa.select(t.process_definitions.c.key, t.process_definitions.c.bpmn_process_id)
            .where(t.process_definitions.c.key == key)
        ).first()
        form = conn.execute(sa.select(t.forms.c.key, t.forms.c.form_id).where(t.forms.c.key == key)).first()
        if definition is None and form is None:
            raise NotFound(f"Expected to delete resource but no resource found with key `{key}`")
        if key in core.deleted:
            running = definition is not None and conn.execute(
                sa.select(t.instances.c.key).where(
                    t.instances.c.process_definition_key == key, t.instances.c.state == "ACTIVE"
                ).limit(1)
            ).first()
            if running:
                raise InvalidState(f"Expected to delete process definition with key `{key}`, but it is already being deleted.")
            raise NotFound(f"Expected to delete resource but no resource found with key `{key}`")
        kind = PROCESS if definition is not None else FORM
        conn.execute(t.deleted_resources.insert().values(key=key, kind=kind, deleted_at=op.now))
    # after the commit, as a deployment does
    core.deleted.add(key)
    if kind == PROCESS:
        _relink_latest_process(core, definition.bpmn_process_id)
    else:
        _relink_latest_form(core, form.form_id)
    return kind


def _relink_latest_process(core: EngineCore, bpmn_process_id: str) -> None:
    remaining = [
        d for d in core.definitions.values()
        if d.bpmn_process_id == bpmn_process_id and d.key not in core.deleted
    ]
    if remaining:
        core.latest[bpmn_process_id] = max(remaining, key=lambda d: d.version).key
    else:
        core.latest.pop(bpmn_process_id, None)


def _relink_latest_form(core: EngineCore, form_id: str) -> None:
    from .forms import parse_form

    with core.store.read() as conn:
        rows = conn.execute(
            sa.select(t.forms.c.key, t.forms.c.schema, t.forms.c.resource_name)
            .where(t.forms.c.form_id == form_id)
            .order_by(t.forms.c.version.desc())
        ).all()
    for row in rows:
        if row.key not in core.deleted:
            core.forms[form_id] = parse_form(row.schema.encode(), row.resource_name)
            return
    core.forms.pop(form_id, None)


def latest_deployed(conn: sa.Connection, table: sa.Table, id_column: sa.Column, resource_id: str, deleted: set[int]):
    """The latest version still deployed (for the duplicate check), or None."""
    query = sa.select(table.c.key, table.c.version, table.c.checksum, table.c.resource_name).where(id_column == resource_id)
    if deleted:
        query = query.where(table.c.key.not_in(deleted))
    return conn.execute(query.order_by(table.c.version.desc()).limit(1)).first()


def highest_version(conn: sa.Connection, table: sa.Table, id_column: sa.Column, resource_id: str) -> int:
    """The highest version ever deployed, deleted ones included (never reused)."""
    return conn.execute(sa.select(sa.func.max(table.c.version)).where(id_column == resource_id)).scalar() or 0


def update_job_timeout(core: EngineCore, job_key: int, timeout: timedelta) -> None:
    """An activated job's deadline becomes now + ``timeout`` (Zeebe's
    ``JobUpdateTimeoutProcessor``): a worker that needs longer says so."""
    if timeout <= timedelta(0):
        raise InvalidVariables(f"Expected to update the timeout of job with key '{job_key}' with a positive timeout")
    with core.operation() as op:
        row = op.conn.execute(sa.select(t.jobs.c.state, t.jobs.c.deadline).where(t.jobs.c.key == job_key)).first()
        if row is None:
            raise NotFound(f"Expected to update job with key '{job_key}', but no such job was found")
        deadline = row.deadline
        if deadline is not None and deadline.tzinfo is None:  # SQLite gives naive UTC
            deadline = deadline.replace(tzinfo=timezone.utc)
        if row.state != "ACTIVATED" or deadline is None or deadline < op.now:
            raise InvalidState(f"Expected to update the timeout of job with key '{job_key}', but it is not active")
        op.conn.execute(t.jobs.update().where(t.jobs.c.key == job_key).values(deadline=op.now + timeout))
        op.timers_changed = True


def new_key(core: EngineCore) -> int:
    """A fresh key from the engine's sequence (a signal's, for instance)."""
    with core.operation() as op:
        return core.key(op)
