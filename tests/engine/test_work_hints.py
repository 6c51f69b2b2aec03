"""The runtime reads the activatable job types and the due timers only when an
operation since its last read may have changed them (pepflow/engine/hints.py): an idle
round costs no statement, and no job or timer is missed or handed out twice because of
it, whether it came from this engine, a backoff, a timeout or another process."""

from __future__ import annotations

import asyncio
from contextlib import contextmanager
from datetime import timedelta

import sqlalchemy as sa
from pyzeebe import ZeebeTaskRouter

from pepflow.engine import hints
from pepflow.engine.runtime import Engine
from pepflow.engine.worker import EmbeddedRuntime

from .conftest import T0


@contextmanager
def counted(engine):
    statements: list[str] = []

    def _count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    engines = {engine.store.db, engine.store.reads}
    for db in engines:
        sa.event.listen(db, "before_cursor_execute", _count)
    try:
        yield statements
    finally:
        for db in engines:
            sa.event.remove(db, "before_cursor_execute", _count)


def runtime_for(engine, done: list[str]) -> EmbeddedRuntime:
    router = ZeebeTaskRouter()

    @router.task(task_type="prepare-document")
    async def prepare_document(pepId: str) -> dict:
        done.append(f"prepare {pepId}")
        return {"documentId": f"D-{pepId}"}

    @router.task(task_type="send-document")
    async def send_document(formDocumentId: str) -> None:
        done.append(f"send {formDocumentId}")

    @router.task(task_type="send-reminder")
    async def send_reminder() -> None:
        done.append("reminder")

    @router.task(task_type="escalate")
    async def escalate() -> None:
        done.append("escalate")

    return EmbeddedRuntime(engine, [router])


def test_an_idle_round_reads_nothing_and_new_work_is_still_done(harness):
    harness.deploy("jobs.bpmn")
    done: list[str] = []
    runtime = runtime_for(harness.engine, done)
    harness.engine.create_instance("jobs", {"pepId": "P1", "sendRetries": 1})
    asyncio.run(runtime.run_until_idle())
    assert done == ["prepare P1", "send D-P1"]
    with counted(harness.engine) as statements:
        asyncio.run(runtime.run_until_idle())
        asyncio.run(runtime.run_until_idle())
    assert statements == []
    # an operation of this engine tells the hints what it created: worked, once
    harness.engine.create_instance("jobs", {"pepId": "P2", "sendRetries": 1})
    asyncio.run(runtime.run_until_idle())
    assert done == ["prepare P1", "send D-P1", "prepare P2", "send D-P2"]


def test_a_backoff_and_a_timed_out_activation_are_worked_when_they_fall_due(harness):
    harness.deploy("jobs.bpmn")
    done: list[str] = []
    runtime = runtime_for(harness.engine, done)
    harness.engine.create_instance("jobs", {"pepId": "P1", "sendRetries": 1})
    job = harness.one_job("prepare-document")
    harness.engine.fail_job(job.key, 1, "busy", retry_backoff=timedelta(minutes=10))
    harness.engine.create_instance("jobs", {"pepId": "P2", "sendRetries": 1})
    harness.one_job("prepare-document", timeout=timedelta(minutes=30))  # P2's worker never answers
    asyncio.run(runtime.run_until_idle())
    assert done == []
    harness.clock.set(T0 + timedelta(minutes=10))
    asyncio.run(runtime.run_until_idle())
    assert done == ["prepare P1", "send D-P1"]
    harness.clock.set(T0 + timedelta(minutes=30, seconds=1))
    asyncio.run(runtime.run_until_idle())
    assert done == ["prepare P1", "send D-P1", "prepare P2", "send D-P2"]
    assert harness.engine.jobs() == []  # P2's stuck activation was handed out again and completed


def test_timers_fire_at_the_same_instants(harness):
    harness.deploy("timers.bpmn")
    done: list[str] = []
    runtime = runtime_for(harness.engine, done)
    key = harness.engine.create_instance(
        "timers", {"meetingDueAt": (T0 + timedelta(days=10)).isoformat(), "meetingAt": (T0 + timedelta(days=20)).isoformat()}
    )
    asyncio.run(runtime.run_until_idle())
    due = harness.engine.next_timer_due()
    assert due is not None
    with counted(harness.engine) as statements:
        asyncio.run(runtime.run_until_idle())
    assert statements == []  # nothing is due before the earliest timer
    fired_at: list = []
    while (due := harness.engine.next_timer_due()) is not None and due <= T0 + timedelta(days=40):
        harness.clock.set(due)
        before = len(harness.engine.history(key))
        asyncio.run(runtime.run_until_idle())
        assert len(harness.engine.history(key)) > before, f"the timer due at {due} did not fire"
        fired_at.append(due)
    assert fired_at and done


def test_what_another_process_writes_is_read_within_the_bounded_age(harness, monkeypatch):
    harness.deploy("jobs.bpmn")
    done: list[str] = []
    runtime = runtime_for(harness.engine, done)
    asyncio.run(runtime.run_until_idle())  # idle: the hints know there is nothing
    other = Engine(harness.url, harness.clock)  # another process on the same database (`pep event`)
    try:
        other.create_instance("jobs", {"pepId": "P9", "sendRetries": 1})
    finally:
        other.close()
    monkeypatch.setattr(hints, "MAX_AGE", 0.0)
    asyncio.run(runtime.run_until_idle())
    assert done == ["prepare P9", "send D-P9"]


def test_serve_reads_again_on_every_wake_up(harness):
    harness.deploy("jobs.bpmn")
    done: list[str] = []
    runtime = runtime_for(harness.engine, done)
    asyncio.run(runtime.run_until_idle())
    other = Engine(harness.url, harness.clock)
    try:
        other.create_instance("jobs", {"pepId": "P3", "sendRetries": 1})
    finally:
        other.close()

    async def serve_once() -> None:
        stop = asyncio.Event()
        task = asyncio.ensure_future(runtime.serve(stop, max_idle=0.05))
        for _ in range(200):
            if len(done) == 2:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await task

    asyncio.run(serve_once())
    assert done == ["prepare P3", "send D-P3"]
