"""One target per run of each conformance test: embedded, facade, camunda (Docker)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.zeebe.conftest import docker_unavailable_reason

from .targets import Cluster, Embedded, Facade

ROOT = Path(__file__).resolve().parents[2]


def camunda_version() -> str:
    for line in (ROOT / ".env").read_text().splitlines():
        if line.startswith("CAMUNDA_VERSION="):
            return line.split("=", 1)[1].strip()
    raise AssertionError("CAMUNDA_VERSION is not in .env")


@pytest.fixture(scope="session")
def camunda_cluster():
    """The real orchestration cluster, once per session (where Docker answers)."""
    reason = docker_unavailable_reason()
    if reason:
        pytest.skip(f"{reason}: the camunda target needs Docker (camunda/camunda:{camunda_version()})")
    from tests.zeebe.cluster import camunda_container

    with camunda_container(camunda_version()) as (grpc_address, rest_url):
        yield grpc_address, rest_url


def _target(request, tmp_path, name: str):
    if name == "camunda":
        grpc_address, rest_url = request.getfixturevalue("camunda_cluster")
        cluster = Cluster(grpc_address, rest_url)
        cluster.name = "camunda"
        yield cluster
        cluster.close()
        return
    url = f"sqlite:///{tmp_path / f'conformance-{uuid.uuid4().hex[:8]}.sqlite3'}"
    chosen = Embedded(url) if name == "embedded" else Facade(url)
    yield chosen
    chosen.close()


@pytest.fixture(params=["embedded", "facade", "camunda"])
def target(request, tmp_path):
    yield from _target(request, tmp_path, request.param)


@pytest.fixture(params=["facade", "camunda"])
def gateway(request, tmp_path):
    """A gateway command with no engine API of its own: the facade and the real cluster."""
    yield from _target(request, tmp_path, request.param)
