"""Camunda's npm REST client, ``@camunda8/orchestration-cluster-api``, against the
facade's Orchestration Cluster REST API v2, with the client's own schema validation
strict on requests and responses (Zod schemas generated from Camunda's OpenAPI spec):
a field missing or of the wrong type fails the run. It found two such answers of the
facade, fixed since (a deployment item without its null kinds, an element instance
without ``elementName``).

The steps (``npm_rest_client.mjs``): topology; deploy a diagram with a user task, its
form and a job diagram; create an instance, search, read, assign and complete its user
task; activate, update (timeout) and complete a job; search variables and element
instances; fail a job into an incident, raise its retries, resolve it, work it again;
search and cancel instances; publish, correlate (404), broadcast a signal; delete a
form; evaluate a decision that does not exist and delete a resource that does not
(404 in Camunda's words).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import datetime, timezone

import pytest

from pepflow.clock import SimulationClock
from pepflow.engine.runtime import Engine
from pepflow.zeebe.facade import FacadeServer

from .conftest import DIAGRAMS, ROOT

CLIENT = ROOT / "node_modules" / "@camunda8" / "orchestration-cluster-api" / "package.json"
SCRIPT = ROOT / "tests" / "zeebe" / "npm_rest_client.mjs"

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed"),
    pytest.mark.skipif(not CLIENT.is_file(), reason="@camunda8/orchestration-cluster-api absent: run `npm ci --ignore-scripts`"),
]


async def test_the_npm_rest_client_works_the_facade_with_strict_schema_validation(tmp_path):
    engine = Engine(f"sqlite:///{tmp_path / 'engine.sqlite3'}", SimulationClock(datetime(2026, 9, 14, 8, tzinfo=timezone.utc)))
    try:
        async with FacadeServer(engine, "127.0.0.1:0", rest_address="127.0.0.1:0") as server:
            process = await asyncio.create_subprocess_exec(
                "node", str(SCRIPT), server.rest_url, str(DIAGRAMS), cwd=ROOT,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env={"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(tmp_path)},  # no CAMUNDA_* from outside
            )
            out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    finally:
        engine.close()
    assert process.returncode == 0, f"{out.decode()}\n{err.decode()}"
    steps = {line["step"]: line["value"] for line in map(json.loads, out.decode().splitlines())}
    assert steps["deployment"] == ["process approval", "process jobs", "form review-pep"]
    assert steps["approval instance"] == "COMPLETED"
    assert steps["incidents"] == [["SendDocumentTask", "JOB_NO_RETRIES", "ACTIVE"]]
    assert steps["retried"] is True and steps["cancelled"] == "TERMINATED"
    assert steps["unknown decision"]["status"] == 404
    assert steps["unknown resource"]["detail"] == "Expected to delete resource but no resource found with key `2251799813685999`"
    assert steps["correlation with nobody waiting"]["status"] == 404
    assert steps["done"] is True
