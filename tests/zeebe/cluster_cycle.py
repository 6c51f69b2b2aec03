"""A whole PEP cycle on a Camunda 8 cluster, driven only as one drives a cluster:

- ``pep deploy --zeebe`` and ``PEP_ENGINE=zeebe pep event`` (gRPC, :mod:`pepflow.zeebe.client`)
  deploy the diagram and forms and publish the council's messages;
- the worker service (``python -m workers``, a separate process) does every job over gRPC;
- everything else goes through the Orchestration Cluster REST API v2: the instance is
  found by search, where it waits is read from its element instances, every user task
  is searched, read, assigned and completed (Camunda's Python client), incidents are
  searched, and time moves with Camunda's clock endpoint (``PUT /v2/clock``, the
  broker started with ``ZEEBE_CLOCK_CONTROLLED=true``) - the worker's clock and the
  CLI's move with it.

The same code drives the gateway facade (``FacadeServer(..., clock_controlled=True)``)
and the real ``camunda/camunda`` image (testcontainers), so it is proved here and runs
unchanged where Docker does. Nothing reads the engine behind the cluster.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import httpx

from pepflow.clock import SimulationClock
from pepflow.config import AppSettings
from pepflow.roleplay import RolePlayer
from pepflow.sample_data import load_sample_data
from pepflow.store import RecordsStore
from pepflow.store.migrate import migrate
from pepflow.zeebe.client import ZeebeEngine, open_zeebe_app
from pepflow.zeebe.settings import ZeebeSettings

from .conftest import ROOT

CHILD = "C-0001"


@dataclass
class Cluster:
    """Where a cluster answers: gRPC ``host:port`` and the REST base URL; ``lag`` is
    how long its searches may trail a command (the secondary storage's exporter)."""

    grpc_address: str
    rest_url: str
    lag: float


@dataclass
class CycleRun:
    key: int
    completed_tasks: list[tuple[str, str]] = field(default_factory=list)  # (element, actor)
    active: set[str] = field(default_factory=set)
    records: dict = field(default_factory=dict)
    worker_log: str = ""
    worker_exit: int | None = None


class RestDriver:
    """Moves the cycle along over the REST API v2 (plus gRPC publishing)."""

    def __init__(self, cluster: Cluster, clock: SimulationClock, clock_file: Path, zeebe_app, worker: subprocess.Popen) -> None:
        from .rest_tasks import RestTasks

        self.cluster = cluster
        self.http = httpx.Client(base_url=cluster.rest_url, timeout=30)
        self.tasks = RestTasks(cluster.rest_url)
        self.clock = clock
        self.clock_file = clock_file
        self.zeebe_app = zeebe_app
        self.worker = worker
        self.done_tasks: set[int] = set()

    def close(self) -> None:
        self.http.close()
        self.tasks.close()

    # ------------------------------------------------------------------- REST
    def _post(self, path: str, body: dict) -> dict:
        response = self.http.post(path, json=body)
        if response.status_code >= 400:
            raise AssertionError(f"POST {path} -> {response.status_code}: {response.text}")
        return response.json()

    def _search(self, path: str, flt: dict) -> list[dict]:
        return self._post(path, {"filter": flt, "page": {"limit": 1000}})["items"]

    def set_time(self, instant: datetime) -> None:
        """The cluster's clock, the worker's and the CLI's, together."""
        self.clock.set(instant)
        tmp = self.clock_file.with_suffix(".tmp")
        tmp.write_text(instant.isoformat(), encoding="ascii")
        os.replace(tmp, self.clock_file)
        response = self.http.put("/v2/clock", json={"timestamp": int(instant.timestamp() * 1000)})
        if response.status_code != 204:
            raise AssertionError(f"PUT /v2/clock -> {response.status_code}: {response.text} (is the clock controlled?)")

    def instance_key(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while True:
            found = self._search("/v2/process-instances/search", {"processDefinitionId": "pep", "state": "ACTIVE"})
            if found:
                [instance] = found
                return int(instance["processInstanceKey"])
            if time.monotonic() > deadline:
                raise AssertionError("no PEP instance started")
            time.sleep(0.1)

    def elements(self, key: int) -> list[dict]:
        return self._search("/v2/element-instances/search", {"processInstanceKey": str(key)})

    def variables(self, key: int) -> dict:
        items = self._search("/v2/variables/search", {"processInstanceKey": str(key)})
        return {v["name"]: json.loads(v["value"]) for v in items if v.get("scopeKey") in (None, str(key))}

    def settle(self, key: int, timeout: float = 60.0) -> set[str]:
        """Wait until no service task is active (the worker has done every job) and the
        active elements stayed the same for ``lag`` (the searches caught up); returns
        the active element ids. An incident fails the run."""
        deadline = time.monotonic() + timeout
        stable_since, last = None, None
        while True:
            if self.worker.poll() is not None:
                raise AssertionError(f"the worker service exited with {self.worker.returncode}")
            incidents = self._search("/v2/incidents/search", {"processInstanceKey": str(key), "state": "ACTIVE"})
            if incidents:
                raise AssertionError(f"incidents: {[(i['elementId'], i['errorMessage']) for i in incidents]}")
            active = [e for e in self.elements(key) if e["state"] == "ACTIVE"]
            busy = any(e["type"] == "SERVICE_TASK" for e in active)
            now = frozenset(e["elementId"] for e in active)
            if busy or now != last:
                stable_since, last = None if busy else time.monotonic(), now
            elif stable_since is not None and time.monotonic() - stable_since >= max(self.cluster.lag, 0.3):
                return set(now)
            if time.monotonic() > deadline:
                raise AssertionError(f"the process did not settle in {timeout} s: {sorted(now)}")
            time.sleep(0.1)

    def completed(self, key: int) -> set[str]:
        return {e["elementId"] for e in self.elements(key) if e["state"] == "COMPLETED"}


async def run_cycle(cluster: Cluster, tmp: Path, start: datetime, worker_env) -> CycleRun:
    """Deploy, start a 1a PEP for C-0001 and work it round to next term's PEP."""
    url = f"sqlite:///{tmp / 'records.sqlite3'}"
    clock = SimulationClock(start)
    migrate(url)
    store = RecordsStore(url, clock)
    load_sample_data(store)
    store.close()
    zeebe = ZeebeSettings(address=cluster.grpc_address)
    clock_file = tmp / "clock.txt"
    clock_file.write_text(start.isoformat(), encoding="ascii")
    with httpx.Client(base_url=cluster.rest_url, timeout=30) as http:  # the cluster's day is the cycle's first day
        response = http.put("/v2/clock", json={"timestamp": int(start.timestamp() * 1000)})
        assert response.status_code == 204, f"PUT /v2/clock -> {response.status_code}: {response.text}"
    with ZeebeEngine(zeebe) as client:  # `pep deploy --zeebe bpmn forms`
        await asyncio.to_thread(client.deploy, sorted((ROOT / "bpmn").glob("*.bpmn")) + sorted((ROOT / "forms").glob("*.form")))
    log_path = tmp / "worker.log"
    with open(log_path, "w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "workers"], cwd=tmp, env=worker_env(cluster.grpc_address, url, tmp / "worker", clock_file),
            stdout=log, stderr=subprocess.STDOUT,
        )
    run: CycleRun | None = None
    try:
        await _wait_ready(worker, tmp / "worker" / "worker.ready", log_path)
        async with open_zeebe_app(AppSettings(data_dir=tmp / "cli", database_url=url), clock, zeebe) as app:
            driver = RestDriver(cluster, clock, clock_file, app, worker)
            try:
                run = await asyncio.to_thread(_cycle, driver, app)
                run.records = records(app.store)
            finally:
                driver.close()
        worker.send_signal(signal.SIGTERM)
        exit_code = await asyncio.to_thread(worker.wait, 60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert run is not None
    run.worker_exit = exit_code
    run.worker_log = log_path.read_text()
    return run


def _cycle(driver: RestDriver, app) -> CycleRun:
    store = app.store
    episode = store.open_care_episode(CHILD, driver.clock.now().date(), emergency=False, actor="cli")
    app.engine.publish_message("child-looked-after", CHILD, {
        "childId": CHILD, "enteredCareOn": episode.entered_care_on.isoformat(), "emergency": False,
        "careEpisodeId": episode.id,
    })
    key = driver.instance_key(timeout=max(30.0, driver.cluster.lag * 4))
    run = CycleRun(key=key)
    roles = RolePlayer(store)
    for _step in range(60):
        active = driver.settle(key)
        if "WaitToPrepareEvent" in active and "CompletePepTask" in driver.completed(key):
            run.active = active
            return run
        tasks = [t for t in driver.tasks.open_tasks(key) if t.user_task_key not in driver.done_tasks]
        variables = driver.variables(key)
        if tasks:
            task = tasks[0]
            actor = roles.actor_for(task)
            driver.tasks.assign_and_complete(task.user_task_key, actor, roles.variables_for(task, driver.clock.now()))
            driver.done_tasks.add(task.user_task_key)
            run.completed_tasks.append((task.element_id, actor))
        elif "SchoolFormReturnedEvent" in active:
            pep_id = variables["pepId"]
            app.engine.publish_message("pep-form-returned", pep_id, {}, message_id=f"returned-{pep_id}")
        elif {"WaitForMeetingEvent", "MeetingWaitGateway"} & set(active):  # the event-based wait for the meeting
            driver.set_time(datetime.fromisoformat(variables["meetingAt"].replace("Z", "+00:00")))
        else:
            raise AssertionError(f"the cycle is stuck at {sorted(active)}")
    raise AssertionError("the cycle did not finish in 60 steps")


def records(store: RecordsStore) -> dict:
    """What the council keeps: the child's PEPs, their documents and mail."""
    peps = store.peps_for(CHILD)
    return {
        "peps": [p.model_dump(mode="json") for p in peps],
        "documents": sorted((d.pep_id, d.kind.value, d.version, d.filename) for p in peps for d in store.documents(p.id)),
        "mail_log": sorted((m.pep_id, m.kind, m.recipient, m.status.value) for p in peps for m in store.mail_log(p.id)),
    }


async def _wait_ready(worker: subprocess.Popen, ready: Path, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if worker.poll() is not None:
            raise AssertionError(f"the worker service exited with {worker.returncode}:\n{log.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the worker service was not ready in {timeout} s:\n{log.read_text()}")
        await asyncio.sleep(0.1)


__all__ = ["Cluster", "CycleRun", "run_cycle", "records", "timezone"]
