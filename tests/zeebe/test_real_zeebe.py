"""Against the real Zeebe image (testcontainers), for anyone with Docker: the same
deploy/start/publish/work path as against the facade. Skipped cleanly where no
Docker daemon answers."""

from __future__ import annotations

import asyncio
import json

import pytest

from .conftest import DIAGRAMS, ROOT, docker_unavailable_reason

pytestmark = pytest.mark.docker

_reason = docker_unavailable_reason()
if _reason:
    pytestmark = [pytest.mark.docker, pytest.mark.skip(reason=f"{_reason}: the real Zeebe image needs Docker")]


def _camunda_version() -> str:
    for line in (ROOT / ".env").read_text().splitlines():
        if line.startswith("CAMUNDA_VERSION="):
            return line.split("=", 1)[1].strip()
    raise AssertionError("CAMUNDA_VERSION is not in .env")


@pytest.fixture(scope="module")
def zeebe_address():
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    container = DockerContainer(f"camunda/camunda:{_camunda_version()}").with_exposed_ports(26500)
    with container:
        wait_for_logs(container, "Partition-1 recovered", timeout=180)
        yield f"{container.get_container_host_ip()}:{container.get_exposed_port(26500)}"


async def test_deploy_start_publish_and_work_on_real_zeebe(zeebe_address):
    from pyzeebe import ZeebeClient, create_insecure_channel
    from pyzeebe.proto import gateway_pb2 as pb
    from pyzeebe.proto import gateway_pb2_grpc as pb_grpc

    from pepflow.zeebe.client import ZeebeEngine
    from pepflow.zeebe.settings import ZeebeSettings

    with ZeebeEngine(ZeebeSettings(address=zeebe_address)) as engine:
        deployment = await asyncio.to_thread(
            engine.deploy, sorted((ROOT / "bpmn").glob("*.bpmn")) + sorted((ROOT / "forms").glob("*.form"))
        )
        assert [p.bpmn_process_id for p in deployment.processes] == ["pep"]
        await asyncio.to_thread(engine.deploy, [DIAGRAMS / "jobs.bpmn"])
        key = await asyncio.to_thread(engine.create_instance, "jobs", {"pepId": "P-1", "sendRetries": 1})
        assert key > 0
        await asyncio.to_thread(engine.publish_message, "child-looked-after", "C-0001", {"childId": "C-0001"})

    channel = create_insecure_channel(zeebe_address)
    try:
        stub = pb_grpc.GatewayStub(channel)
        request = pb.ActivateJobsRequest(type="prepare-document", worker="t", timeout=30_000, maxJobsToActivate=1, requestTimeout=10_000)
        jobs = [job async for response in stub.ActivateJobs(request) for job in response.jobs]
        assert json.loads(jobs[0].variables)["documentName"] == "DOC-P-1"
        await stub.CompleteJob(pb.CompleteJobRequest(jobKey=jobs[0].key, variables='{"documentId": "D-1"}'))
        assert (await ZeebeClient(channel).topology()).partitions_count >= 1
    finally:
        await channel.close()
