"""The CLI and the deployment around who may act: production safety, private files,
the audit names the operating-system user, allocations from the command line."""

from __future__ import annotations

import getpass
import stat
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pepflow.cli import app
from pepflow.clock import SimulationClock
from pepflow.config import AppSettings
from pepflow.safety import UnsafeDeployment, check_deployment, deployment_problems

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "pepflow" / "sample_data"
TODAY = datetime(2026, 9, 14, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
def pep(tmp_path, monkeypatch):
    monkeypatch.setenv("PEP_DATA_DIR", str(tmp_path / "var"))
    for name in ("PEP_DATABASE_URL", "PEP_SMTP_HOST", "PEP_ENVIRONMENT", "PEP_DOCUMENT_SECRET", "PEP_WEB_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "220")
    monkeypatch.setattr("pepflow.cli.common.SystemClock", lambda: SimulationClock(TODAY))
    monkeypatch.setattr("pepflow.clock.SystemClock", lambda: SimulationClock(TODAY))
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, list(args), catch_exceptions=False)

    run.data_dir = tmp_path / "var"
    return run


# ------------------------------------------------------------------ production safety
def test_a_relay_with_the_development_secret_or_environment_refuses_to_start():
    relay = AppSettings(smtp_host="relay.council.example", _env_file=None)
    [problem] = deployment_problems(relay)
    assert "PEP_ENVIRONMENT=production" in problem and "PEP_DOCUMENT_SECRET" in problem and "relay.council.example" in problem
    with pytest.raises(UnsafeDeployment):
        check_deployment(relay)
    # only loopback and the local outbox: development is fine
    assert deployment_problems(AppSettings(_env_file=None), web_host="127.0.0.1", zeebe_gateway="127.0.0.1:26500") == []
    assert deployment_problems(AppSettings(_env_file=None), web_host="0.0.0.0")
    assert deployment_problems(AppSettings(_env_file=None), zeebe_gateway="zeebe.council.example:26500")
    assert deployment_problems(AppSettings(database_url="postgresql+psycopg://pep@db.council.example/pep", _env_file=None))
    production = AppSettings(environment="production", smtp_host="relay.council.example",
                             document_secret="a-council-own-secret-0123456789", _env_file=None)
    assert deployment_problems(production, web_host="0.0.0.0") == []


def test_pep_up_says_why_it_will_not_start_and_what_to_set(pep, monkeypatch):
    monkeypatch.setenv("PEP_SMTP_HOST", "relay.council.example")
    result = pep("up")
    assert result.exit_code == 1
    assert "refusing to start" in result.output and "PEP_ENVIRONMENT=production" in result.output
    assert "PEP_DOCUMENT_SECRET" in result.output
    monkeypatch.delenv("PEP_SMTP_HOST")
    result = pep("up", "--host", "0.0.0.0")
    assert result.exit_code == 1 and "0.0.0.0" in result.output


def test_the_data_directory_and_its_files_are_private(pep):
    assert pep("import", "all", str(SAMPLES)).exit_code == 0
    data = pep.data_dir
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for path in data.rglob("*"):
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, f"{path} is readable by others"


# ------------------------------------------------------------------ who did it
def test_pep_password_audits_the_operating_system_user(pep):
    assert pep("import", "all", str(SAMPLES)).exit_code == 0
    assert pep("event", "looked-after", "C-0001", "--on", "2026-09-14").exit_code == 0
    result = pep("password", "PEP-C-0001-2026-AUT", "--to", "DT Oakridge, rang back on the school's number")
    assert result.exit_code == 0, result.output
    result = pep("password", "PEP-C-0001-2026-AUT", "--to", "x", "--actor", "someone-else")
    assert result.exit_code != 0  # no self-declared identity any more
    from pepflow.store import RecordsStore

    store = RecordsStore(f"sqlite:///{(pep.data_dir / 'pep.sqlite3').resolve()}", SimulationClock(TODAY))
    [entry] = [e for e in store.audit_entries("pep", "PEP-C-0001-2026-AUT") if e.action == "document-password-given"]
    assert entry.actor_id == f"os:{getpass.getuser()}"
    store.close()


def test_allocate_from_the_command_line_moves_the_open_task(pep):
    assert pep("import", "all", str(SAMPLES)).exit_code == 0
    assert pep("event", "looked-after", "C-0001", "--on", "2026-09-14").exit_code == 0
    result = pep("allocate", "C-0001", "ST-0002", "--role", "social-worker")
    assert result.exit_code == 0, result.output
    assert "1 open task(s) moved" in result.output and "bartholomew.nettleby@council.example.org" in result.output
    result = pep("allocate", "C-0001", "ST-0004", "--role", "social-worker")
    assert result.exit_code == 1 and "personal-adviser" in result.output  # not a social worker
    result = pep("allocate", "C-0001", "--role", "social-worker", "--end")
    assert result.exit_code == 0 and "team-managers-north" in result.output
    listing = pep("allocations", "C-0001")
    assert "nobody" in listing.output and "team manager" in listing.output


def test_the_reason_for_leaving_care_stays_in_the_records_not_the_process(pep):
    assert pep("import", "all", str(SAMPLES)).exit_code == 0
    assert pep("event", "looked-after", "C-0001", "--on", "2026-09-14").exit_code == 0
    assert pep("event", "left-care", "C-0001", "--on", "2026-09-14", "--reason", "went home to mum on Elm Street").exit_code == 0
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{(pep.data_dir / 'pep.sqlite3').resolve()}")
    with engine.connect() as conn:
        texts = [str(v) for table in ("engine_message", "engine_instance") for v in
                 conn.execute(sa.text(f"SELECT variables FROM {table}")).scalars()]
    engine.dispose()
    assert texts and not any("Elm Street" in t for t in texts)


def test_task_completion_from_the_cli_is_checked_against_the_form(pep):
    assert pep("import", "all", str(SAMPLES)).exit_code == 0
    assert pep("event", "looked-after", "C-0001", "--on", "2026-09-14").exit_code == 0
    from pepflow.engine.runtime import Engine

    engine = Engine(f"sqlite:///{(pep.data_dir / 'pep.sqlite3').resolve()}", SimulationClock(TODAY))
    [task] = engine.user_tasks()
    engine.close()
    result = pep("task", "complete", str(task.user_task_key), "-v", "pepId=PEP-C-0002-2026-AUT",
                 "-v", "meetingAt=2026-09-22T13:30:00Z", "-v", "venueCode=online", "-v", 'inviteeIds=["ES-0001"]')
    assert result.exit_code == 1 and "set by the process" in result.output
    result = pep("task", "complete", str(task.user_task_key), "-v", "meetingAt=2026-09-22T13:30:00Z",
                 "-v", "venueCode=online", "-v", 'inviteeIds=["CT-0001"]')  # another child's foster carer
    assert result.exit_code == 1 and "options" in result.output
