"""Runs pyzeebe task handlers against the embedded engine.

The handlers are the ones registered on ``ZeebeTaskRouter``s for Camunda 8. Each job
goes through pyzeebe's own job handler (variables by parameter name, before/after
decorators, its exception handler) with a ``JobController`` whose adapter talks to
this engine instead of a Zeebe gateway, so a handler behaves the same here and there:
a return value completes the job, ``BusinessError`` throws a BPMN error, any other
exception fails the job (retries - 1, with the backoff the handler asks for).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from pyzeebe import Job, ZeebeTaskRouter
from pyzeebe.errors import JobAlreadyDeactivatedError
from pyzeebe.job.job import JobController
from pyzeebe.task.task import Task

from ..redact import safe_text
from .errors import InvalidState, NotFound
from .runtime import Engine
from .views import ActivatedJob
from .waits import next_due

log = logging.getLogger(__name__)

WORKER_PREFIX = "embedded:"


class _EngineAdapter:
    """The part of pyzeebe's ZeebeAdapter that a JobController calls, bound to one
    activation so that a result from a timed-out activation is refused."""

    def __init__(self, engine: Engine, activation: int, on_failure: Callable[[str], None] | None = None) -> None:
        self._engine = engine
        self._activation = activation
        self._on_failure = on_failure

    async def complete_job(self, job_key: int, variables: dict) -> None:
        self._call(self._engine.complete_job, job_key, variables, activation=self._activation)

    async def fail_job(self, job_key: int, retries: int, message: str, retry_back_off_ms: int = 0, variables: dict | None = None) -> None:
        if self._on_failure is not None:
            self._on_failure(message)
        self._call(
            self._engine.fail_job, job_key, retries, message,
            retry_backoff=timedelta(milliseconds=retry_back_off_ms), variables=variables or None,
            activation=self._activation,
        )

    async def throw_error(self, job_key: int, message: str, variables: dict, error_code: str = "") -> None:
        self._call(
            self._engine.throw_error, job_key, error_code, message, variables=variables or None,
            activation=self._activation,
        )

    @staticmethod
    def _call(method, job_key: int, *args, **kwargs) -> None:
        try:
            method(job_key, *args, **kwargs)
        except (InvalidState, NotFound) as exc:
            log.warning("job %s: %s", job_key, safe_text(str(exc)))
            raise JobAlreadyDeactivatedError(job_key) from exc


def _to_pyzeebe(job: ActivatedJob) -> Job:
    return Job(
        key=job.key, type=job.type, process_instance_key=job.process_instance_key,
        bpmn_process_id=job.bpmn_process_id, process_definition_version=job.process_definition_version,
        process_definition_key=job.process_definition_key, element_id=job.element_id,
        element_instance_key=job.element_instance_key, custom_headers=dict(job.custom_headers),
        worker=job.worker, retries=job.retries, deadline=int(job.deadline.timestamp() * 1000),
        variables=dict(job.variables),
    )


class EmbeddedWorker:
    """Activates jobs for every task type of the routers and runs their handlers."""

    def __init__(self, engine: Engine, routers: Iterable[ZeebeTaskRouter], *, name: str | None = None) -> None:
        self.engine = engine
        self.tasks: dict[str, Task] = {}
        for router in routers:
            for task in router.tasks:
                if task.type in self.tasks:
                    raise ValueError(f"two handlers for task type '{task.type}'")
                self.tasks[task.type] = task
        self.name = name or f"{WORKER_PREFIX}{uuid.uuid4().hex[:12]}"
        self.handled = 0
        #: failed attempts by job type, and the first failure's message of each type
        #: (``pep simulate`` counts a step that failed, even when its retry went through)
        self.failed: Counter[str] = Counter()
        self.first_failure: dict[str, str] = {}
        self._new_jobs = True  # the engine made jobs since the last activation
        engine.add_listener(self._jobs_made)

    def release_orphaned_jobs(self) -> int:
        """Jobs an earlier run of the in-process worker held died with it."""
        return self.engine.release_jobs(WORKER_PREFIX, except_worker=self.name)

    async def run_once(self, types: Iterable[str] | None = None) -> int:
        """Activate what is there for each type and run the handlers; return how many."""
        batch = self._activate(types)
        if batch:
            await asyncio.gather(*(self._run(task, job) for task, job in batch))
        self.handled += len(batch)
        return len(batch)

    def _activate(self, types: Iterable[str] | None = None) -> list[tuple[Task, ActivatedJob]]:
        wanted = self.engine.activatable_job_types() if types is None else set(types)
        batch: list[tuple[Task, ActivatedJob]] = []
        for job_type in sorted(wanted):
            task = self.tasks.get(job_type)
            if task is None:
                continue
            timeout = timedelta(milliseconds=task.config.timeout_ms)
            for job in self.engine.activate_jobs(
                job_type, self.name, max_jobs=task.config.max_jobs_to_activate, timeout=timeout
            ):
                batch.append((task, job))
        return batch

    def _failed(self, job_type: str, message: str) -> None:
        self.failed[job_type] += 1
        self.first_failure.setdefault(job_type, message)

    async def _run(self, task: Task, activated: ActivatedJob) -> None:
        job = _to_pyzeebe(activated)
        adapter = _EngineAdapter(self.engine, activated.activation, lambda message: self._failed(job.type, message))
        controller = JobController(job, adapter)
        try:
            await asyncio.wait_for(task.job_handler(job, controller), task.config.timeout_ms / 1000)
        except JobAlreadyDeactivatedError as exc:
            log.warning("job %s was already deactivated", exc.job_key)
        except asyncio.TimeoutError:
            log.warning(
                "job %s (%s) ran past its timeout of %s ms; it will be handed out again",
                job.key, job.type, task.config.timeout_ms,
            )

    async def drain(self, max_rounds: int = 10_000) -> int:
        """Run handlers until no job of a known type is activatable now.

        Jobs flow rather than march in rounds: when a handler finishes and the engine
        has made new jobs since the last activation (a PEP's next step), they are
        activated and started while the rest still run, so one slow job (a final PDF,
        a protected copy) holds up only its own PEP. ``max_rounds`` caps the
        activations. The drain ends with an activation that found nothing."""
        running: set[asyncio.Task] = set()
        total = rounds = 0
        self._new_jobs = True
        while True:
            if (self._new_jobs or not running) and rounds < max_rounds:
                self._new_jobs = False
                rounds += 1
                batch = self._activate()
                total += len(batch)
                running.update(asyncio.ensure_future(self._run(task, job)) for task, job in batch)
            if not running:
                break
            done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for finished in done:
                finished.result()
        self.handled += total
        return total

    def _jobs_made(self, kind: str) -> None:
        if kind == "jobs":
            self._new_jobs = True


class EmbeddedRuntime:
    """Engine + in-process worker + timers: what ``pep up`` and ``pep demo`` run."""

    def __init__(self, engine: Engine, routers: Iterable[ZeebeTaskRouter]) -> None:
        self.engine = engine
        self.worker = EmbeddedWorker(engine, routers)
        self._wake = asyncio.Event()
        engine.add_listener(lambda _kind: self._wake.set())
        # ``tick(now)`` callables run before each round of work (the composition root
        # adds the daily handover check of allocations, pepflow.handover)
        self.tickers: list = []

    async def run_until_idle(self) -> None:
        """Work every job and timer that is due now, until nothing is."""
        for tick in self.tickers:
            tick(self.engine.clock.now())
        while True:
            handled = await self.worker.drain()
            fired = self.engine.fire_due_timers()
            if handled == 0 and fired == 0:
                return

    async def advance(self, delta: timedelta) -> datetime:
        """Simulation only: move the clock ``delta`` ahead, stopping at every due
        timer, backoff and job timeout in order and working what became due."""
        clock = self.engine.clock
        if not hasattr(clock, "set"):
            raise TypeError("advance needs a SimulationClock")
        target = clock.now() + delta
        await self.run_until_idle()
        while True:
            with self.engine.store.read() as conn:
                due = next_due(conn)
            if due is None or due > target:
                break
            if due > clock.now():
                clock.set(due)
            await self.run_until_idle()
        if clock.now() < target:
            clock.set(target)
        await self.run_until_idle()
        return clock.now()

    async def serve(self, stop: asyncio.Event, *, max_idle: float = 30.0) -> None:
        """Real time: work jobs and fire timers until ``stop`` is set."""
        self.worker.release_orphaned_jobs()
        while not stop.is_set():
            self._wake.clear()
            await self.run_until_idle()
            dues = [d for d in (self.engine.next_timer_due(), self.engine.next_job_due()) if d is not None]
            wait = max_idle
            if dues:
                wait = min(max_idle, max(0.0, (min(dues) - self.engine.clock.now()).total_seconds()))
            stopper = asyncio.ensure_future(stop.wait())
            waker = asyncio.ensure_future(self._wake.wait())
            await asyncio.wait({stopper, waker}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            waker.cancel()
