"""The state every concern of the embedded engine shares, and its one transaction.

:class:`EngineCore` holds the store, the clock, the deployed definitions, the cache of
live instances and the listeners. :meth:`EngineCore.operation` is the unit of work:
every public engine method runs inside one, and on its way out the instances it
touched are reconciled and saved (:mod:`.reconcile`) in the same database
transaction. If the transaction fails, the in-memory copies are dropped and nothing
changed.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from datetime import datetime

from ..clock import Clock
from . import snapshot, statements as q
from .contract import ContractGuard
from .errors import InvalidState, NotFound
from .expressions import ZeebeScriptEngine, clock_scope
from .forms import FormSchema
from .reconcile import Reconciler
from .shared import ACTIVE, _check_key, _Definition, _Live, _Op
from .store import EngineStore, KeyAllocator


class EngineCore:
    """Store, clock, definitions, instance cache and listeners, shared by the engine's
    concern objects; :meth:`operation` serialises operations (thread-safe)."""

    def __init__(self, database_url: str, clock: Clock, *, cache_size: int = 2048, strict: bool = True) -> None:
        self.clock = clock
        # strict: refuse what Zeebe refuses (pepflow/engine/strict.py); False keeps the
        # lenient reading for diagrams written for the embedded engine only
        self.strict = strict
        self.completion_checks: list = []
        self.store = EngineStore(database_url)
        self.keys = KeyAllocator()
        self.lock = threading.RLock()
        self.script_engine = ZeebeScriptEngine(self.spiff_now, strict=strict)
        self.definitions: dict[int, _Definition] = {}
        self.latest: dict[str, int] = {}
        self.forms: dict[str, FormSchema] = {}
        self.deleted: set[int] = set()  # definitions and forms an operator deleted
        self.cache: dict[int, _Live] = {}
        self.cache_size = cache_size
        self.listeners: list[Callable[[str], None]] = []
        # the process-variable contracts (pepflow/domain/variables.py)
        self.contracts = ContractGuard()
        self.waits = Reconciler(self)

    def spiff_now(self) -> datetime:
        return self.clock.now()

    @contextlib.contextmanager
    def operation(self) -> Iterator[_Op]:
        with self.lock, clock_scope(self.spiff_now):
            op: _Op | None = None
            try:
                with self.store.transaction() as conn:
                    op = _Op(conn, self.clock.now())
                    yield op
                    for key in op.dirty:
                        self.waits.save(op, op.loaded[key])
            except BaseException:
                self.keys.reset()
                if op is not None:
                    for key in op.loaded:
                        self.cache.pop(key, None)
                raise
            for key in op.dirty:
                live = op.loaded[key]
                if live.state == ACTIVE:
                    self.remember(live)
                else:
                    self.cache.pop(key, None)
        if op.woke_jobs or op.timers_changed:
            for listener in list(self.listeners):
                if op.woke_jobs:
                    listener("jobs")
                if op.timers_changed:
                    listener("timers")

    def remember(self, live: _Live) -> None:
        self.cache[live.key] = live
        if len(self.cache) > self.cache_size:
            self.cache.pop(next(iter(self.cache)))

    def key(self, op: _Op) -> int:
        return self.keys.next_key(op.conn)

    def form(self, form_id: str) -> FormSchema:
        try:
            return self.forms[form_id]
        except KeyError:
            raise NotFound(f"no form '{form_id}' is deployed") from None

    def definition_for(self, bpmn_process_id: str, version: int | None) -> _Definition:
        if version is None:
            key = self.latest.get(bpmn_process_id)
            if key is None:
                raise NotFound(f"no process '{bpmn_process_id}' is deployed")
            return self.definitions[key]
        for definition in self.definitions.values():
            if definition.bpmn_process_id == bpmn_process_id and definition.version == version and definition.key not in self.deleted:
                return definition
        raise NotFound(f"process '{bpmn_process_id}' has no version {version}")

    def load(self, op: _Op, key: int) -> _Live:
        """The instance as of the database, from the cache when its revision is current."""
        _check_key(key, "process instance")
        if key in op.loaded:
            return op.loaded[key]
        row = op.conn.execute(q.INSTANCE_HEAD, {"b_key": key}).first()
        if row is None:
            raise NotFound(f"no process instance {key}")
        live = self.cache.get(key)
        if live is None or live.revision != row.revision:
            text = op.conn.execute(q.INSTANCE_SNAPSHOT, {"b_key": key}).scalar()
            definition = self.definitions[row.process_definition_key]
            workflow, extra = snapshot.load(
                text, definition.parsed.spec, definition.parsed.subprocess_specs, self.script_engine
            )
            live = _Live(
                key=key, definition=definition, workflow=workflow, revision=row.revision, state=row.state,
                activated=set(extra.get("activated", [])), finished=set(extra.get("finished", [])),
                event_subscriptions=extra.get("event_subscriptions", []),
            )
        op.loaded[key] = live
        return live

    def modify(self, op: _Op, key: int) -> _Live:
        """An active instance this operation changes (saved on commit)."""
        live = self.load(op, key)
        if live.state != ACTIVE:
            raise InvalidState(f"process instance {key} is {live.state.lower()}")
        op.dirty.add(key)
        return live
