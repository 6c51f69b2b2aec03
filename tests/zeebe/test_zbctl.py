"""Camunda's own CLI, ``zbctl`` (npm package ``zbctl``, a Go binary), against the facade:
deploy, create an instance, publish a message, read the topology."""

from __future__ import annotations

import asyncio
import json

import pytest

from pepflow.clock import SystemClock
from pepflow.engine.runtime import Engine
from pepflow.zeebe.facade import FacadeServer

from .conftest import DIAGRAMS, ROOT, ZBCTL

pytestmark = pytest.mark.skipif(
    not ZBCTL.is_file(), reason=f"zbctl binary absent ({ZBCTL.relative_to(ROOT)}): run `npm install` (package.json devDependencies)"
)


async def zbctl(server: FacadeServer, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        str(ZBCTL), "--address", server.target, "--insecure", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={"HOME": server.home, "PATH": "/usr/bin:/bin"},  # no ZEEBE_* from the outside
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, f"zbctl {' '.join(args)} failed: {err.decode()}{out.decode()}"
    return out.decode()


@pytest.fixture
async def facade(tmp_path):
    engine = Engine(f"sqlite:///{tmp_path / 'engine.sqlite3'}", SystemClock())
    async with FacadeServer(engine, "127.0.0.1:0") as server:
        server.home = str(tmp_path)  # zbctl may cache credentials under $HOME
        yield engine, server
    engine.close()


async def test_zbctl_status_deploy_create_publish_and_work_a_job(facade):
    engine, server = facade
    status = await zbctl(server, "status")
    assert "Cluster size: 1" in status and "Partitions count: 1" in status and "Leader, Healthy" in status

    # plain `deploy` uses the deprecated DeployProcess RPC; `deploy resource` DeployResource
    deployed = json.loads(await zbctl(server, "deploy", str(DIAGRAMS / "jobs.bpmn")))
    assert deployed["processes"][0]["bpmnProcessId"] == "jobs"
    deployed = json.loads(await zbctl(server, "deploy", "resource", str(DIAGRAMS / "messages.bpmn"), str(DIAGRAMS / "user_task.bpmn"), str(DIAGRAMS / "review-pep.form")))
    kinds = sorted(next(iter(d)) for d in deployed["deployments"])
    assert kinds == ["form", "process", "process"]

    created = json.loads(await zbctl(server, "create", "instance", "jobs", "--variables", '{"pepId": "P-1", "sendRetries": 1}'))
    key = int(created["processInstanceKey"])
    assert engine.instance(key).active_elements == ["PrepareDocumentTask"]

    activated = json.loads(await zbctl(server, "activate", "jobs", "prepare-document", "--maxJobsToActivate", "1", "--requestTimeout", "2s"))
    [job] = activated["jobs"]
    await zbctl(server, "complete", "job", str(job["key"]), "--variables", '{"documentId": "D-1"}')
    assert engine.instance(key).active_elements == ["SendDocumentTask"]

    # a message start event starts an instance
    await zbctl(server, "publish", "message", "child-looked-after", "--correlationKey", "C-0001", "--variables", '{"childId": "C-0001", "pepId": "P-2"}')
    started = engine.instances(bpmn_process_id="messages")
    assert len(started) == 1 and started[0].state == "ACTIVE"
