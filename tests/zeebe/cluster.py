"""A real Camunda 8 orchestration cluster in a container (testcontainers), configured
like our docker-compose.yml (H2 secondary storage, unprotected API, no connectors), with
its clock controllable (``ZEEBE_CLOCK_CONTROLLED``) for tests that move time.
Only imported where a Docker daemon answers."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import httpx


@contextlib.contextmanager
def camunda_container(version: str, *, timeout: float = 300.0) -> Iterator[tuple[str, str]]:
    from testcontainers.core.container import DockerContainer

    container = (
        DockerContainer(f"camunda/camunda:{version}")
        .with_exposed_ports(26500, 8080, 9600)
        .with_env("CAMUNDA_SECURITY_AUTHENTICATION_METHOD", "basic")
        .with_env("CAMUNDA_SECURITY_AUTHENTICATION_UNPROTECTEDAPI", "true")
        .with_env("CAMUNDA_SECURITY_AUTHORIZATIONS_ENABLED", "false")
        .with_env("CAMUNDA_DATA_SECONDARYSTORAGE_TYPE", "rdbms")
        .with_env("CAMUNDA_DATA_SECONDARYSTORAGE_RDBMS_URL", "jdbc:h2:mem:camunda;DB_CLOSE_DELAY=-1")
        .with_env("CAMUNDA_DATA_SECONDARYSTORAGE_RDBMS_USERNAME", "sa")
        .with_env("CAMUNDA_DATA_SECONDARYSTORAGE_RDBMS_FLUSHINTERVAL", "PT0.1S")
        # PUT /v2/clock: a test moves the broker's time (as Camunda Process Test does)
        .with_env("ZEEBE_CLOCK_CONTROLLED", "true")
    )
    with container:
        host = container.get_container_host_ip()
        health = f"http://{host}:{container.get_exposed_port(9600)}/actuator/health/status"
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(health, timeout=5).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"camunda/camunda:{version} was not healthy in {timeout:.0f} s")
            time.sleep(2)
        yield f"{host}:{container.get_exposed_port(26500)}", f"http://{host}:{container.get_exposed_port(8080)}"
