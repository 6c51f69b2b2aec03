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
    # 8.10 is the newest supported minor (maintained to April 2028); 8.10.0 and 8.10.1
    # carry Camunda's do-not-use notice
    major, minor, patch = (int(p) for p in re.fullmatch(r"(8)\.(10)\.(\d+)", env["CAMUNDA_VERSION"]).groups())
    assert patch >= 2
    assert re.fullmatch(r"8\.8\.\d+", env["CAMUNDA_88_VERSION"])
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
    assert {"orchestration", "postgres", "mailpit", "workers"} <= set(services)
    # Camunda's lightweight 8.10 layout: one orchestration cluster, H2 secondary
    # storage, no Elasticsearch, no separate Zeebe/Operate/Tasklist, connectors off
    assert not {"zeebe", "operate", "tasklist", "elasticsearch", "connectors"} & set(services)
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
    orchestration = services["orchestration"]
    assert _resolve(orchestration["image"], env) == f"camunda/camunda:{env['CAMUNDA_VERSION']}"
    assert {p.rsplit(":", 1)[1] for p in orchestration["ports"]} == {"26500", "8080", "9600"}
    config = yaml.safe_load(compose["configs"]["orchestration-config"]["content"])
    assert config["camunda"]["data"]["secondary-storage"]["type"] == "rdbms"
    assert config["camunda"]["data"]["secondary-storage"]["rdbms"]["url"].startswith("jdbc:h2:file:")
    workers = services["workers"]
    assert workers["build"] == "." and int(workers["stop_grace_period"].rstrip("s")) > 120
    assert workers["environment"]["PEP_ZEEBE_ADDRESS"] == "orchestration:26500"
    assert "orchestration" in workers["depends_on"]


def test_the_compose_header_names_only_commands_that_exist():
    """The header's deploy command is one `pep` really has (it once named a missing one)."""
    from typer.testing import CliRunner

    from pepflow.cli import app

    header = COMPOSE.read_text().split("\nname:", 1)[0]
    assert "pep deploy --zeebe" in header
    result = CliRunner().invoke(app, ["deploy", "--help"])
    assert result.exit_code == 0 and "--zeebe" in result.output


def test_the_camunda_8_8_override_swaps_the_image_and_adds_elasticsearch():
    override = yaml.safe_load((ROOT / "docker-compose.camunda-8.8.yml").read_text())
    env = _env()
    image = _resolve(override["services"]["orchestration"]["image"], env)
    assert image == f"camunda/camunda:{env['CAMUNDA_88_VERSION']}"
    assert "elasticsearch" in override["services"]
    config = yaml.safe_load(override["configs"]["orchestration-config-88"]["content"])
    assert config["camunda"]["data"]["secondary-storage"]["type"] == "elasticsearch"


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
