"""The embedded engine: runs Camunda 8 diagrams on SpiffWorkflow, durably.

One :class:`Engine` owns a store (SQLite or PostgreSQL), a clock, the deployed
definitions and a cache of live instances. Every public method is one operation in
one database transaction: the instance's snapshot and everything that waits on it
(jobs, user tasks, timers, message subscriptions, incidents, history) are written
together. If the transaction fails, the in-memory copy is dropped and nothing
changed.

Wait states are reconciled from the SpiffWorkflow task tree after every step:
a STARTED service task is a job, a READY user task is a user task, a WAITING timer
event is a timer row, a WAITING message event is a subscription. That one rule keeps
the tables and the tree in agreement whatever path the process took.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.defaults import BoundaryEvent, ParallelGateway, ServiceTask, UserTask as SpiffUserTask
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState

from ..clock import Clock, SimulationClock
from ..redact import safe_text
from . import operations, snapshot, store as t
from . import strict as strict_rules
from .errors import (
    DeploymentError,
    EngineError,
    ExpressionError,
    InvalidState,
    InvalidVariables,
    NotFound,
)
from .contract import ContractGuard
from .expressions import ZeebeScriptEngine, clock_scope, evaluate
from .forms import FormSchema, parse_form
from .parser import ParsedProcess, parse_bpmn
from .store import EngineStore, KeyAllocator
from .waits import read_waits
from .views import (
    ActivatedJob,
    DeployedForm,
    DeployedProcess,
    Deployment,
    HistoryEntry,
    Incident,
    Job,
    ProcessInstance,
    PublishedMessage,
    UserTask,
)

log = logging.getLogger(__name__)

ACTIVE, COMPLETED, CANCELED = "ACTIVE", "COMPLETED", "CANCELED"
WAIT_STATES = TaskState.READY | TaskState.STARTED | TaskState.WAITING
DEFAULT_MESSAGE_TTL = timedelta(hours=1)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"process variables must be JSON values, not {type(value).__name__}")


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything the engine stores is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


def _parse_instant(value: Any, where: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ExpressionError(f"{where}: {value!r} is not an ISO 8601 date-time") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _as_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(v) for v in value]


_MAX_KEY = (1 << 63) - 1


def _check_key(key: int, what: str) -> int:
    """Keys are 64-bit, as in Zeebe; anything else names nothing (and must not reach
    the database as a value it cannot hold)."""
    if not isinstance(key, int) or isinstance(key, bool) or not 0 < key <= _MAX_KEY:
        raise NotFound(f"no {what} {key}")
    return key


def _element_instance_key(task_id: UUID) -> int:
    return task_id.int & ((1 << 62) - 1)


@dataclass
class _Definition:
    key: int
    bpmn_process_id: str
    version: int
    resource_name: str
    parsed: ParsedProcess


@dataclass
class _Live:
    """An instance in memory, as of ``revision``."""

    key: int
    definition: _Definition
    workflow: BpmnWorkflow
    revision: int
    state: str
    activated: set[str] = field(default_factory=set)  # task ids with ACTIVATED written
    finished: set[str] = field(default_factory=set)  # task ids with COMPLETED/TERMINATED written
    event_subscriptions: list[list[str]] = field(default_factory=list)


class _Op:
    """What one operation touched; lives for one transaction."""

    def __init__(self, conn: sa.Connection, now: datetime) -> None:
        self.conn = conn
        self.now = now
        self.loaded: dict[int, _Live] = {}
        self.dirty: set[int] = set()
        self.new_instances: set[int] = set()
        self.woke_jobs = False
        self.timers_changed = False


class Engine:
    """The embedded BPMN engine. Thread-safe: operations are serialised."""

    def __init__(self, database_url: str, clock: Clock, *, cache_size: int = 2048, strict: bool = True) -> None:
        self.clock = clock
        # strict: refuse what Zeebe refuses (pepflow/engine/strict.py); False keeps the
        # lenient reading for diagrams written for the embedded engine only
        self.strict = strict
        self._completion_checks: list = []
        self.store = EngineStore(database_url)
        self._keys = KeyAllocator()
        self._lock = threading.RLock()
        self._script_engine = ZeebeScriptEngine(self._spiff_now, strict=strict)
        self._definitions: dict[int, _Definition] = {}
        self._latest: dict[str, int] = {}
        self._forms: dict[str, FormSchema] = {}
        self._deleted: set[int] = set()  # definitions and forms an operator deleted
        self._cache: dict[int, _Live] = {}
        self._cache_size = cache_size
        self._listeners: list = []
        # the process-variable contracts (pepflow/domain/variables.py)
        self.contracts = ContractGuard()
        self._load_definitions()
        if isinstance(clock, SimulationClock):
            clock.on_advance(self._advance_to)

    # ------------------------------------------------------------------ plumbing
    def _spiff_now(self) -> datetime:
        return self.clock.now()

    def add_completion_check(self, check) -> None:
        """``check(task, submitted)`` runs before a user task is completed and raises
        :class:`InvalidVariables` to refuse it (the product's own rules on what a person
        entered, e.g. a meeting date on a school day). Camunda 8 has no such hook: there
        the diagram checks the same values in the step after the task."""
        self._completion_checks.append(check)

    def add_listener(self, listener) -> None:
        """``listener(kind)`` is called after a commit that created jobs ("jobs") or
        changed timers ("timers"); runtimes use it to wake up."""
        self._listeners.append(listener)

    @contextlib.contextmanager
    def _operation(self) -> Iterator[_Op]:
        with self._lock, clock_scope(self._spiff_now):
            op: _Op | None = None
            try:
                with self.store.transaction() as conn:
                    op = _Op(conn, self.clock.now())
                    yield op
                    for key in op.dirty:
                        self._save(op, op.loaded[key])
            except BaseException:
                self._keys.reset()
                if op is not None:
                    for key in op.loaded:
                        self._cache.pop(key, None)
                raise
            for key in op.dirty:
                live = op.loaded[key]
                if live.state == ACTIVE:
                    self._remember(live)
                else:
                    self._cache.pop(key, None)
        if op.woke_jobs or op.timers_changed:
            for listener in list(self._listeners):
                if op.woke_jobs:
                    listener("jobs")
                if op.timers_changed:
                    listener("timers")

    def _remember(self, live: _Live) -> None:
        self._cache[live.key] = live
        if len(self._cache) > self._cache_size:
            self._cache.pop(next(iter(self._cache)))

    def _key(self, op: _Op) -> int:
        return self._keys.next_key(op.conn)

    def close(self) -> None:
        self.store.dispose()

    # ---------------------------------------------------------------- deployment
    def _load_definitions(self) -> None:
        with self.store.transaction() as conn:
            self._deleted = operations.load_deleted(conn)
            rows = conn.execute(
                sa.select(t.process_definitions).order_by(t.process_definitions.c.key)
            ).all()
            for row in rows:
                parsed = {p.bpmn_process_id: p for p in parse_bpmn(row.xml.encode(), row.resource_name)}
                self.contracts.register(row.bpmn_process_id, row.xml)
                self._add_definition(row.key, row.bpmn_process_id, row.version, row.resource_name, parsed[row.bpmn_process_id])
            for row in conn.execute(sa.select(t.forms).order_by(t.forms.c.key)).all():
                if row.key in self._deleted:
                    continue
                self._forms[row.form_id] = parse_form(row.schema.encode(), row.resource_name)

    def _add_definition(self, key, process_id, version, resource_name, parsed) -> None:
        self._definitions[key] = _Definition(key, process_id, version, resource_name, parsed)
        if key in self._deleted:
            return  # running instances still load it; nothing new starts on it
        current = self._latest.get(process_id)
        if current is None or self._definitions[current].version < version:
            self._latest[process_id] = key

    def deploy(self, resources: Iterable[Path | tuple[str, bytes]]) -> Deployment:
        """Deploy BPMN diagrams and Camunda forms together; all or nothing."""
        loaded: list[tuple[str, bytes]] = []
        for resource in resources:
            if isinstance(resource, Path):
                loaded.append((resource.name, resource.read_bytes()))
            else:
                loaded.append(resource)
        if not loaded:
            raise DeploymentError("nothing to deploy")
        processes: list[tuple[str, bytes, ParsedProcess]] = []
        new_forms: dict[str, tuple[str, bytes, FormSchema]] = {}
        for name, content in loaded:
            if name.endswith(".bpmn") or name.endswith(".bpmn20.xml"):
                for parsed in parse_bpmn(content, name):
                    if self.strict:
                        strict_rules.check_deployment(parsed.configs)
                    processes.append((name, content, parsed))
            elif name.endswith(".form"):
                schema = parse_form(content, name)
                new_forms[schema.form_id] = (name, content, schema)
            else:
                raise DeploymentError(f"{name}: only .bpmn and .form resources can be deployed")
        for name, _content, parsed in processes:
            for form_id in sorted(parsed.form_ids):
                if form_id not in new_forms and form_id not in self._forms:
                    raise DeploymentError(
                        f"{name}: a user task links form '{form_id}', which is neither in this deployment nor deployed"
                    )
            self.contracts.check_deploy(
                parsed.bpmn_process_id, _content, name,
                lambda fid: (new_forms[fid][2] if fid in new_forms else self._forms[fid]).rules.keys,
                parsed.form_ids,
            )
        with self._operation() as op:
            conn = op.conn
            deployment_key = self._key(op)
            conn.execute(t.deployments.insert().values(key=deployment_key, deployed_at=op.now))
            deployed_processes: list[DeployedProcess] = []
            added: list[tuple] = []
            for name, content, parsed in processes:
                checksum = hashlib.sha256(content).hexdigest()
                pd = t.process_definitions
                latest = operations.latest_deployed(conn, pd, pd.c.bpmn_process_id, parsed.bpmn_process_id, self._deleted)
                if latest is not None and not self._is_new_version(latest, checksum, name):
                    deployed_processes.append(DeployedProcess(parsed.bpmn_process_id, latest.version, latest.key, name))
                    continue
                version = operations.highest_version(conn, pd, pd.c.bpmn_process_id, parsed.bpmn_process_id) + 1
                key = self._key(op)
                conn.execute(
                    t.process_definitions.insert().values(
                        key=key, deployment_key=deployment_key, bpmn_process_id=parsed.bpmn_process_id,
                        version=version, resource_name=name, checksum=checksum, xml=content.decode("utf-8"),
                    )
                )
                added.append((key, parsed.bpmn_process_id, version, name, parsed))
                deployed_processes.append(DeployedProcess(parsed.bpmn_process_id, version, key, name))
            deployed_forms: list[DeployedForm] = []
            forms_added: dict[str, FormSchema] = {}
            for form_id, (name, content, schema) in new_forms.items():
                checksum = hashlib.sha256(content).hexdigest()
                latest = operations.latest_deployed(conn, t.forms, t.forms.c.form_id, form_id, self._deleted)
                if latest is not None and not self._is_new_version(latest, checksum, name):
                    deployed_forms.append(DeployedForm(form_id, latest.version, latest.key, name))
                    continue
                version = operations.highest_version(conn, t.forms, t.forms.c.form_id, form_id) + 1
                key = self._key(op)
                conn.execute(
                    t.forms.insert().values(
                        key=key, deployment_key=deployment_key, form_id=form_id, version=version,
                        resource_name=name, checksum=checksum, schema=content.decode("utf-8"),
                    )
                )
                forms_added[form_id] = schema
                deployed_forms.append(DeployedForm(form_id, version, key, name))
        # only after the commit: nothing is half-deployed in memory either
        for key, process_id, version, name, parsed in added:
            self._add_definition(key, process_id, version, name, parsed)
            self.contracts.register(process_id, next(c for n, c, p in processes if p is parsed))
        self._forms.update(forms_added)
        return Deployment(deployment_key, deployed_processes, deployed_forms)

    def _is_new_version(self, latest, checksum: str, resource_name: str) -> bool:
        if self.strict:  # Zeebe: same content under another resource name is a new version
            return strict_rules.is_new_version(latest.checksum, latest.resource_name, checksum, resource_name)
        return latest.checksum != checksum

    def form(self, form_id: str) -> FormSchema:
        try:
            return self._forms[form_id]
        except KeyError:
            raise NotFound(f"no form '{form_id}' is deployed") from None

    def definition_xml(self, process_definition_key: int) -> str:
        _check_key(process_definition_key, "process definition")
        with self.store.read() as conn:
            xml = conn.execute(
                sa.select(t.process_definitions.c.xml).where(t.process_definitions.c.key == process_definition_key)
            ).scalar()
        if xml is None:
            raise NotFound(f"no process definition {process_definition_key}")
        return xml

    def latest_definition(self, bpmn_process_id: str) -> DeployedProcess:
        key = self._latest.get(bpmn_process_id)
        if key is None:
            raise NotFound(f"no process '{bpmn_process_id}' is deployed")
        d = self._definitions[key]
        return DeployedProcess(d.bpmn_process_id, d.version, d.key, d.resource_name)

    # ------------------------------------------------------------------ instances
    def create_instance(
        self, bpmn_process_id: str, variables: Mapping[str, Any] | None = None, *, version: int | None = None
    ) -> int:
        """Start an instance at the process's none start event."""
        definition = self._definition_for(bpmn_process_id, version)
        if not definition.parsed.has_none_start:
            raise InvalidState(
                f"process '{bpmn_process_id}' has no none start event; start it by publishing a message"
            )
        self.contracts.check(bpmn_process_id, dict(variables or {}), "start variables")
        with self._operation() as op:
            live = self._new_instance(op, definition, dict(variables or {}), None)
            self._step(op, live)
            return live.key

    def _definition_for(self, bpmn_process_id: str, version: int | None) -> _Definition:
        if version is None:
            key = self._latest.get(bpmn_process_id)
            if key is None:
                raise NotFound(f"no process '{bpmn_process_id}' is deployed")
            return self._definitions[key]
        for definition in self._definitions.values():
            if definition.bpmn_process_id == bpmn_process_id and definition.version == version and definition.key not in self._deleted:
                return definition
        raise NotFound(f"process '{bpmn_process_id}' has no version {version}")

    def _new_instance(self, op: _Op, definition: _Definition, variables: dict, start_key: str | None) -> _Live:
        _json(variables)  # refuse what is not JSON before anything is written
        workflow = BpmnWorkflow(
            definition.parsed.spec, definition.parsed.subprocess_specs, script_engine=self._script_engine
        )
        workflow.task_tree.data.update(variables)
        key = self._key(op)
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

    def _load(self, op: _Op, key: int) -> _Live:
        _check_key(key, "process instance")
        if key in op.loaded:
            return op.loaded[key]
        row = op.conn.execute(
            sa.select(t.instances.c.revision, t.instances.c.state, t.instances.c.process_definition_key)
            .where(t.instances.c.key == key)
        ).first()
        if row is None:
            raise NotFound(f"no process instance {key}")
        live = self._cache.get(key)
        if live is None or live.revision != row.revision:
            text = op.conn.execute(sa.select(t.instances.c.snapshot).where(t.instances.c.key == key)).scalar()
            definition = self._definitions[row.process_definition_key]
            workflow, extra = snapshot.load(
                text, definition.parsed.spec, definition.parsed.subprocess_specs, self._script_engine
            )
            live = _Live(
                key=key, definition=definition, workflow=workflow, revision=row.revision, state=row.state,
                activated=set(extra.get("activated", [])), finished=set(extra.get("finished", [])),
                event_subscriptions=extra.get("event_subscriptions", []),
            )
        op.loaded[key] = live
        return live

    def _modify(self, op: _Op, key: int) -> _Live:
        live = self._load(op, key)
        if live.state != ACTIVE:
            raise InvalidState(f"process instance {key} is {live.state.lower()}")
        op.dirty.add(key)
        return live

    def cancel_instance(self, process_instance_key: int) -> None:
        with self._operation() as op:
            live = self._modify(op, process_instance_key)
            live.workflow.cancel()
            live.state = CANCELED

    def set_variables(self, process_instance_key: int, variables: Mapping[str, Any]) -> None:
        """Set variables at the process scope (every active token sees them)."""
        _json(dict(variables))
        with self._operation() as op:
            live = self._modify(op, process_instance_key)
            self.contracts.check(live.definition.bpmn_process_id, dict(variables), "set variables")
            for wf in self._workflows(live.workflow):
                for task in wf.get_tasks(state=TaskState.NOT_FINISHED_MASK):
                    task.data.update(variables)
            live.workflow.data.update(variables)

    # -------------------------------------------------------------------- messages
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
        self.contracts.check_message(name, payload)
        correlation_key = str(correlation_key)
        with self._operation() as op:
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
            key = self._key(op)
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
                live = self._modify(op, row.instance_key)
                self._deliver(op, live, row.task_id, row.element_id, name, payload)
                correlated.append(live.key)
                conn.execute(t.message_correlations.insert().values(message_key=key, instance_key=live.key))
            # message start events: one per process (latest version); at most one
            # active instance per correlation key, as in Zeebe
            for process_id, definition_key in list(self._latest.items()):
                definition = self._definitions[definition_key]
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
                live = self._new_instance(op, definition, {}, correlation_key or None)
                self._step(op, live)
                start = self._waiting_start_event(live, element_id)
                self._catch_message(start, name, payload)
                self._step(op, live)
                started.append(live.key)
                correlated.append(live.key)
                conn.execute(t.message_correlations.insert().values(message_key=key, instance_key=live.key))
            if not buffered:
                conn.execute(t.messages.delete().where(t.messages.c.key == key))
            return PublishedMessage(key, correlated, started, buffered)

    def _waiting_start_event(self, live: _Live, element_id: str):
        for task in live.workflow.get_tasks(state=TaskState.WAITING):
            if getattr(task.task_spec, "bpmn_id", None) == element_id:
                return task
        raise EngineError(f"start event '{element_id}' is not waiting in instance {live.key}")

    @staticmethod
    def _catch_message(task, name: str, payload: dict) -> None:
        event = BpmnEvent(MessageEventDefinition(name), payload=dict(payload))
        task.task_spec.catch(task, event)
        task.task_spec._update(task)

    def _deliver(self, op: _Op, live: _Live, task_id: str, element_id: str, name: str, payload: dict) -> None:
        if task_id:
            task = self._task(live, task_id)
            self._catch_message(task, name, payload)
        else:
            # an event subprocess's message start event: it sees the process variables
            variables = self._process_variables(live.workflow)
            live.workflow.catch(BpmnEvent(MessageEventDefinition(name), payload=dict(payload)))
            self._interrupt_for_event_subprocess(live, element_id)
            self._share_variables_with_event_subprocess(live, element_id, variables)
        self._step(op, live)

    def _share_variables_with_event_subprocess(self, live: _Live, start_element_id: str, variables: dict) -> None:
        """Spiff starts an event subprocess from the root task's data; in Zeebe it sees
        every process variable, so hand them in (the message's own variables win)."""
        wf = live.workflow
        for sub_id, start_id, _name, _key, _interrupting in self._event_subprocesses(live):
            if start_id != start_element_id:
                continue
            for task in wf.get_tasks(state=TaskState.NOT_FINISHED_MASK):
                if getattr(task.task_spec, "bpmn_id", None) != sub_id:
                    continue
                task.data = {**variables, **task.data}
                subworkflow = wf.subprocesses.get(task.id)
                if subworkflow is not None:
                    for inner in subworkflow.tasks.values():
                        inner.data = {**variables, **inner.data}

    def _interrupt_for_event_subprocess(self, live: _Live, start_element_id: str) -> None:
        """An interrupting event subprocess ends everything else in its scope."""
        for sub_id, start_id, _name, _key, interrupting in self._event_subprocesses(live):
            if start_id != start_element_id or not interrupting:
                continue
            wf = live.workflow
            keep: set[UUID] = set()
            for task in wf.get_tasks(state=TaskState.NOT_FINISHED_MASK):
                if getattr(task.task_spec, "bpmn_id", None) == sub_id:
                    keep |= {d.id for d in task}
                    subworkflow = wf.subprocesses.get(task.id)
                    if subworkflow is not None:
                        keep |= set(subworkflow.tasks)
                    node = task
                    while node is not None:
                        keep.add(node.id)
                        node = node.parent
            for task in list(wf.get_tasks(state=TaskState.NOT_FINISHED_MASK)):
                if task.id in keep or task.has_state(TaskState.FINISHED_MASK):
                    continue
                if task.task_spec.name.endswith(".EndJoin") or task.task_spec.name == "End":
                    continue
                task.cancel()
            live.event_subscriptions = []

    def _event_subprocesses(self, live: _Live):
        for sub_id, start_id, name, key in live.definition.parsed.event_subprocess_messages:
            spec = live.definition.parsed.subprocess_specs.get(sub_id)
            start_spec = spec.task_specs.get(start_id) if spec is not None else None
            interrupting = getattr(start_spec, "interrupting", True) if start_spec is not None else True
            yield sub_id, start_id, name, key, interrupting

    # ------------------------------------------------------------------------ jobs
    def activate_jobs(
        self,
        job_type: str,
        worker: str,
        max_jobs: int = 32,
        timeout: timedelta = timedelta(minutes=5),
        fetch_variables: list[str] | None = None,
    ) -> list[ActivatedJob]:
        """Activate up to ``max_jobs`` jobs of a type; a timed-out activation is
        taken back and handed out again."""
        with self._operation() as op:
            now = op.now
            j = t.jobs
            rows = op.conn.execute(
                sa.select(j)
                .where(
                    j.c.type == job_type,
                    sa.or_(
                        sa.and_(j.c.state == "ACTIVATABLE", sa.or_(j.c.retry_at.is_(None), j.c.retry_at <= now)),
                        sa.and_(j.c.state == "ACTIVATED", j.c.deadline < now),
                    ),
                )
                .order_by(j.c.key)
                .limit(max_jobs)
            ).all()
            activated: list[ActivatedJob] = []
            deadline = now + timeout
            for row in rows:
                op.conn.execute(
                    j.update().where(j.c.key == row.key).values(
                        state="ACTIVATED", worker=worker, deadline=deadline, retry_at=None,
                        activations=row.activations + 1,
                    )
                )
                live = self._load(op, row.instance_key)
                task = self._task(live, row.task_id)
                variables = {**self._visible_variables(task), **json.loads(row.local_variables)}
                if fetch_variables:
                    variables = {k: v for k, v in variables.items() if k in fetch_variables}
                activated.append(
                    ActivatedJob(
                        key=row.key, type=row.type, process_instance_key=row.instance_key,
                        bpmn_process_id=live.definition.bpmn_process_id,
                        process_definition_version=live.definition.version,
                        process_definition_key=live.definition.key, element_id=row.element_id,
                        element_instance_key=row.element_instance_key,
                        custom_headers=json.loads(row.custom_headers), worker=worker, retries=row.retries,
                        deadline=deadline, variables=variables, activation=row.activations + 1,
                    )
                )
            return activated

    @staticmethod
    def _visible_variables(task) -> dict:
        return {k: v for k, v in task.data.items() if k != "data_objects"}

    def _job_row(self, op: _Op, job_key: int, activation: int | None):
        _check_key(job_key, "job")
        row = op.conn.execute(sa.select(t.jobs).where(t.jobs.c.key == job_key)).first()
        if row is None:
            raise NotFound(f"no job {job_key} (it may have been completed or its element left)")
        if row.state != "ACTIVATED":
            raise InvalidState(f"job {job_key} is not activated (state {row.state.lower()})")
        if activation is not None and row.activations != activation:
            raise InvalidState(f"job {job_key} timed out and was activated again; this result is stale")
        if _aware(row.deadline) < op.now:
            raise InvalidState(f"job {job_key} timed out at {_aware(row.deadline).isoformat()}")
        return row

    def complete_job(self, job_key: int, variables: Mapping[str, Any] | None = None, *, activation: int | None = None) -> None:
        result = dict(variables or {})
        _json(result)
        with self._operation() as op:
            row = self._job_row(op, job_key, activation)
            live = self._modify(op, row.instance_key)
            self.contracts.check(live.definition.bpmn_process_id, result, f"job {job_key} ({row.element_id}) result")
            task = self._task(live, row.task_id)
            local = json.loads(row.local_variables)
            self._apply_result(op, task, local, result)
            op.conn.execute(t.jobs.delete().where(t.jobs.c.key == job_key))
            task.complete()
            self._step(op, live)

    def _apply_result(self, op: _Op, task, local: dict, result: dict) -> None:
        config = task.task_spec.zeebe
        if config is not None and config.outputs:
            context = {**task.data, **local, **result}
            where = f"element '{config.element_id}' output mapping"
            for mapping in config.outputs:
                value = evaluate(mapping.source, context, op.now, where)
                _set_path(task.data, mapping.target, value)
        else:
            task.data.update(result)

    def fail_job(
        self,
        job_key: int,
        retries: int,
        error_message: str = "",
        *,
        retry_backoff: timedelta = timedelta(0),
        variables: Mapping[str, Any] | None = None,
        activation: int | None = None,
    ) -> None:
        with self._operation() as op:
            row = self._job_row(op, job_key, activation)
            if variables:
                live = self._modify(op, row.instance_key)
                self.contracts.check(live.definition.bpmn_process_id, dict(variables), f"job {job_key} failure variables")
                self._task(live, row.task_id).data.update(dict(variables))
            if retries > 0:
                op.conn.execute(
                    t.jobs.update().where(t.jobs.c.key == job_key).values(
                        state="ACTIVATABLE", retries=retries, worker=None, deadline=None,
                        retry_at=op.now + retry_backoff if retry_backoff > timedelta(0) else None,
                        error_message=error_message,
                    )
                )
                op.woke_jobs = True
                if retry_backoff > timedelta(0):
                    op.timers_changed = True
            else:
                op.conn.execute(
                    t.jobs.update().where(t.jobs.c.key == job_key).values(
                        state="FAILED", retries=0, worker=None, deadline=None, error_message=error_message,
                    )
                )
                self._raise_incident(
                    op, row.instance_key, row.element_id, row.task_id, "JOB_NO_RETRIES",
                    error_message or "the job failed and has no retries left", job_key=job_key,
                )

    def throw_error(
        self,
        job_key: int,
        error_code: str,
        error_message: str = "",
        *,
        variables: Mapping[str, Any] | None = None,
        activation: int | None = None,
    ) -> None:
        """A BPMN error from a job: caught by an error boundary event on the task or
        an enclosing subprocess; an incident if nothing catches it."""
        with self._operation() as op:
            row = self._job_row(op, job_key, activation)
            live = self._modify(op, row.instance_key)
            self.contracts.check(live.definition.bpmn_process_id, dict(variables or {}), f"job {job_key} error variables")
            task = self._task(live, row.task_id)
            catcher = self._find_error_catcher(live, task, error_code)
            if catcher is None:
                op.conn.execute(
                    t.jobs.update().where(t.jobs.c.key == job_key).values(
                        state="FAILED", retries=0, worker=None, deadline=None,
                        error_message=error_message or f"unhandled error {error_code}",
                    )
                )
                self._raise_incident(
                    op, row.instance_key, row.element_id, row.task_id, "UNHANDLED_ERROR_EVENT",
                    f"no error boundary event catches error code '{error_code}': {error_message}".strip(": "),
                    job_key=job_key,
                )
                return
            event = BpmnEvent(ErrorEventDefinition(error_code, error_code), payload=dict(variables or {}))
            catcher.task_spec.catch(catcher, event)
            catcher.task_spec._update(catcher)
            self._step(op, live)

    def _find_error_catcher(self, live: _Live, task, error_code: str):
        node = task
        while node is not None:
            parent = node.parent
            if parent is not None and parent.task_spec.__class__.__name__ == "BoundaryEventSplit":
                for sibling in parent.children:
                    if sibling is node or sibling.state != TaskState.WAITING:
                        continue
                    definition = getattr(sibling.task_spec, "event_definition", None)
                    if isinstance(definition, ErrorEventDefinition) and definition.code in (None, error_code):
                        return sibling
            # climb out of an embedded subprocess to the task that runs it
            workflow = node.workflow
            parent_task_id = getattr(workflow, "parent_task_id", None)
            node = live.workflow.get_task_from_id(parent_task_id) if parent_task_id else None
        return None

    def update_job_retries(self, job_key: int, retries: int) -> None:
        _check_key(job_key, "job")
        if retries < 0:
            raise InvalidVariables("retries must not be negative")
        with self._operation() as op:
            row = op.conn.execute(sa.select(t.jobs.c.key).where(t.jobs.c.key == job_key)).first()
            if row is None:
                raise NotFound(f"no job {job_key}")
            op.conn.execute(t.jobs.update().where(t.jobs.c.key == job_key).values(retries=retries))

    def update_job_timeout(self, job_key: int, timeout: timedelta) -> None:
        """An activated job's deadline becomes now + ``timeout`` (:mod:`.operations`)."""
        _check_key(job_key, "job")
        operations.update_job_timeout(self, job_key, timeout)

    def delete_resource(self, key: int) -> str:
        """Delete a deployed process definition or form (:mod:`.operations`)."""
        return operations.delete_resource(self, key)

    def definition(self, process_definition_key: int) -> DeployedProcess:
        """A deployed (not deleted) process definition by key."""
        d = self._definitions.get(process_definition_key)
        if d is None or d.key in self._deleted:
            raise NotFound(f"no process definition with key {process_definition_key}")
        return DeployedProcess(d.bpmn_process_id, d.version, d.key, d.resource_name)

    def job(self, job_key: int) -> Job:
        _check_key(job_key, "job")
        with self.store.read() as conn:
            row = conn.execute(sa.select(t.jobs).where(t.jobs.c.key == job_key)).first()
        if row is None:
            raise NotFound(f"no job {job_key}")
        return _job_view(row)

    def jobs(self, process_instance_key: int | None = None) -> list[Job]:
        query = sa.select(t.jobs).order_by(t.jobs.c.key)
        if process_instance_key is not None:
            query = query.where(t.jobs.c.instance_key == process_instance_key)
        with self.store.read() as conn:
            return [_job_view(row) for row in conn.execute(query).all()]

    def release_jobs(self, worker_prefix: str, except_worker: str | None = None) -> int:
        """Hand back jobs activated by workers that are gone (an earlier run of the
        in-process worker), so they need not wait for their timeout."""
        with self._operation() as op:
            query = t.jobs.update().where(t.jobs.c.state == "ACTIVATED", t.jobs.c.worker.like(f"{worker_prefix}%"))
            if except_worker:
                query = query.where(t.jobs.c.worker != except_worker)
            count = op.conn.execute(query.values(state="ACTIVATABLE", worker=None, deadline=None)).rowcount
            op.woke_jobs = count > 0
            return count

    def next_job_due(self) -> datetime | None:
        """When the next job comes back from a backoff or a timeout (for wake-ups)."""
        with self.store.read() as conn:
            retry = conn.execute(
                sa.select(sa.func.min(t.jobs.c.retry_at)).where(t.jobs.c.state == "ACTIVATABLE")
            ).scalar()
            deadline = conn.execute(
                sa.select(sa.func.min(t.jobs.c.deadline)).where(t.jobs.c.state == "ACTIVATED")
            ).scalar()
        values = [_aware(v) for v in (retry, deadline) if v is not None]
        return min(values) if values else None

    def activatable_job_types(self) -> set[str]:
        now = self.clock.now()
        j = t.jobs
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(j.c.type).distinct().where(
                    sa.or_(
                        sa.and_(j.c.state == "ACTIVATABLE", sa.or_(j.c.retry_at.is_(None), j.c.retry_at <= now)),
                        sa.and_(j.c.state == "ACTIVATED", j.c.deadline < now),
                    )
                )
            ).all()
        return {row.type for row in rows}

    # ------------------------------------------------------------------ user tasks
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
        with self.store.read() as conn:
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
        with self.store.read() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(u).where(*conditions)).scalar_one()
            rows = conn.execute(
                sa.select(u).where(*conditions).order_by(*order).offset(offset).limit(limit)
            ).all()
        return total, [_user_task_view(row) for row in rows]

    def user_task(self, user_task_key: int) -> UserTask:
        _check_key(user_task_key, "user task")
        with self.store.read() as conn:
            row = conn.execute(sa.select(t.user_tasks).where(t.user_tasks.c.key == user_task_key)).first()
        if row is None:
            raise NotFound(f"no user task {user_task_key}")
        return _user_task_view(row)

    def claim(self, user_task_key: int, assignee: str, *, allow_override: bool = False) -> UserTask:
        if not assignee:
            raise InvalidVariables("an assignee is needed to claim a task")
        with self._operation() as op:
            row = self._open_user_task(op, user_task_key)
            if row.assignee and row.assignee != assignee and not allow_override:
                raise InvalidState(f"user task {user_task_key} is already assigned to {row.assignee}")
            op.conn.execute(t.user_tasks.update().where(t.user_tasks.c.key == user_task_key).values(assignee=assignee))
        return self.user_task(user_task_key)

    def unclaim(self, user_task_key: int) -> UserTask:
        with self._operation() as op:
            self._open_user_task(op, user_task_key)
            op.conn.execute(t.user_tasks.update().where(t.user_tasks.c.key == user_task_key).values(assignee=None))
        return self.user_task(user_task_key)

    def reassign_user_task(self, user_task_key: int, *, assignee: str | None, candidate_groups: Iterable[str]) -> UserTask:
        """Give an open task to someone else (a change of allocation): its assignee and
        candidate groups are replaced (Camunda: assign + update candidate groups)."""
        with self._operation() as op:
            self._open_user_task(op, user_task_key)
            op.conn.execute(t.user_tasks.update().where(t.user_tasks.c.key == user_task_key).values(
                assignee=assignee or None, candidate_groups=_json(list(candidate_groups))))
        return self.user_task(user_task_key)

    def _open_user_task(self, op: _Op, user_task_key: int):
        _check_key(user_task_key, "user task")
        row = op.conn.execute(sa.select(t.user_tasks).where(t.user_tasks.c.key == user_task_key)).first()
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
        with self._operation() as op:
            row = self._open_user_task(op, user_task_key)
            live = self._modify(op, row.instance_key)
            task = self._task(live, row.task_id)
            submitted = self.check_submission(live.definition.bpmn_process_id, row.form_id, task.data, submitted, op.now)
            for check in self._completion_checks:  # on values the form has already checked
                check(_user_task_view(row), submitted)
            self._apply_result(op, task, {}, submitted)
            op.conn.execute(
                t.user_tasks.update().where(t.user_tasks.c.key == user_task_key).values(
                    state="COMPLETED", completed_at=op.now, completed_by=actor or row.assignee,
                    variables=_json(submitted),
                )
            )
            task.run()
            self._step(op, live)

    def check_submission(self, bpmn_process_id: str, form_id: str | None, context: Mapping[str, Any],
                         submitted: Mapping[str, Any], now: datetime, *, partial: bool = False) -> dict[str, Any]:
        """What a person may submit for a task of ``form_id`` (also used for drafts)."""
        context = {k: v for k, v in context.items() if k != "data_objects"}
        if form_id:
            checked = self.form(form_id).validate(
                submitted, context, now=now,
                process_variables=self.contracts.process_variables(bpmn_process_id), partial=partial,
            )
        elif self.contracts.has_contract(bpmn_process_id) and submitted:
            raise InvalidVariables("this task has no form: it takes no values",
                                   problems=["this task has no form: it takes no values"])
        else:
            checked = dict(submitted)
        self.contracts.check(bpmn_process_id, checked, "task completion")
        return checked

    # ------------------------------------------------------------------- incidents
    def incidents(self, *, state: str | None = "ACTIVE", process_instance_key: int | None = None) -> list[Incident]:
        query = sa.select(t.incidents).order_by(t.incidents.c.key)
        if state:
            query = query.where(t.incidents.c.state == state)
        if process_instance_key is not None:
            query = query.where(t.incidents.c.instance_key == process_instance_key)
        with self.store.read() as conn:
            return [_incident_view(row) for row in conn.execute(query).all()]

    def resolve_incident(self, incident_key: int, *, retries: int | None = None) -> None:
        """Resolve an incident after the cause was fixed. For a job incident, give the
        job ``retries`` (default 1) so a worker picks it up again."""
        _check_key(incident_key, "incident")
        with self._operation() as op:
            row = op.conn.execute(sa.select(t.incidents).where(t.incidents.c.key == incident_key)).first()
            if row is None:
                raise NotFound(f"no incident {incident_key}")
            if row.state != "ACTIVE":
                raise InvalidState(f"incident {incident_key} is already resolved")
            op.conn.execute(
                t.incidents.update().where(t.incidents.c.key == incident_key).values(state="RESOLVED", resolved_at=op.now)
            )
            if row.job_key is not None:
                job = op.conn.execute(sa.select(t.jobs).where(t.jobs.c.key == row.job_key)).first()
                if job is not None:
                    new_retries = retries if retries is not None else max(job.retries, 1)
                    if new_retries < 1:
                        raise InvalidState(f"job {row.job_key} has no retries; give it retries to resolve the incident")
                    op.conn.execute(
                        t.jobs.update().where(t.jobs.c.key == row.job_key).values(
                            state="ACTIVATABLE", retries=new_retries, retry_at=None
                        )
                    )
                    op.woke_jobs = True
            else:
                live = self._modify(op, row.instance_key)
                self._step(op, live)

    def _raise_incident(
        self, op: _Op, instance_key: int, element_id: str, task_id: str | None, error_type: str, message: str,
        *, job_key: int | None = None,
    ) -> None:
        existing = op.conn.execute(
            sa.select(t.incidents.c.key).where(
                t.incidents.c.instance_key == instance_key, t.incidents.c.element_id == element_id,
                t.incidents.c.error_type == error_type, t.incidents.c.state == "ACTIVE",
            )
        ).first()
        if existing is not None:
            return
        message = safe_text(message)  # operators read incidents: codes and references only
        log.warning("incident on %s in instance %s: %s", element_id, instance_key, message)
        op.conn.execute(
            t.incidents.insert().values(
                key=self._key(op), instance_key=instance_key, element_id=element_id, task_id=task_id,
                job_key=job_key, error_type=error_type, error_message=message, state="ACTIVE", created_at=op.now,
            )
        )

    # ---------------------------------------------------------------------- timers
    def next_timer_due(self) -> datetime | None:
        with self.store.read() as conn:
            value = conn.execute(sa.select(sa.func.min(t.timers.c.due_at))).scalar()
        return _aware(value)

    def fire_due_timers(self, limit: int = 1000) -> int:
        """Fire every timer that is due now, earliest first; return how many instances
        moved. A timer that fell due while the engine was stopped fires here too."""
        fired = 0
        while fired < limit:
            now = self.clock.now()
            with self.store.read() as conn:
                row = conn.execute(
                    sa.select(t.timers.c.instance_key)
                    .where(t.timers.c.due_at <= now)
                    .order_by(t.timers.c.due_at, t.timers.c.instance_key)
                    .limit(1)
                ).first()
            if row is None:
                break
            with self._operation() as op:
                live = self._modify(op, row.instance_key)
                live.workflow.refresh_timers()
                self._step(op, live)
            fired += 1
        return fired

    def _advance_to(self, target: datetime) -> None:
        """SimulationClock listener: walk the clock through due timers in order."""
        clock = self.clock
        while True:
            due = self.next_timer_due()
            if due is None or due > target:
                break
            if due > clock.now():
                clock.set(due)
            self.fire_due_timers()
        if clock.now() < target:
            clock.set(target)

    # ---------------------------------------------------------------------- views
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
        with self.store.read() as conn:
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
        i = t.instances
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(i.c.key, i.c.process_definition_key, i.c.variables)
                .where(i.c.bpmn_process_id == bpmn_process_id, i.c.state == ACTIVE).order_by(i.c.key)
            ).all()
        return [(row.key, row.process_definition_key, json.loads(row.variables)) for row in rows]

    def instance(self, process_instance_key: int) -> ProcessInstance:
        _check_key(process_instance_key, "process instance")
        with self.store.read() as conn:
            row = conn.execute(sa.select(t.instances).where(t.instances.c.key == process_instance_key)).first()
        if row is None:
            raise NotFound(f"no process instance {process_instance_key}")
        return ProcessInstance(
            row.key, row.bpmn_process_id, row.version, row.process_definition_key, row.state,
            json.loads(row.active_elements), _aware(row.started_at), _aware(row.ended_at),
            json.loads(row.variables), self.incidents(state="ACTIVE", process_instance_key=row.key),
        )

    def history(self, process_instance_key: int) -> list[HistoryEntry]:
        _check_key(process_instance_key, "process instance")
        h = t.history
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(h).where(h.c.instance_key == process_instance_key).order_by(h.c.id)
            ).all()
        return [HistoryEntry(r.element_id, r.element_type, r.event, _aware(r.at)) for r in rows]

    def stored_state_bytes(self, process_instance_key: int) -> int:
        _check_key(process_instance_key, "process instance")
        with self.store.read() as conn:
            text = conn.execute(
                sa.select(t.instances.c.snapshot).where(t.instances.c.key == process_instance_key)
            ).scalar()
        return len((text or "").encode())

    # ------------------------------------------------------------ stepping & saving
    @staticmethod
    def _workflows(workflow: BpmnWorkflow):
        return [workflow, *workflow.subprocesses.values()]

    def _task(self, live: _Live, task_id: str):
        task = live.workflow.get_task_from_id(UUID(task_id))
        if task is None:
            raise NotFound(f"element {task_id} is no longer active in instance {live.key}")
        return task

    def _step(self, op: _Op, live: _Live) -> None:
        """Run the engine until every token waits; an error becomes an incident."""
        try:
            live.workflow.do_engine_steps()
        except (ExpressionError, WorkflowException, EngineError) as exc:
            log.debug("step failed", exc_info=True)
            task = getattr(exc, "task", None)
            element_id = getattr(getattr(task, "task_spec", None), "bpmn_id", None) or "process"
            task_id = str(task.id) if task is not None else None
            self._raise_incident(op, live.key, element_id, task_id, "EXTRACT_VALUE_ERROR", str(exc))

    def _save(self, op: _Op, live: _Live) -> None:
        workflow = live.workflow
        for _ in range(20):
            if not self._reconcile(op, live):
                break
        if live.state == ACTIVE and workflow.is_completed():
            live.state = COMPLETED
        if live.state != ACTIVE:
            self._clear_waits(op, live)
        self._write_history(op, live)
        removed = snapshot.compact(workflow)
        if removed:
            gone = {str(r) for r in removed}
            live.activated -= gone
            live.finished -= gone
        text = snapshot.dump(
            workflow,
            {
                "activated": sorted(live.activated),
                "finished": sorted(live.finished),
                "event_subscriptions": live.event_subscriptions,
            },
        )
        active = sorted({e for e in self._active_elements(live)})
        values = dict(
            state=live.state, snapshot=text, active_elements=_json(active),
            variables=_json(self._process_variables(workflow)), revision=live.revision + 1,
        )
        if live.state != ACTIVE:
            values["ended_at"] = op.now
        result = op.conn.execute(
            t.instances.update()
            .where(t.instances.c.key == live.key, t.instances.c.revision == live.revision)
            .values(**values)
        )
        if result.rowcount != 1:
            raise InvalidState(f"process instance {live.key} was changed by someone else; try again")
        live.revision += 1

    def _active_elements(self, live: _Live) -> Iterator[str]:
        if live.state != ACTIVE:
            return
        for wf in self._workflows(live.workflow):
            for task in wf.get_tasks(state=WAIT_STATES):
                element_id = getattr(task.task_spec, "bpmn_id", None)
                # a boundary event waiting on its task is a subscription, not a token
                # a parallel join waiting for its other branches holds no token either
                if element_id and not isinstance(task.task_spec, (BoundaryEvent, ParallelGateway)):
                    yield element_id

    def _process_variables(self, workflow: BpmnWorkflow) -> dict:
        if workflow.is_completed():
            data = dict(workflow.data)
        else:
            data = {}
            tasks = sorted(workflow.get_tasks(state=WAIT_STATES), key=lambda task: task.last_state_change)
            for task in tasks:
                data.update(task.data)
            if not tasks:
                data.update(workflow.data)
        data.pop("data_objects", None)
        return data

    def _write_history(self, op: _Op, live: _Live) -> None:
        rows = []
        for wf in self._workflows(live.workflow):
            for task in wf.tasks.values():
                element_id = getattr(task.task_spec, "bpmn_id", None)
                if not element_id:
                    continue
                tid = str(task.id)
                if task.has_state(WAIT_STATES) and tid not in live.activated:
                    live.activated.add(tid)
                    rows.append((element_id, task.task_spec, "ACTIVATED"))
                elif task.has_state(TaskState.FINISHED_MASK) and tid not in live.finished:
                    if task.state == TaskState.CANCELLED and (
                        tid not in live.activated or isinstance(task.task_spec, ParallelGateway)
                    ):
                        # a predicted path never taken, or a join token merged into the
                        # one that fired: neither is a terminated element
                        live.finished.add(tid)
                        continue
                    live.finished.add(tid)
                    live.activated.add(tid)
                    event = "COMPLETED" if task.state == TaskState.COMPLETED else "TERMINATED"
                    rows.append((element_id, task.task_spec, event))
        if rows:
            op.conn.execute(
                t.history.insert(),
                [
                    dict(
                        instance_key=live.key, element_id=element_id,
                        element_type=getattr(spec, "zeebe", None).element_type if getattr(spec, "zeebe", None) else type(spec).__name__,
                        event=event, at=op.now,
                    )
                    for element_id, spec, event in rows
                ],
            )

    def _clear_waits(self, op: _Op, live: _Live) -> None:
        conn, key = op.conn, live.key
        conn.execute(t.jobs.delete().where(t.jobs.c.instance_key == key))
        conn.execute(
            t.user_tasks.update().where(t.user_tasks.c.instance_key == key, t.user_tasks.c.state == "CREATED").values(state="CANCELED")
        )
        conn.execute(t.timers.delete().where(t.timers.c.instance_key == key))
        conn.execute(t.subscriptions.delete().where(t.subscriptions.c.instance_key == key))
        conn.execute(
            t.incidents.update().where(t.incidents.c.instance_key == key, t.incidents.c.state == "ACTIVE").values(state="RESOLVED", resolved_at=op.now)
        )
        op.timers_changed = True

    def _reconcile(self, op: _Op, live: _Live) -> bool:
        """Bring jobs, user tasks, timers and subscriptions in line with the task tree.
        Returns True when a buffered message was correlated (the tree moved again)."""
        if live.state != ACTIVE:
            return False
        conn, key, wf = op.conn, live.key, live.workflow
        jobs_wanted: dict[str, Any] = {}
        user_tasks_wanted: dict[str, Any] = {}
        timers_wanted: dict[str, tuple[str, datetime]] = {}
        subs_wanted: dict[tuple[str, str], tuple[str, Any]] = {}
        for workflow in self._workflows(wf):
            for task in workflow.get_tasks(state=WAIT_STATES):
                spec = task.task_spec
                config = getattr(spec, "zeebe", None)
                tid = str(task.id)
                if isinstance(spec, ServiceTask) and task.state == TaskState.STARTED and config is not None:
                    jobs_wanted[tid] = task
                elif isinstance(spec, SpiffUserTask) and task.state == TaskState.READY:
                    user_tasks_wanted[tid] = task
                elif task.state == TaskState.WAITING:
                    definition = getattr(spec, "event_definition", None)
                    if isinstance(definition, MultipleEventDefinition):
                        # an event-based gateway holds the events of the catch events after it
                        branches = zip(definition.event_definitions, spec.outputs)
                    else:
                        branches = [(definition, spec)]
                    for branch_definition, branch_spec in branches:
                        branch_config = getattr(branch_spec, "zeebe", None)
                        if isinstance(branch_definition, TimerEventDefinition):
                            due = self._timer_due(task, branch_definition)
                            if due is not None:
                                timers_wanted[tid] = (spec.bpmn_id, due)
                        elif (
                            isinstance(branch_definition, MessageEventDefinition)
                            and branch_config is not None
                            and branch_config.correlation_key
                        ):
                            subs_wanted[(tid, branch_spec.bpmn_id)] = (branch_definition.name, task, branch_config)

        # what the store holds for the instance now, in one statement (pepflow/engine/waits.py)
        waits = read_waits(conn, key)
        # jobs
        existing_jobs = waits.jobs
        for tid, task in jobs_wanted.items():
            if tid not in existing_jobs:
                self._create_job(op, live, task)
        gone_jobs = [existing_jobs[tid] for tid in existing_jobs if tid not in jobs_wanted]
        if gone_jobs:
            conn.execute(t.jobs.delete().where(t.jobs.c.key.in_(gone_jobs)))
            conn.execute(
                t.incidents.update().where(t.incidents.c.job_key.in_(gone_jobs), t.incidents.c.state == "ACTIVE")
                .values(state="RESOLVED", resolved_at=op.now)
            )

        # user tasks
        existing_tasks = waits.user_tasks
        for tid, task in user_tasks_wanted.items():
            if tid not in existing_tasks:
                self._create_user_task(op, live, task)
        gone_tasks = [existing_tasks[tid] for tid in existing_tasks if tid not in user_tasks_wanted]
        if gone_tasks:
            conn.execute(t.user_tasks.update().where(t.user_tasks.c.key.in_(gone_tasks)).values(state="CANCELED"))

        # timers
        existing_timers = waits.timers
        for tid, (element_id, due) in timers_wanted.items():
            if existing_timers.get(tid) != due:
                if tid in existing_timers:
                    conn.execute(t.timers.update().where(t.timers.c.task_id == tid).values(due_at=due))
                else:
                    conn.execute(t.timers.insert().values(task_id=tid, instance_key=key, element_id=element_id, due_at=due))
                op.timers_changed = True
        gone_timers = [tid for tid in existing_timers if tid not in timers_wanted]
        if gone_timers:
            conn.execute(t.timers.delete().where(t.timers.c.task_id.in_(gone_timers)))
            op.timers_changed = True

        # message subscriptions (catch events, and event subprocess starts)
        existing_subs = waits.subscriptions
        new_subs: list[tuple[str, str, str, str]] = []
        for (tid, element_id), (name, task, config) in subs_wanted.items():
            if (tid, element_id) in existing_subs:
                continue
            try:
                value = evaluate(config.correlation_key, task.data, op.now, f"element '{element_id}' correlationKey")
            except ExpressionError as exc:
                self._raise_incident(op, key, element_id, tid, "EXTRACT_VALUE_ERROR", str(exc))
                continue
            if value is None:
                self._raise_incident(
                    op, key, element_id, tid, "EXTRACT_VALUE_ERROR",
                    f"element '{element_id}': correlation key {config.correlation_key} is null",
                )
                continue
            new_subs.append((tid, element_id, name, _correlation_string(value)))
        if key in op.new_instances and not live.event_subscriptions:
            data = self._process_variables(wf)
            for sub_id, start_id, name, expression, _interrupting in self._event_subprocesses(live):
                try:
                    value = evaluate(expression, data, op.now, f"event subprocess '{sub_id}' correlationKey")
                except ExpressionError as exc:
                    self._raise_incident(op, key, start_id, None, "EXTRACT_VALUE_ERROR", str(exc))
                    continue
                if value is not None:
                    live.event_subscriptions.append([start_id, name, _correlation_string(value)])
        for start_id, name, value in live.event_subscriptions:
            if ("", start_id) not in existing_subs:
                new_subs.append(("", start_id, name, value))
        wanted_keys = set(subs_wanted) | {("", s[0]) for s in live.event_subscriptions}
        gone_subs = [s for s in existing_subs if s not in wanted_keys]
        for tid, element_id in gone_subs:
            conn.execute(
                t.subscriptions.delete().where(
                    t.subscriptions.c.instance_key == key, t.subscriptions.c.task_id == tid,
                    t.subscriptions.c.element_id == element_id,
                )
            )
        for tid, element_id, name, value in new_subs:
            conn.execute(
                t.subscriptions.insert().values(
                    instance_key=key, task_id=tid, element_id=element_id, message_name=name, correlation_key=value
                )
            )
        if jobs_wanted.keys() - existing_jobs.keys():
            op.woke_jobs = True

        # a new subscription takes a buffered message that is still alive
        for tid, element_id, name, value in new_subs:
            message = conn.execute(
                sa.select(t.messages.c.key, t.messages.c.variables)
                .where(
                    t.messages.c.name == name, t.messages.c.correlation_key == value, t.messages.c.expires_at > op.now,
                    ~sa.exists().where(
                        t.message_correlations.c.message_key == t.messages.c.key,
                        t.message_correlations.c.instance_key == key,
                    ),
                )
                .order_by(t.messages.c.key)
                .limit(1)
            ).first()
            if message is not None:
                conn.execute(t.message_correlations.insert().values(message_key=message.key, instance_key=key))
                self._deliver(op, live, tid, element_id, name, json.loads(message.variables))
                return True
        return False

    def _timer_due(self, task, definition) -> datetime | None:
        value = task._get_internal_data("event_value")
        if value is None:
            return None
        if isinstance(definition, CycleTimerEventDefinition):
            if isinstance(value, dict):
                if value.get("cycles") == 0:
                    return None
                value = value.get("next")
        return _parse_instant(value, f"timer '{task.task_spec.bpmn_id}'")

    def _create_job(self, op: _Op, live: _Live, task) -> None:
        config = task.task_spec.zeebe
        where = f"element '{config.element_id}'"
        try:
            context = dict(task.data)
            local: dict[str, Any] = {}
            for mapping in config.inputs:
                value = evaluate(mapping.source, {**context, **local}, op.now, f"{where} input mapping")
                _set_path(local, mapping.target, value)
            job_type = evaluate(config.job_type, context, op.now, where)
            retries = int(evaluate(config.job_retries, context, op.now, f"{where} retries"))
        except (ExpressionError, ValueError, TypeError) as exc:
            self._raise_incident(op, live.key, config.element_id, str(task.id), "IO_MAPPING_ERROR", str(exc))
            return
        op.conn.execute(
            t.jobs.insert().values(
                key=self._key(op), instance_key=live.key, task_id=str(task.id), element_id=config.element_id,
                element_instance_key=_element_instance_key(task.id), type=job_type,
                custom_headers=_json(config.headers), local_variables=_json(local), retries=retries,
                state="ACTIVATABLE", activations=0, created_at=op.now,
            )
        )

    def _create_user_task(self, op: _Op, live: _Live, task) -> None:
        config = task.task_spec.zeebe
        where = f"user task '{task.task_spec.bpmn_id}'"
        data = dict(task.data)
        try:
            if config is not None and self.strict:
                assignee, groups, users, due, follow_up = self._strict_user_task(config, data, op.now, where)
            else:
                assignee, groups, users, due, follow_up = self._lenient_user_task(config, data, op.now, where)
        except ExpressionError as exc:
            self._raise_incident(op, live.key, task.task_spec.bpmn_id, str(task.id), "EXTRACT_VALUE_ERROR", str(exc))
            return
        data.pop("data_objects", None)
        op.conn.execute(
            t.user_tasks.insert().values(
                key=self._key(op), instance_key=live.key, task_id=str(task.id), element_id=task.task_spec.bpmn_id,
                name=task.task_spec.bpmn_name, bpmn_process_id=live.definition.bpmn_process_id,
                form_id=config.form_id if config else None, assignee=assignee or None,
                candidate_groups=_json(groups), candidate_users=_json(users), due_date=due, follow_up_date=follow_up,
                state="CREATED", variables=_json(data), created_at=op.now,
            )
        )

    @staticmethod
    def _strict_user_task(config, data: dict, now: datetime, where: str):
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

    @staticmethod
    def _lenient_user_task(config, data: dict, now: datetime, where: str):
        """strict=False: a string is split on commas, a time without offset is UTC."""
        if config is None:
            return None, [], [], None, None
        assignee = evaluate(config.assignee, data, now, f"{where} assignee")
        groups = _as_list(evaluate(config.candidate_groups, data, now, f"{where} candidateGroups"))
        users = _as_list(evaluate(config.candidate_users, data, now, f"{where} candidateUsers"))
        due = _parse_instant(evaluate(config.due_date, data, now, f"{where} dueDate"), where)
        follow_up = _parse_instant(evaluate(config.follow_up_date, data, now, f"{where} followUpDate"), where)
        return assignee, groups, users, due, follow_up


def _correlation_string(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, str) else json.dumps(value)


def _set_path(target: dict, path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        nxt = target.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            target[part] = nxt
        target = nxt
    target[parts[-1]] = value


def _job_view(row) -> Job:
    return Job(
        row.key, row.instance_key, row.element_id, row.type, row.retries, row.state, row.worker,
        _aware(row.deadline), _aware(row.retry_at), row.error_message,
    )


def _incident_view(row) -> Incident:
    return Incident(
        row.key, row.instance_key, row.element_id, row.job_key, row.error_type, row.error_message, row.state,
        _aware(row.created_at),
    )


def _user_task_view(row) -> UserTask:
    return UserTask(
        user_task_key=row.key, process_instance_key=row.instance_key, bpmn_process_id=row.bpmn_process_id,
        element_id=row.element_id, name=row.name, form_id=row.form_id, assignee=row.assignee,
        candidate_groups=json.loads(row.candidate_groups), candidate_users=json.loads(row.candidate_users),
        due_date=_aware(row.due_date), follow_up_date=_aware(row.follow_up_date), state=row.state,
        created_at=_aware(row.created_at), completed_at=_aware(row.completed_at), completed_by=row.completed_by,
        variables=json.loads(row.variables),
    )
