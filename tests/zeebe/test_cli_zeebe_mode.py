"""PEP_ENGINE=zeebe: the same `pep` commands deploy to and publish on a Zeebe gateway
(here the facade over an embedded engine, in a thread of its own)."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timezone

import pytest
from typer.testing import CliRunner

from pepflow.cli import app
from pepflow.clock import SimulationClock
from pepflow.engine.runtime import Engine
from pepflow.zeebe.facade import FacadeServer

from .conftest import free_port

T0 = datetime(2026, 9, 14, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def gateway(tmp_path):
    engine = Engine(f"sqlite:///{tmp_path / 'zeebe.sqlite3'}", SimulationClock(T0))
    port = free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict = {}

    async def run() -> None:
        holder["server"] = await FacadeServer(engine, f"127.0.0.1:{port}").start()
        holder["stop"] = asyncio.Event()
        ready.set()
        await holder["stop"].wait()
        await holder["server"].stop()

    thread = threading.Thread(target=lambda: loop.run_until_complete(run()), daemon=True)
    thread.start()
    assert ready.wait(20), "the facade did not start"
    yield engine, f"127.0.0.1:{port}"
    loop.call_soon_threadsafe(holder["stop"].set)
    thread.join(timeout=10)
    engine.close()


def test_deploy_and_an_event_go_to_zeebe_in_camunda_8_mode(gateway, tmp_path, monkeypatch):
    engine, address = gateway
    monkeypatch.setenv("PEP_ENGINE", "zeebe")
    monkeypatch.setenv("PEP_ZEEBE_ADDRESS", address)
    monkeypatch.setenv("PEP_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr("pepflow.cli.SystemClock", lambda: SimulationClock(T0))
    runner = CliRunner()

    result = runner.invoke(app, ["deploy", "bpmn", "forms"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "process pep version 1" in result.output
    assert engine.latest_definition("pep").version == 1  # it reached the gateway's engine

    runner.invoke(app, ["import", "all", "pepflow/sample_data"], catch_exceptions=False)
    result = runner.invoke(app, ["event", "looked-after", "C-0001", "--on", "2026-09-14"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "published to Zeebe" in result.output
    [instance] = engine.instances()
    assert instance.bpmn_process_id == "pep" and instance.active_elements == ["InitiatePepTask"]  # no worker here
