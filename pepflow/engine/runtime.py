"""The embedded engine: runs Camunda 8 diagrams on SpiffWorkflow, durably.

One :class:`Engine` owns a store (SQLite or PostgreSQL), a clock, the deployed
definitions and a cache of live instances. Every public method is one operation in
one database transaction: the instance's snapshot and everything that waits on it
(jobs, user tasks, timers, message subscriptions, incidents, history) are written
together. If the transaction fails, the in-memory copy is dropped and nothing
changed.

The engine is composed of one object per concern over one shared core
(:class:`~.core.EngineCore`: store, clock, definitions, instance cache, listeners and
the operation's transaction):

- :mod:`.deployment` - deploying diagrams and forms, the deployed definitions;
- :mod:`.instances` - starting, cancelling and changing instances, messages
  (with :mod:`.events` for message catches and event subprocesses);
- :mod:`.jobs` - jobs and incidents;
- :mod:`.user_tasks` - the task list and task completion;
- :mod:`.timers` - firing due timers;
- :mod:`.history` - the instance views and their history;
- :mod:`.reconcile` - stepping an instance and reconciling its wait states with the
  task tree (a STARTED service task is a job, a READY user task is a user task, a
  WAITING timer event is a timer row, a WAITING message event is a subscription).

:class:`Engine` forwards each public method to its concern (same name, signature and
docstring), so callers see one object behind :class:`~.interface.WorkflowEngine`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..clock import Clock, SimulationClock
from .core import EngineCore
from .deployment import Deployments
from .history import History
from .instances import DEFAULT_MESSAGE_TTL, Instances
from .jobs import Jobs
from .shared import ACTIVE, CANCELED, COMPLETED, WAIT_STATES
from .timers import Timers
from .user_tasks import UserTasks

__all__ = ["ACTIVE", "CANCELED", "COMPLETED", "DEFAULT_MESSAGE_TTL", "WAIT_STATES", "Engine"]


def _forward(concern: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """``Engine.<name>`` calls ``self.<concern>.<name>``, with the method's own
    signature and docstring (``functools.wraps``)."""
    name = method.__name__

    @functools.wraps(method)
    def forward(self: Engine, *args: Any, **kwargs: Any) -> Any:
        return getattr(getattr(self, concern), name)(*args, **kwargs)

    return forward


class Engine:
    """The embedded BPMN engine. Thread-safe: operations are serialised."""

    def __init__(self, database_url: str, clock: Clock, *, cache_size: int = 2048, strict: bool = True) -> None:
        self.core = core = EngineCore(database_url, clock, cache_size=cache_size, strict=strict)
        self.clock = clock
        self.store = core.store
        # the process-variable contracts (pepflow/domain/variables.py)
        self.contracts = core.contracts
        self._completion_checks = core.completion_checks
        self._deployments = Deployments(core)
        self._instances = Instances(core)
        self._jobs = Jobs(core)
        self._user_tasks = UserTasks(core)
        self._timers = Timers(core)
        self._history = History(core, self._jobs)
        self._deployments.load_definitions()
        if isinstance(clock, SimulationClock):
            clock.on_advance(self._timers.advance_to)

    @property
    def strict(self) -> bool:
        """Refuse what Zeebe refuses (:mod:`pepflow.engine.strict`); False keeps the
        lenient reading for diagrams written for the embedded engine only."""
        return self.core.strict

    @strict.setter
    def strict(self, value: bool) -> None:
        self.core.strict = value

    def add_listener(self, listener: Callable[[str], None]) -> None:
        """``listener(kind)`` is called after a commit that created jobs ("jobs") or
        changed timers ("timers"); runtimes use it to wake up."""
        self.core.listeners.append(listener)

    def close(self) -> None:
        self.core.store.dispose()

    # deployment
    deploy = _forward("_deployments", Deployments.deploy)
    form = _forward("core", EngineCore.form)
    definition = _forward("_deployments", Deployments.definition)
    definition_xml = _forward("_deployments", Deployments.definition_xml)
    latest_definition = _forward("_deployments", Deployments.latest_definition)
    delete_resource = _forward("_deployments", Deployments.delete_resource)
    # instances and messages
    create_instance = _forward("_instances", Instances.create_instance)
    cancel_instance = _forward("_instances", Instances.cancel_instance)
    set_variables = _forward("_instances", Instances.set_variables)
    publish_message = _forward("_instances", Instances.publish_message)
    # jobs and incidents
    activate_jobs = _forward("_jobs", Jobs.activate_jobs)
    complete_job = _forward("_jobs", Jobs.complete_job)
    fail_job = _forward("_jobs", Jobs.fail_job)
    throw_error = _forward("_jobs", Jobs.throw_error)
    update_job_retries = _forward("_jobs", Jobs.update_job_retries)
    update_job_timeout = _forward("_jobs", Jobs.update_job_timeout)
    job = _forward("_jobs", Jobs.job)
    jobs = _forward("_jobs", Jobs.jobs)
    release_jobs = _forward("_jobs", Jobs.release_jobs)
    next_job_due = _forward("_jobs", Jobs.next_job_due)
    activatable_job_types = _forward("_jobs", Jobs.activatable_job_types)
    incidents = _forward("_jobs", Jobs.incidents)
    resolve_incident = _forward("_jobs", Jobs.resolve_incident)
    # user tasks
    add_completion_check = _forward("_user_tasks", UserTasks.add_completion_check)
    user_tasks = _forward("_user_tasks", UserTasks.user_tasks)
    search_user_tasks = _forward("_user_tasks", UserTasks.search_user_tasks)
    user_task = _forward("_user_tasks", UserTasks.user_task)
    claim = _forward("_user_tasks", UserTasks.claim)
    unclaim = _forward("_user_tasks", UserTasks.unclaim)
    reassign_user_task = _forward("_user_tasks", UserTasks.reassign_user_task)
    complete_user_task = _forward("_user_tasks", UserTasks.complete_user_task)
    check_submission = _forward("_user_tasks", UserTasks.check_submission)
    # timers
    next_timer_due = _forward("_timers", Timers.next_timer_due)
    fire_due_timers = _forward("_timers", Timers.fire_due_timers)
    # instance views and history
    instances = _forward("_history", History.instances)
    instance = _forward("_history", History.instance)
    active_instance_variables = _forward("_history", History.active_instance_variables)
    history = _forward("_history", History.history)
    stored_state_bytes = _forward("_history", History.stored_state_bytes)
