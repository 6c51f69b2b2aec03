"""Killing the engine's process at random moments loses and repeats no committed work.

A subprocess (``crash_driver.py``) runs instances of ``diagrams/crash.bpmn`` with an
embedded worker and is killed with SIGKILL at random moments, then started again,
at least :data:`KILLS` times; a last run finishes everything. Each handler appends
its job key to a log (fsynced) before it returns. Afterwards:

* every instance is completed and no job, timer or incident is left;
* each service task ran exactly once per instance (history: one ACTIVATED, one
  COMPLETED), so no committed step was ever redone;
* every job's handler completed at least once, and a job shows up more than once
  in the log only when the process was killed between its handler returning and
  the completion being committed: at most one such job per kill, because the
  worker completes each job right after its handler (the handlers do not await).
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from pepflow.clock import SystemClock
from pepflow.engine.runtime import COMPLETED, Engine

DRIVER = Path(__file__).with_name("crash_driver.py")
KILLS = 50
MAX_RUNS = 150
SEED = 20260901
TASKS = {"FirstStepTask": "crash-a", "SecondStepTask": "crash-b", "ThirdStepTask": "crash-c"}


def _instances_for_run(run: int) -> int:
    # every run brings new instances, so a kill always has work to interrupt however
    # fast the machine is
    return 20 + 3 * run


def _start(url: str, log: Path, count: int, stderr) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(DRIVER), url, str(log), str(count)],
        stdout=subprocess.PIPE, stderr=stderr, text=True,
    )


def _log_lines(log: Path) -> list[tuple[int, str]]:
    if not log.exists():
        return []
    text = log.read_text()
    assert text == "" or text.endswith("\n"), "a log line was cut in half"
    lines = []
    for line in text.splitlines():
        key, job_type = line.split(" ")
        lines.append((int(key), job_type))
    return lines


@pytest.mark.slow
def test_sigkill_at_random_moments_repeats_no_committed_work(tmp_path):
    url = f"sqlite:///{tmp_path / 'crash.sqlite3'}"
    log = tmp_path / "handled.log"
    rng = random.Random(SEED)
    kills = 0
    interrupted_work = 0  # kills that landed while handlers were running
    runs = 0
    count = 0
    stderr_path = tmp_path / "driver.stderr"
    with open(stderr_path, "w") as stderr:
        while kills < KILLS and runs < MAX_RUNS:
            count = _instances_for_run(runs)
            runs += 1
            before = len(_log_lines(log))
            proc = _start(url, log, count, stderr)
            try:
                ready = proc.stdout.readline()
                assert ready == "ready\n", stderr_path.read_text()
                # half the kills are timed from the end of the imports (they land in
                # start-up: deploy, instance creation, releasing orphaned jobs, or early
                # job handling), half from the start of the worker loop
                if rng.random() < 0.5:
                    assert proc.stdout.readline() == "working\n", stderr_path.read_text()
                time.sleep(rng.uniform(0.002, 0.150))
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                    kills += 1
                proc.wait(timeout=30)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                proc.stdout.close()
            if proc.returncode == -signal.SIGKILL:
                if len(_log_lines(log)) > before:
                    interrupted_work += 1
            else:
                assert proc.returncode == 0, stderr_path.read_text()

        assert kills >= KILLS, f"only {kills} of {runs} runs were still working when the kill came"
        final = subprocess.run(
            [sys.executable, str(DRIVER), url, str(log), str(count)],
            stdout=subprocess.PIPE, stderr=stderr, text=True, timeout=120,
        )
    assert final.returncode == 0, stderr_path.read_text()
    # kills must have hit running handlers, not just start-up
    assert interrupted_work >= KILLS // 10, f"only {interrupted_work} kills hit job handling"

    engine = Engine(url, SystemClock())
    try:
        instances = engine.instances()
        assert len(instances) == count
        assert {i.state for i in instances} == {COMPLETED}
        assert engine.jobs() == []
        assert engine.incidents(state=None) == []
        assert engine.next_timer_due() is None

        # the process never redid committed work: each step once per instance
        for instance in instances:
            history = engine.history(instance.process_instance_key)
            events = Counter((h.element_id, h.event) for h in history)
            assert events[("CrashEndEvent", "COMPLETED")] == 1, (instance, history)
            for element_id in TASKS:
                assert events[(element_id, "ACTIVATED")] == 1, (instance, history)
                assert events[(element_id, "COMPLETED")] == 1, (instance, history)
                assert events[(element_id, "TERMINATED")] == 0, (instance, history)
    finally:
        engine.close()

    lines = _log_lines(log)
    per_key = Counter(key for key, _type in lines)
    types = {key: job_type for key, job_type in lines}
    # one job per service task per instance, each handled at least once
    for job_type in TASKS.values():
        assert sum(1 for t in types.values() if t == job_type) == count
    duplicates = sum(n - 1 for n in per_key.values())
    # a handler ran again only for an activation the kill cut short before its
    # completion was committed: at most one job per kill
    assert duplicates <= kills, (duplicates, kills)
    print(
        f"\n{runs} runs, {kills} kills ({interrupted_work} during job handling), "
        f"{count} instances, {len(per_key)} jobs, {duplicates} handlers repeated after a kill"
    )
