"""The ``pep`` command as a council's administrator and operators use it."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pepflow.cli import app
from pepflow.clock import SimulationClock

TODAY = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "pepflow" / "sample_data"


@pytest.fixture
def pep(tmp_path, monkeypatch):
    monkeypatch.setenv("PEP_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("PEP_DATABASE_URL", raising=False)
    monkeypatch.delenv("PEP_SMTP_HOST", raising=False)
    monkeypatch.setenv("COLUMNS", "220")  # tables not wrapped
    # the commands read the injected clock: pin "today" to a day in the sample term dates
    monkeypatch.setattr("pepflow.cli.common.SystemClock", lambda: SimulationClock(TODAY))
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, list(args), catch_exceptions=False)

    run.data_dir = tmp_path / "var"
    return run


def test_import_then_a_child_becomes_looked_after_and_the_process_runs(pep):
    result = pep("import", "all", str(SAMPLES))
    assert result.exit_code == 0, result.output

    result = pep("event", "looked-after", "C-0001", "--on", "2026-09-14")
    assert result.exit_code == 0, result.output
    assert "PEP process started" in result.output

    tasks = pep("tasks")
    assert "Arrange initial PEP meeting" in tasks.output
    status = pep("status", "C-0001")
    assert "PEP-C-0001-2026-AUT" in status.output
    # the initial PEP went to the designated teacher and the Virtual School was told,
    # through the product's own STARTTLS outbox; the entry was weeks before "today",
    # so the initial meeting is overdue: the command says so, the PEP co-ordinator is
    # told at once, and no reminder "to arrange it by" a day gone by goes to the worker
    assert "recorded late: the initial PEP meeting was due by Monday 28 September 2026" in result.output
    messages = sorted((pep.data_dir / "outbox").glob("*.eml"))
    texts = [m.read_text(errors="replace") for m in messages]
    recipients = sorted(
        next(line for line in t.splitlines() if line.startswith("To:")).split(":", 1)[1].strip() for t in texts
    )
    assert recipients == [
        "designated.teacher@oakridge-primary.example.org",
        "ingrid.larkspur@council.example.org",
        "virtual.school@council.example.org",
    ]
    assert not any("Poppy" in t for t in texts)  # references, never the child's name
    assert (pep.data_dir / "documents" / "PEP-C-0001-2026-AUT" / "PEP-C-0001-2026-AUT-form-v1.docx").exists()


def test_an_unknown_child_is_one_clear_line_and_a_non_zero_exit(pep):
    pep("import", "all", str(SAMPLES))
    result = pep("event", "looked-after", "C-9999")
    assert result.exit_code == 1
    assert "C-9999" in result.output
    assert "Traceback" not in result.output
    assert "C-9999" not in pep("instances").output


def test_a_csv_with_a_bad_row_imports_nothing_and_names_the_line(pep, tmp_path):
    bad = tmp_path / "staff.csv"
    bad.write_text(
        "id,name,email,roles,team,candidate_group\n"
        "ST-0100,Good Person,good@council.example.org,social-worker,north,\n"
        "ST-0101,Bad Address,not-an-address,social-worker,north,\n"
    )
    result = pep("import", "staff", str(bad))
    assert result.exit_code == 1
    assert "3" in result.output and "email" in result.output.lower()
    result = pep("import", "staff", str(SAMPLES / "staff.csv"))
    assert result.exit_code == 0, result.output


def test_a_returned_file_that_is_not_a_word_form_is_refused_and_changes_nothing(pep, tmp_path):
    pep("import", "all", str(SAMPLES))
    pep("event", "looked-after", "C-0001", "--on", "2026-09-14")
    junk = tmp_path / "returned.docx"
    junk.write_bytes(b"this is not a zip file")
    result = pep("form-returned", "PEP-C-0001-2026-AUT", str(junk))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "returned" not in pep("status", "C-0001").output


def test_demo_runs_a_simulated_term_with_documents_and_mail(pep, tmp_path):
    data = tmp_path / "demo"
    result = pep("demo", "--data-dir", str(data), "--until", "2026-10-09")
    assert result.exit_code == 0, result.output
    assert "Arrange initial PEP meeting" in result.output
    assert list((data / "outbox").glob("*.eml"))
    assert list((data / "documents").glob("PEP-*/*.docx"))


def test_a_document_password_is_given_by_phone_and_audited(pep):
    pep("import", "all", str(SAMPLES))
    pep("event", "looked-after", "C-0001", "--on", "2026-09-14")
    result = pep("password", "PEP-C-0001-2026-AUT", "--to", "Priya Hollowell (DT), called back on the school's number")
    assert result.exit_code == 0, result.output
    assert re.search(r"form v1: [0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}", result.output)
    from pepflow.app import open_records
    from pepflow.config import AppSettings

    store = open_records(AppSettings(), SimulationClock(TODAY))
    given = [a for a in store.audit_entries("pep", "PEP-C-0001-2026-AUT") if a.action == "document-password-given"]
    store.close()
    assert len(given) == 1 and "Priya Hollowell" in given[0].diff["to"]


def _task_key(pep, name: str) -> str:
    line = next(line for line in pep("tasks").output.splitlines() if name in line)
    return re.search(r"\b(\d{10,})\b", line).group(1)


def test_a_meeting_on_christmas_day_is_refused_from_the_command_line(pep):
    pep("import", "all", str(SAMPLES))
    pep("event", "looked-after", "C-0001", "--on", "14/09/2026")  # as England writes a date
    key = _task_key(pep, "Arrange initial PEP meeting")
    result = pep("task", "complete", key, "-v", "meetingAt=2026-12-25T10:00:00Z", "-v", "venueCode=education-setting",
                 "-v", 'inviteeIds=["ES-0001"]')  # recorded as completed by the OS user
    assert result.exit_code == 1
    assert "Christmas Day, a bank holiday" in result.output and "Tuesday 5 January 2027" in result.output
    assert "Arrange initial PEP meeting" in pep("tasks").output  # still to do


def test_completing_a_task_runs_the_steps_that_follow_and_status_speaks_uk_time(pep):
    pep("import", "all", str(SAMPLES))
    pep("event", "looked-after", "C-0001", "--on", "2026-09-14")
    key = _task_key(pep, "Arrange initial PEP meeting")
    # Wednesday 12 May 2027, 10:00 in England (British Summer Time: 09:00 UTC)
    result = pep("task", "complete", key, "-v", "meetingAt=2027-05-12T09:00:00Z", "-v", "venueCode=education-setting",
                 "-v", 'inviteeIds=["ES-0001"]')  # recorded as completed by the OS user
    assert result.exit_code == 0, result.output
    # no `pep run` needed: the PEP co-ordinator was told and the social worker's part is next
    assert "Complete social worker's part" in pep("tasks").output
    status = pep("status", "C-0001").output
    assert "Wed 12 May 2027 10:00" in status and "09:00" not in status
    assert "form sent to the setting" in status


def test_a_date_the_cli_cannot_read_is_refused_naming_the_formats(pep):
    pep("import", "all", str(SAMPLES))
    result = pep("event", "looked-after", "C-0001", "--on", "09/14/2026")  # month first
    assert result.exit_code == 1
    assert "YYYY-MM-DD (2026-09-03) or DD/MM/YYYY (03/09/2026)" in result.output


def test_a_meeting_change_is_checked_as_on_the_web(pep):
    pep("import", "all", str(SAMPLES))
    pep("event", "looked-after", "C-0001", "--on", "2026-09-14")
    bad = pep("event", "meeting-changed", "PEP-C-0001-2026-AUT", "--change", "moved", "--to", "31/11/2026 14:00",
              "--reason", "school trip")
    assert bad.exit_code == 1 and "not a real date" in bad.output
    snapped = pep("event", "meeting-changed", "PEP-C-0001-2026-AUT", "--change", "moved", "--to", "03/12/2026 2pm",
                  "--reason", "school trip")
    assert snapped.exit_code == 1 and "DD/MM/YYYY HH:MM" in snapped.output
    # the initial meeting is not arranged yet: nothing to move
    early = pep("event", "meeting-changed", "PEP-C-0001-2026-AUT", "--change", "moved", "--to", "03/12/2026 14:05",
                "--reason", "school trip")
    assert early.exit_code == 1 and "no meeting arranged yet" in early.output
