"""Engine benchmark on SQLite (a temporary file): ``python bench/engine_bench.py``.

Prints one figure per line as ``name: value unit``:

* start_to_first_job_p50/p99 - create_instance + activate_jobs of the first job
* job_round_trip_p50/p99 - complete_job of an activated job + activate_jobs of the
  next job of the same instance (direct engine calls)
* job_round_trip_pyzeebe_p50 - the same through EmbeddedWorker.run_once with a
  trivial pyzeebe handler
* transitions_per_second - COMPLETED history rows / wall time of running many
  instances of a process with none tasks, gateways and service tasks to the end
* stored_bytes_after_60_loops, history_rows_after_60_loops - an instance that went
  60 times round a service task and a one-day timer (SimulationClock)

Set ``PEP_BENCH_PROFILE=1`` to print cProfile's top functions for each part.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pyzeebe import ZeebeTaskRouter

from pepflow.clock import SimulationClock, SystemClock
from pepflow.engine.runtime import Engine
from pepflow.engine.worker import EmbeddedWorker

DIAGRAMS = Path(__file__).with_name("diagrams")
PROFILE = os.environ.get("PEP_BENCH_PROFILE") == "1"

START_INSTANCES = 500
ROUND_TRIPS = 2_000
PYZEEBE_ROUND_TRIPS = 500
MIXED_INSTANCES = 400
LOOPS = 60


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


def emit(name: str, value: str, unit: str) -> None:
    print(f"{name}: {value} {unit}", flush=True)


class Profiled:
    def __init__(self, title: str) -> None:
        self.title = title
        self.profile = cProfile.Profile() if PROFILE else None

    def __enter__(self):
        if self.profile:
            self.profile.enable()
        return self

    def __exit__(self, *exc) -> None:
        if self.profile:
            self.profile.disable()
            print(f"--- profile: {self.title}", file=sys.stderr)
            stats = pstats.Stats(self.profile, stream=sys.stderr)
            stats.sort_stats("cumulative").print_stats(35)
            stats.sort_stats("tottime").print_stats(25)


def bench_start_and_round_trip(workdir: Path) -> None:
    engine = Engine(f"sqlite:///{workdir / 'chain.sqlite3'}", SystemClock())
    engine.deploy([DIAGRAMS / "bench-chain.bpmn"])
    starts: list[float] = []
    trips: list[float] = []
    with Profiled("start + round trips"):
        for _ in range(START_INSTANCES):
            began = time.perf_counter()
            engine.create_instance("bench-chain", {"amount": 1})
            (job,) = engine.activate_jobs("bench-step", "bench", max_jobs=1)
            starts.append(time.perf_counter() - began)
            # the other four jobs of the instance: complete -> next one activated
            while True:
                began = time.perf_counter()
                engine.complete_job(job.key, {"done": job.element_id})
                nxt = engine.activate_jobs("bench-step", "bench", max_jobs=1)
                if not nxt:
                    break
                trips.append(time.perf_counter() - began)
                job = nxt[0]
            if len(trips) >= ROUND_TRIPS and len(starts) >= START_INSTANCES:
                break
    emit("start_to_first_job_p50", ms(percentile(starts, 50)), "ms")
    emit("start_to_first_job_p99", ms(percentile(starts, 99)), "ms")
    emit("job_round_trip_p50", ms(percentile(trips, 50)), "ms")
    emit("job_round_trip_p99", ms(percentile(trips, 99)), "ms")
    engine.close()


def bench_pyzeebe_round_trip(workdir: Path) -> None:
    engine = Engine(f"sqlite:///{workdir / 'pyzeebe.sqlite3'}", SystemClock())
    engine.deploy([DIAGRAMS / "bench-chain.bpmn"])
    router = ZeebeTaskRouter()

    @router.task(task_type="bench-step")
    async def step() -> dict:
        return {}

    worker = EmbeddedWorker(engine, [router])
    trips: list[float] = []

    async def run() -> None:
        while len(trips) < PYZEEBE_ROUND_TRIPS:
            engine.create_instance("bench-chain", {})
            await worker.run_once()  # the first job
            while True:
                began = time.perf_counter()
                handled = await worker.run_once()  # activation, handler, completion
                if handled == 0:
                    break
                trips.append(time.perf_counter() - began)

    with Profiled("pyzeebe round trips"):
        asyncio.run(run())
    emit("job_round_trip_pyzeebe_p50", ms(percentile(trips, 50)), "ms")
    emit("job_round_trip_pyzeebe_p99", ms(percentile(trips, 99)), "ms")
    engine.close()


def bench_transitions(workdir: Path) -> None:
    engine = Engine(f"sqlite:///{workdir / 'mixed.sqlite3'}", SystemClock())
    engine.deploy([DIAGRAMS / "bench-mixed.bpmn"])
    keys: list[int] = []
    with Profiled("transitions"):
        began = time.perf_counter()
        for n in range(MIXED_INSTANCES):
            keys.append(engine.create_instance("bench-mixed", {"amount": n % 20}))
            # keep a steady stream: work what is activatable every few starts
            if n % 8 == 7:
                for job_type in ("bench-fetch", "bench-store"):
                    for job in engine.activate_jobs(job_type, "bench", max_jobs=32):
                        engine.complete_job(job.key, {})
        while True:
            jobs = [
                job
                for job_type in ("bench-fetch", "bench-store")
                for job in engine.activate_jobs(job_type, "bench", max_jobs=32)
            ]
            if not jobs:
                break
            for job in jobs:
                engine.complete_job(job.key, {})
        elapsed = time.perf_counter() - began
    unfinished = engine.instances(state="ACTIVE")
    if unfinished:
        raise SystemExit(f"{len(unfinished)} benchmark instances did not complete")
    transitions = sum(
        1 for key in keys for entry in engine.history(key) if entry.event == "COMPLETED"
    )
    emit("transitions_per_second", f"{transitions / elapsed:.0f}", "transitions/s")
    engine.close()


def bench_loop_state(workdir: Path) -> None:
    clock = SimulationClock(datetime(2026, 9, 1, tzinfo=timezone.utc))
    engine = Engine(f"sqlite:///{workdir / 'loop.sqlite3'}", clock)
    engine.deploy([DIAGRAMS / "bench-loop.bpmn"])
    # the limit is never reached: the instance is still running when measured
    key = engine.create_instance("bench-loop", {"count": 0, "limit": 1_000_000})
    with Profiled("60 loops"):
        for _ in range(LOOPS):
            (job,) = engine.activate_jobs("bench-loop-work", "bench", max_jobs=1)
            engine.complete_job(job.key, {})
            clock.advance(timedelta(days=1))
    assert engine.instance(key).variables["count"] == LOOPS
    emit("stored_bytes_after_60_loops", str(engine.stored_state_bytes(key)), "bytes")
    emit("history_rows_after_60_loops", str(len(engine.history(key))), "rows")
    engine.close()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="pep-bench-") as tmp:
        workdir = Path(tmp)
        bench_start_and_round_trip(workdir)
        bench_pyzeebe_round_trip(workdir)
        bench_transitions(workdir)
        bench_loop_state(workdir)


if __name__ == "__main__":
    main()
