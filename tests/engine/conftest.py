from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from pepflow.clock import SimulationClock
from pepflow.engine.runtime import Engine

DIAGRAMS = Path(__file__).parent / "diagrams"
T0 = datetime(2026, 9, 7, 9, 0, tzinfo=timezone.utc)


class Harness:
    """An engine on a simulation clock that can be stopped and started again on the
    same database: a restart drops every in-memory copy, so the next step runs from
    what was stored (the save/restore round-trip)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.clock = SimulationClock(T0)
        self.engine = Engine(url, self.clock)

    def deploy(self, *names: str):
        return self.engine.deploy([DIAGRAMS / name for name in names])

    def restart(self) -> Engine:
        self.engine.close()
        self.clock = SimulationClock(self.clock.now())
        self.engine = Engine(self.url, self.clock)
        return self.engine

    def active(self, key: int) -> list[str]:
        return self.engine.instance(key).active_elements

    def completed(self, key: int) -> list[str]:
        return [h.element_id for h in self.engine.history(key) if h.event == "COMPLETED"]

    def terminated(self, key: int) -> list[str]:
        return [h.element_id for h in self.engine.history(key) if h.event == "TERMINATED"]

    def one_job(self, job_type: str, **kwargs):
        jobs = self.engine.activate_jobs(job_type, "test-worker", **kwargs)
        assert len(jobs) == 1, f"expected one {job_type} job, got {jobs}"
        return jobs[0]


@pytest.fixture
def harness(database_url):
    h = Harness(database_url)
    yield h
    h.engine.close()
