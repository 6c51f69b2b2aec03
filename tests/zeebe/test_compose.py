"""The compose recipe: ``docker compose config`` where the client has the compose
plugin, and always a schema-ish check in Python (PyYAML): every service has a pinned
image or a build, no ``latest``, health checks, versions from ``.env``."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from .conftest import ROOT

yaml = pytest.importorskip("yaml", reason="PyYAML is needed for the compose file check")

COMPOSE = ROOT / "docker-compose.yml"
ENV = ROOT / ".env"
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")


def _env() -> dict[str, str]:
    pairs = [line.split("=", 1) for line in ENV.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return {k.strip(): v.strip() for k, v in pairs}


def _resolve(value: str, env: dict[str, str]) -> str:
    def one(match: re.Match) -> str:
        name = match.group(1)
        if name in env:
            return env[name]
        default = re.search(r":-([^}]*)\}$", match.group(0))
        if default:
            return default.group(1)
        raise AssertionError(f"{value}: {name} is neither in .env nor given a default")

    return VARIABLE.sub(one, value)


def test_env_holds_pinned_versions_and_no_secrets():
    env = _env()
    assert re.fullmatch(r"8\.6\.\d+", env["CAMUNDA_VERSION"])
    for name, value in env.items():
        assert name.endswith("_VERSION"), f".env is for versions only, not {name}"
        assert value and value != "latest"


def test_every_service_is_pinned_checked_and_documented():
    compose = yaml.safe_load(COMPOSE.read_text())
    env = _env()
    header = COMPOSE.read_text().split("\nname:", 1)[0].lower()
    for words in ("development", "production", "licence", "tls", "oauth"):
        assert words in header, f"the header comment should say what {words} means here"
    services = compose["services"]
    assert {"zeebe", "operate", "tasklist", "elasticsearch", "postgres", "mailpit", "workers"} <= set(services)
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        if "image" in service and "build" not in service:
            image = _resolve(service["image"], env)
            repository, _, tag = image.rpartition(":")
            assert repository and tag and "/" not in tag, f"{name}: {image} has no tag"
            assert tag != "latest", f"{name}: {image} is not pinned"
        if service.get("restart") != "no":
            assert "healthcheck" in service or "healthcheck" in _dockerfile_text(), f"{name} has no health check"
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port} is published beyond this machine"
    camunda = {_resolve(services[n]["image"], env).rsplit(":", 1)[1] for n in ("zeebe", "operate", "tasklist")}
    assert camunda == {env["CAMUNDA_VERSION"]}, "Zeebe, Operate and Tasklist run one version"
    workers = services["workers"]
    assert workers["build"] == "." and int(workers["stop_grace_period"].rstrip("s")) > 120
    assert workers["environment"]["PEP_ZEEBE_ADDRESS"] == "zeebe:26500"


def _dockerfile_text() -> str:
    return (ROOT / "Dockerfile").read_text()


def test_dockerfile_runs_the_worker_service():
    text = _dockerfile_text()
    assert text.startswith("#") and "FROM python:3.11" in text and "slim" in text
    assert "pip install ." in text and 'CMD ["python", "-m", "workers"]' in text
    assert "USER pep" in text


def test_docker_compose_config_when_the_client_has_compose():
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker client: the Python check above stands in for `docker compose config`")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"the docker client has no compose plugin ({(probe.stderr or probe.stdout).strip()})")
    result = subprocess.run([docker, "compose", "config", "--quiet"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
