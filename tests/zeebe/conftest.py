"""Fixtures for the Camunda 8 mode: the gateway facade, free ports, Docker detection."""

from __future__ import annotations

import gc
import os
import socket
import warnings
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]
DIAGRAMS = ROOT / "tests" / "engine" / "diagrams"
ZBCTL = ROOT / "node_modules" / "zbctl" / "bin" / "zbctl-cli.linux"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def docker_unavailable_reason() -> str | None:
    """None when a Docker daemon answers (``docker.from_env().ping()``); otherwise why
    not, for a clean skip."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://") and not Path(host[len("unix://"):]).exists():
        return f"no Docker daemon answers (no socket at {host})"
    try:
        import docker
    except ImportError as exc:  # pragma: no cover - testcontainers brings it
        return f"the docker package is not installed ({exc})"
    with warnings.catch_warnings():
        # docker-py leaves its socket to the garbage collector when the daemon is gone
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            client = docker.from_env()
            try:
                client.ping()
            finally:
                client.close()
        except Exception as exc:  # noqa: BLE001 - any failure means: no daemon to use
            return f"no Docker daemon answers ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        finally:
            gc.collect()
    return None
