"""The process the crash test kills: ``python crash_driver.py DB_URL LOGFILE N``.

It opens the engine on DB_URL, deploys ``diagrams/crash.bpmn`` (a no-op when the
same bytes are deployed already), creates instances until N exist, and works their
jobs with an :class:`EmbeddedWorker` until every instance is completed, then exits 0.

It prints ``ready`` once its imports are done and ``working`` when the worker
starts, so the test can aim its kills at start-up (deploy, creation, releasing
orphaned jobs) or at job handling.

Each handler appends ``"{job.key} {job.type}\\n"`` to LOGFILE and fsyncs it before
it returns, so a line in the log means "a handler completed for an activation".
The test kills this process with SIGKILL at random moments and starts it again.

Deliberately no ``from __future__ import annotations``: pyzeebe recognises the
``job: Job`` parameter by comparing the annotation object with ``Job``.
"""

import asyncio
import os
import sys
from pathlib import Path

from pyzeebe import Job, ZeebeTaskRouter

from pepflow.clock import SystemClock
from pepflow.engine.runtime import COMPLETED, Engine
from pepflow.engine.worker import EmbeddedWorker

DIAGRAM = Path(__file__).with_name("diagrams") / "crash.bpmn"
PROCESS_ID = "crash-test"
JOB_TYPES = ("crash-a", "crash-b", "crash-c")


def make_router(log_path: str) -> ZeebeTaskRouter:
    router = ZeebeTaskRouter()

    def record(job: Job) -> None:
        # one write on an O_APPEND descriptor: a kill cannot leave half a line
        fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{job.key} {job.type}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    for job_type in JOB_TYPES:

        async def handler(job: Job) -> dict:
            record(job)
            return {}

        router.task(task_type=job_type)(handler)
    return router


async def work(engine: Engine, log_path: str) -> None:
    worker = EmbeddedWorker(engine, [make_router(log_path)])
    worker.release_orphaned_jobs()
    print("working", flush=True)  # the test may time its kill from here instead
    while engine.instances(state="ACTIVE"):
        if await worker.run_once() == 0:
            if engine.incidents():
                raise SystemExit(f"incidents: {engine.incidents()}")
            await asyncio.sleep(0.001)


def main(argv: list[str]) -> int:
    database_url, log_path, count = argv[1], argv[2], int(argv[3])
    # tells the test that the imports are done: its kill delay counts from here
    print("ready", flush=True)
    engine = Engine(database_url, SystemClock())
    try:
        engine.deploy([DIAGRAM])
        while len(engine.instances(bpmn_process_id=PROCESS_ID)) < count:
            engine.create_instance(PROCESS_ID, {})
        asyncio.run(work(engine, log_path))
        if any(i.state != COMPLETED for i in engine.instances()):
            return 1
    finally:
        engine.close()
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
