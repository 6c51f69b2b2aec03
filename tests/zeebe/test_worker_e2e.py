"""End to end: the real worker service (``python -m workers``, a separate process)
works a whole PEP cycle over gRPC against the gateway facade, with the same results
as the in-process mode.

Camunda 8 side: the facade (this process) over an embedded engine on SQLite and a
simulation clock; the diagram and forms deployed with ``ZeebeEngine.deploy`` (what
``pep deploy --zeebe`` calls); start and catch messages published through
``open_zeebe_app`` (what ``pep event`` uses in Camunda 8 mode); service tasks done by
the worker subprocess (records store on the same database, mail to a STARTTLS outbox
given by ``PEP_SMTP_*``); user tasks found, assigned and completed through the
facade's Orchestration Cluster REST API v2 with Camunda's own Python client
(``camunda-orchestration-sdk``), as Tasklist or a script would on a cluster.

In-process side: ``pepflow.app.open_app`` (the embedded composition root) on its own
database, the same clock start, the same answers in the same forms.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pepflow.app import open_app
from pepflow.clock import SimulationClock
from pepflow.config import AppSettings
from pepflow.engine.runtime import Engine
from pepflow.mail.local_outbox import LocalOutboxServer
from pepflow.roleplay import RolePlayer
from pepflow.sample_data import load_sample_data
from pepflow.store import RecordsStore
from pepflow.store.migrate import migrate
from pepflow.zeebe.client import ZeebeEngine, open_zeebe_app
from pepflow.zeebe.facade import FacadeServer
from pepflow.zeebe.settings import ZeebeSettings

from .conftest import ROOT, free_port
from .rest_tasks import RestTasks

pytestmark = pytest.mark.slow

T0 = datetime(2026, 9, 14, 8, 0, tzinfo=timezone.utc)  # a Monday in the autumn term
CHILD = "C-0001"
SHIM = Path(__file__).parent / "clockshim"
SETTLE_TIMEOUT = 20.0


# ----------------------------------------------------------------------- drivers
class Driver:
    """How a scenario moves the process along, in one mode or the other."""

    engine: Engine
    clock: SimulationClock

    async def publish(self, name: str, key: str, variables: dict, message_id: str | None = None) -> None: ...

    async def settle(self) -> None: ...

    async def advance_to(self, target: datetime) -> None: ...

    async def open_user_tasks(self, key: int) -> list:
        return self.engine.user_tasks(process_instance_key=key)

    async def complete_user_task(self, task, variables: dict, actor: str) -> None:
        self.engine.complete_user_task(task.user_task_key, variables, actor=actor)


class InProcess(Driver):
    def __init__(self, app) -> None:
        self.app = app
        self.engine = app.engine
        self.clock = app.clock

    async def publish(self, name, key, variables, message_id=None):
        self.engine.publish_message(name, key, variables, message_id=message_id)

    async def settle(self):
        await self.app.runtime.run_until_idle()

    async def advance_to(self, target):
        await self.app.runtime.advance(target - self.clock.now())


class OverGrpc(Driver):
    """The worker subprocess does the jobs; this waits until it has done them all."""

    def __init__(self, engine: Engine, clock: SimulationClock, zeebe_app, clock_file: Path, worker: subprocess.Popen,
                 rest: RestTasks) -> None:
        self.rest = rest
        self.engine = engine
        self.clock = clock
        self.zeebe_app = zeebe_app
        self.clock_file = clock_file
        self.worker = worker

    def write_clock(self) -> None:
        tmp = self.clock_file.with_suffix(".tmp")
        tmp.write_text(self.clock.now().isoformat(), encoding="ascii")
        os.replace(tmp, self.clock_file)

    async def publish(self, name, key, variables, message_id=None):
        # what `pep event ...` does in Camunda 8 mode: publish through the gateway
        await asyncio.to_thread(self.zeebe_app.engine.publish_message, name, key, variables, message_id=message_id)

    def _busy(self) -> str | None:
        now = self.clock.now()
        for job in self.engine.jobs():
            if job.error_message:
                raise AssertionError(f"job {job.type} failed in the worker: {job.error_message}")
            if job.state == "ACTIVATED" or (job.state == "ACTIVATABLE" and (job.retry_at is None or job.retry_at <= now)):
                return f"job {job.type} {job.state.lower()}"
        due = self.engine.next_timer_due()
        if due is not None and due <= now:
            return "a timer is due"
        return None

    async def settle(self):
        deadline = time.monotonic() + SETTLE_TIMEOUT
        quiet = 0
        while quiet < 2:  # twice in a row: nothing in flight between two looks
            if self.worker.poll() is not None:
                raise AssertionError(f"the worker service exited with {self.worker.returncode}")
            busy = await asyncio.to_thread(self._busy)
            quiet = 0 if busy else quiet + 1
            if busy and time.monotonic() > deadline:
                raise AssertionError(f"the process did not settle in {SETTLE_TIMEOUT} s: {busy}")
            await asyncio.sleep(0.05)
        assert not self.engine.incidents(), self.engine.incidents()

    async def open_user_tasks(self, key):
        return await asyncio.to_thread(self.rest.open_tasks, key)

    async def complete_user_task(self, task, variables, actor):
        await asyncio.to_thread(self.rest.assign_and_complete, task.user_task_key, actor, variables)

    async def advance_to(self, target):
        # the broker's clock: step through due timers and backoffs in order, as
        # EmbeddedRuntime.advance does, letting the worker do what became due
        await self.settle()
        while True:
            dues = [d for d in (self.engine.next_timer_due(), self.engine.next_job_due()) if d is not None]
            due = min(dues) if dues else None
            if due is None or due > target:
                break
            if due > self.clock.now():
                self.clock.set(due)
                self.write_clock()
            await asyncio.to_thread(self.engine.fire_due_timers)
            await self.settle()
        if self.clock.now() < target:
            self.clock.set(target)
            self.write_clock()
        await asyncio.to_thread(self.engine.fire_due_timers)
        await self.settle()


# ---------------------------------------------------------------------- scenario
async def pep_cycle(driver: Driver, store: RecordsStore) -> int:
    """1a -> initial PEP -> form sent and returned -> meeting -> final PEP (returned
    once at the check) -> distributed -> next term's PEP scheduled. Returns the key."""
    engine = driver.engine
    episode = store.open_care_episode(CHILD, T0.date(), emergency=False, actor="cli")
    await driver.publish("child-looked-after", CHILD, {
        "childId": CHILD, "enteredCareOn": episode.entered_care_on.isoformat(), "emergency": False,
        "careEpisodeId": episode.id,
    })
    await driver.settle()
    [instance] = engine.instances(bpmn_process_id="pep")
    key = instance.process_instance_key
    roles = RolePlayer(store)
    for _step in range(40):
        await driver.settle()
        view = engine.instance(key)
        active = view.active_elements
        completed = {h.element_id for h in engine.history(key) if h.event == "COMPLETED"}
        if "CompletePepTask" in completed and "WaitToPrepareEvent" in active:
            return key
        tasks = await driver.open_user_tasks(key)
        if tasks:
            task = tasks[0]
            await driver.complete_user_task(task, roles.variables_for(task, driver.clock.now()), roles.actor_for(task))
        elif "SchoolFormReturnedEvent" in active:
            pep_id = view.variables["pepId"]
            await driver.publish("pep-form-returned", pep_id, {}, message_id=f"returned-{pep_id}")
        elif {"WaitForMeetingEvent", "MeetingWaitGateway"} & set(active):  # the event-based wait for the meeting
            meeting = datetime.fromisoformat(view.variables["meetingAt"].replace("Z", "+00:00"))
            await driver.advance_to(meeting)
        else:
            raise AssertionError(f"the cycle is stuck at {active}")
    raise AssertionError("the cycle did not finish in 40 steps")


def outcome(engine: Engine, store: RecordsStore, key: int, mails: list) -> dict:
    """What must be the same in both modes."""
    view = engine.instance(key)
    history = [h.element_id for h in engine.history(key) if h.event == "COMPLETED"]
    peps = store.peps_for(CHILD)
    return {
        "active": sorted(view.active_elements),
        "state": view.state,
        "completed_elements": sorted(history),
        "variables": {k: v for k, v in view.variables.items()},
        "peps": [p.model_dump(mode="json") for p in peps],
        "documents": sorted((d.pep_id, d.kind.value, d.version, d.filename) for p in peps for d in store.documents(p.id)),
        "mail_log": sorted((m.pep_id, m.kind, m.recipient, m.status.value) for p in peps for m in store.mail_log(p.id)),
        "mails": sorted(
            (str(m["To"]), str(m["Subject"]), tuple(sorted(part.get_filename() or "" for part in m.iter_attachments())))
            for m in mails
        ),
        "incidents": engine.incidents(),
    }


# ------------------------------------------------------------------------- runs
async def run_in_process(tmp: Path) -> dict:
    settings = AppSettings(data_dir=tmp, database_url=f"sqlite:///{tmp / 'pep.sqlite3'}")
    async with open_app(settings, SimulationClock(T0)) as app:
        load_sample_data(app.store)
        key = await pep_cycle(InProcess(app), app.store)
        return outcome(app.engine, app.store, key, app.outbox.messages())


def _worker_env(port: int, url: str, data_dir: Path, outbox: LocalOutboxServer, clock_file: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PEP_", "ZEEBE_", "CAMUNDA_"))}
    env.update({
        "PYTHONPATH": os.pathsep.join([str(SHIM), str(ROOT)]),
        "PEP_TEST_CLOCK_FILE": str(clock_file),
        "PEP_ZEEBE_ADDRESS": f"127.0.0.1:{port}",
        "PEP_ZEEBE_REQUEST_TIMEOUT_MS": "5000",
        "PEP_ZEEBE_SHUTDOWN_GRACE_SECONDS": "20",
        "PEP_DATABASE_URL": url,
        "PEP_DATA_DIR": str(data_dir),
        "PEP_SMTP_HOST": outbox.host,
        "PEP_SMTP_PORT": str(outbox.port),
        "PEP_SMTP_SECURITY": "starttls",
        "PEP_SMTP_USERNAME": outbox.username,
        "PEP_SMTP_PASSWORD": outbox.password,
        "PEP_SMTP_CA_BUNDLE": str(outbox.cert_path),
    })
    return env


async def _wait_ready(worker: subprocess.Popen, ready: Path, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if worker.poll() is not None:
            raise AssertionError(f"the worker service exited with {worker.returncode}:\n{log.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the worker service was not ready in {timeout} s:\n{log.read_text()}")
        await asyncio.sleep(0.1)


async def run_over_grpc(tmp: Path) -> tuple[dict, str, int]:
    url = f"sqlite:///{tmp / 'pep.sqlite3'}"
    clock = SimulationClock(T0)
    migrate(url)
    store = RecordsStore(url, clock)
    load_sample_data(store)
    engine = Engine(url, clock)
    clock_file = tmp / "clock.txt"
    port = free_port()
    log_path = tmp / "worker.log"
    worker_dir = tmp / "worker"
    try:
        async with FacadeServer(engine, f"127.0.0.1:{port}", rest_address="127.0.0.1:0") as server, \
                LocalOutboxServer(tmp / "outbox-state") as outbox:
            zeebe = ZeebeSettings(address=server.target)
            # `pep deploy --zeebe bpmn forms`
            with ZeebeEngine(zeebe) as client:
                deployment = await asyncio.to_thread(client.deploy, sorted((ROOT / "bpmn").glob("*.bpmn")) + sorted((ROOT / "forms").glob("*.form")))
            assert {p.bpmn_process_id for p in deployment.processes} == {"pep", "pep-quality"}
            assert len(deployment.forms) == len(list((ROOT / "forms").glob("*.form")))

            clock_file.write_text(clock.now().isoformat(), encoding="ascii")
            with open(log_path, "w") as log:
                worker = subprocess.Popen(
                    [sys.executable, "-m", "workers"], cwd=tmp, env=_worker_env(port, url, worker_dir, outbox, clock_file),
                    stdout=log, stderr=subprocess.STDOUT,
                )
            try:
                await _wait_ready(worker, worker_dir / "worker.ready", log_path)
                settings = AppSettings(data_dir=tmp / "cli", database_url=url)
                async with open_zeebe_app(settings, clock, zeebe) as zeebe_app:
                    rest = RestTasks(server.rest_url)
                    try:
                        driver = OverGrpc(engine, clock, zeebe_app, clock_file, worker, rest)
                        key = await pep_cycle(driver, zeebe_app.store)
                        result = outcome(engine, zeebe_app.store, key, outbox.messages())
                    finally:
                        rest.close()
                # SIGTERM: a clean stop
                worker.send_signal(signal.SIGTERM)
                code = await asyncio.to_thread(worker.wait, 30)
            finally:
                if worker.poll() is None:
                    worker.kill()
                    worker.wait()
    finally:
        engine.close()
        store.close()
    return result, log_path.read_text(), code


async def test_worker_service_runs_a_pep_cycle_over_grpc_like_the_in_process_mode(tmp_path):
    (tmp_path / "embedded").mkdir()
    (tmp_path / "grpc").mkdir()
    expected = await run_in_process(tmp_path / "embedded")
    actual, worker_log, code = await run_over_grpc(tmp_path / "grpc")

    assert code == 0, worker_log
    assert "worker stopped" in worker_log
    assert "Traceback" not in worker_log, worker_log
    # the cycle went all the way round: final PEP sent, next term's PEP waiting
    assert "WaitToPrepareEvent" in actual["active"]
    assert [p["status"] for p in actual["peps"]][0] == "final"
    assert len(actual["mails"]) >= 5
    for field in ("active", "state", "completed_elements", "variables", "peps", "documents", "mail_log", "mails", "incidents"):
        assert actual[field] == expected[field], field
