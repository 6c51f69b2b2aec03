"""Process instances and messages: starting an instance, cancelling it, setting its
variables, and publishing a message (correlated to waiting subscriptions, starting
instances at message start events, buffered for its time to live).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from . import store as t
from . import strict as strict_rules
from .errors import InvalidState
from .events import catch_message, waiting_start_event
from .shared import ACTIVE, CANCELED, _Definition, _json, _Live, _Op, workflows
from .views import PublishedMessage

if TYPE_CHECKING:  # pragma: no cover
    from .core import EngineCore

DEFAULT_MESSAGE_TTL = timedelta(hours=1)


class Instances:
    def __init__(self, core: EngineCore) -> None:
        self.core = core

    def create_instance(
        self, bpmn_process_id: str, variables: Mapping[str, Any] | None = None, *, version: int | None = None
    ) -> int:
        """Start an instance at the process's none start event."""
        definition = self.core.definition_for(bpmn_process_id, version)
        if not definition.parsed.has_none_start:
            raise InvalidState(
                f"process '{bpmn_process_id}' has no none start event; start it by publishing a message"
            )
        self.core.contracts.check(bpmn_process_id, dict(variables or {}), "start variables")
        with self.core.operation() as op:
            live = self.new_instance(op, definition, dict(variables or {}), None)
            self.core.waits.step(op, live)
            return live.key

    def new_instance(self, op: _Op, definition: _Definition, variables: dict, start_key: str | None) -> _Live:
        _json(variables)  # refuse what is not JSON before anything is written
        workflow = BpmnWorkflow(
            definition.parsed.spec, definition.parsed.subprocess_specs, script_engine=self.core.script_engine
        )
        workflow.task_tree.data.update(variables)
        key = self.core.key(op)
        op.conn.execute(
            t.instances.insert().values(
                key=key, process_definition_key=definition.key, bpmn_process_id=definition.bpmn_process_id,
                version=definition.version, state=ACTIVE, start_correlation_key=start_key,
                started_at=op.now, active_elements="[]", variables="{}", snapshot=None, revision=0,
            )
        )
        live = _Live(key=key, definition=definition, workflow=workflow, revision=0, state=ACTIVE)
        op.loaded[key] = live
        op.dirty.add(key)
        op.new_instances.add(key)
        return live

    def cancel_instance(self, process_instance_key: int) -> None:
        with self.core.operation() as op:
            live = self.core.modify(op, process_instance_key)
            live.workflow.cancel()
            live.state = CANCELED

    def set_variables(self, process_instance_key: int, variables: Mapping[str, Any]) -> None:
        """Set variables at the process scope (every active token sees them)."""
        _json(dict(variables))
        with self.core.operation() as op:
            live = self.core.modify(op, process_instance_key)
            self.core.contracts.check(live.definition.bpmn_process_id, dict(variables), "set variables")
            for wf in workflows(live.workflow):
                for task in wf.get_tasks(state=TaskState.NOT_FINISHED_MASK):
                    task.data.update(variables)
            live.workflow.data.update(variables)

    def publish_message(
        self,
        name: str,
        correlation_key: str = "",
        variables: Mapping[str, Any] | None = None,
        *,
        time_to_live: timedelta = DEFAULT_MESSAGE_TTL,
        message_id: str | None = None,
    ) -> PublishedMessage:
        """Publish a message: correlate it to waiting subscriptions, start instances at
        message start events, and buffer it for ``time_to_live``."""
        payload = dict(variables or {})
        _json(payload)
        self.core.contracts.check_message(name, payload)
        correlation_key = str(correlation_key)
        with self.core.operation() as op:
            conn = op.conn
            if message_id:
                duplicate = conn.execute(
                    sa.select(t.messages.c.key).where(
                        t.messages.c.name == name,
                        t.messages.c.correlation_key == correlation_key,
                        t.messages.c.message_id == message_id,
                        t.messages.c.expires_at > op.now,
                    )
                ).first()
                if duplicate is not None:  # unique by name, correlation key and id while buffered
                    raise InvalidState(strict_rules.duplicate_message(message_id))
            key = self.core.key(op)
            buffered = time_to_live > timedelta(0)
            conn.execute(
                t.messages.insert().values(
                    key=key, name=name, correlation_key=correlation_key, message_id=message_id,
                    variables=_json(payload), published_at=op.now, expires_at=op.now + max(time_to_live, timedelta(0)),
                )
            )
            correlated: list[int] = []
            started: list[int] = []
            rows = conn.execute(
                sa.select(t.subscriptions.c.instance_key, t.subscriptions.c.task_id, t.subscriptions.c.element_id)
                .where(t.subscriptions.c.message_name == name, t.subscriptions.c.correlation_key == correlation_key)
                .order_by(t.subscriptions.c.id)
            ).all()
            seen: set[int] = set()
            for row in rows:
                if row.instance_key in seen:
                    continue  # a message correlates at most once per instance
                seen.add(row.instance_key)
                live = self.core.modify(op, row.instance_key)
                self.core.waits.deliver(op, live, row.task_id, row.element_id, name, payload)
                correlated.append(live.key)
                conn.execute(t.message_correlations.insert().values(message_key=key, instance_key=live.key))
            # message start events: one per process (latest version); at most one
            # active instance per correlation key, as in Zeebe
            for process_id, definition_key in list(self.core.latest.items()):
                definition = self.core.definitions[definition_key]
                element_id = definition.parsed.message_starts.get(name)
                if element_id is None:
                    continue
                if correlation_key:
                    active = conn.execute(
                        sa.select(t.instances.c.key).where(
                            t.instances.c.bpmn_process_id == process_id,
                            t.instances.c.start_correlation_key == correlation_key,
                            t.instances.c.state == ACTIVE,
                        )
                    ).first()
                    if active is not None:
                        continue
                live = self.new_instance(op, definition, {}, correlation_key or None)
                self.core.waits.step(op, live)
                start = waiting_start_event(live, element_id)
                catch_message(start, name, payload)
                self.core.waits.step(op, live)
                started.append(live.key)
                correlated.append(live.key)
                conn.execute(t.message_correlations.insert().values(message_key=key, instance_key=live.key))
            if not buffered:
                conn.execute(t.messages.delete().where(t.messages.c.key == key))
            return PublishedMessage(key, correlated, started, buffered)
