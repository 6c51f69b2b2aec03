"""PEP_ENGINE=zeebe: the same `pep` commands deploy to and publish on a Zeebe gateway
(here the facade over an embedded engine). The commands run as the separate
processes they are in use."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from pepflow.clock import SimulationClock
from pepflow.engine.runtime import Engine
from pepflow.zeebe.facade import FacadeServer

from .conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
PEP = str(Path(sys.executable).parent / "pep")
T0 = datetime(2026, 9, 14, 8, 0, tzinfo=timezone.utc)


async def pep(env: dict[str, str], *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        PEP, *args, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode, output.decode()


async def test_deploy_and_an_event_go_to_zeebe_in_camunda_8_mode(tmp_path):
    engine = Engine(f"sqlite:///{tmp_path / 'zeebe.sqlite3'}", SimulationClock(T0))
    server = await FacadeServer(engine, f"127.0.0.1:{free_port()}").start()
    env = {
        **os.environ, "PEP_ENGINE": "zeebe", "PEP_ZEEBE_ADDRESS": server.target,
        "PEP_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "200",
    }
    env.pop("PEP_DATABASE_URL", None)
    try:
        code, output = await pep(env, "deploy", "bpmn", "forms")
        assert code == 0, output
        assert "process pep version 1" in output
        assert engine.latest_definition("pep").version == 1  # it reached the gateway's engine

        code, output = await pep(env, "import", "all", "pepflow/sample_data")
        assert code == 0, output
        code, output = await pep(env, "event", "looked-after", "C-0001", "--on", "2026-09-14")
        assert code == 0, output
        assert "published to Camunda 8" in output
        [instance] = engine.instances()
        # the message started the process; no worker runs here, so it waits at the first job
        assert instance.bpmn_process_id == "pep" and instance.active_elements == ["InitiatePepTask"]
    finally:
        await server.stop()
        engine.close()
