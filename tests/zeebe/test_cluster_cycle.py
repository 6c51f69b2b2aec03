"""A whole PEP cycle on a Camunda 8 cluster, every user task completed through the REST
API v2, the records compared with the embedded run (``tests/zeebe/cluster_cycle.py``).

Two targets, one test: ``facade`` (the gateway facade with Camunda's clock endpoint,
here, so the test code itself is proved) and ``camunda`` (the pinned
``camunda/camunda`` image from ``.env`` in a container, where a Docker daemon answers;
skipped here with one line).
"""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pepflow.clock import SimulationClock
from pepflow.engine.runtime import Engine
from pepflow.mail.local_outbox import LocalOutboxServer
from pepflow.zeebe.facade import FacadeServer

from .cluster_cycle import Cluster, run_cycle
from .conftest import ROOT, docker_unavailable_reason
from .test_worker_e2e import T0, _worker_env, run_in_process

pytestmark = pytest.mark.slow


def _camunda_version() -> str:
    for line in (ROOT / ".env").read_text().splitlines():
        if line.startswith("CAMUNDA_VERSION="):
            return line.split("=", 1)[1].strip()
    raise AssertionError("CAMUNDA_VERSION is not in .env")


class _FacadeCluster:
    """The facade on its own loop and thread, with a clock of its own (a cluster's)."""

    def __init__(self, tmp: Path) -> None:
        self.engine = Engine(f"sqlite:///{tmp / 'cluster.sqlite3'}", SimulationClock(datetime(2026, 1, 1, tzinfo=timezone.utc)))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="cluster-facade", daemon=True)
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(
            FacadeServer(self.engine, "127.0.0.1:0", rest_address="127.0.0.1:0", clock_controlled=True).start(), self.loop
        ).result(30)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
        self.engine.close()


@pytest.fixture(params=["facade", "camunda"])
def cluster(request, tmp_path):
    if request.param == "camunda":
        reason = docker_unavailable_reason()
        if reason:
            pytest.skip(f"{reason}: the PEP cycle on camunda/camunda:{_camunda_version()} needs Docker")
        from .cluster import camunda_container

        with camunda_container(_camunda_version()) as (grpc_address, rest_url):
            yield Cluster(grpc_address, rest_url, lag=2.0)
        return
    facade = _FacadeCluster(tmp_path)
    try:
        yield Cluster(facade.server.target, facade.server.rest_url, lag=0.0)
    finally:
        facade.close()


async def test_a_pep_cycle_on_a_cluster_keeps_the_same_records_as_the_embedded_run(cluster, tmp_path):
    (tmp_path / "embedded").mkdir()
    (tmp_path / "cluster").mkdir()
    expected = await run_in_process(tmp_path / "embedded")
    async with LocalOutboxServer(tmp_path / "outbox-state") as outbox:
        def worker_env(address: str, url: str, data_dir: Path, clock_file: Path) -> dict[str, str]:
            env = _worker_env(0, url, data_dir, outbox, clock_file)
            env["PEP_ZEEBE_ADDRESS"] = address
            return env

        run = await run_cycle(cluster, tmp_path / "cluster", T0, worker_env)
        mails = outbox.messages()

    assert run.worker_exit == 0 and "Traceback" not in run.worker_log, run.worker_log
    # every user task of the cycle, completed over REST by the role that owns it
    assert [element for element, _actor in run.completed_tasks] == [
        "ArrangeInitialMeetingTask", "CompletePepFormTask", "RecordMeetingTask", "TypeUpPepTask",
        "CheckAndFinalisePepTask", "TypeUpPepTask", "CheckAndFinalisePepTask",
    ]
    assert "WaitToPrepareEvent" in run.active
    assert [p["status"] for p in run.records["peps"]][0] == "final"
    for name in ("peps", "documents", "mail_log"):
        assert run.records[name] == expected[name], name
    assert sorted((str(m["To"]), str(m["Subject"])) for m in mails) == sorted((t, s) for t, s, _ in expected["mails"])

