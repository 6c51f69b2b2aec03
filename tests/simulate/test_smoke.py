"""``pep simulate --children 50``: a council's whole year end to end, as CI runs it.

The real embedded engine, workers, protected documents, the final PEPs' tagged PDFs
and the local STARTTLS outbox. The command checks its own invariants
(every child in care all year has three final PEPs; no mail after leaving care;
documents and mail match the records) and exits 1 naming what broke; this test reads
its figures and checks them against the records as well.
"""

from __future__ import annotations

import sqlite3

import pytest
from typer.testing import CliRunner

from pepflow.cli import app

pytestmark = pytest.mark.slow


def test_a_fifty_child_council_year(tmp_path, monkeypatch):
    data_dir = tmp_path / "sim"
    monkeypatch.setenv("PEP_DOCUMENT_PROCESSES", "1")  # as a council's machine runs it: spins on another core
    monkeypatch.setenv("PEP_OUTBOX_PROCESS", "1")  # the local outbox's own process, end to end
    monkeypatch.setenv("PEP_DOCUMENT_RECYCLE_AFTER", "150")  # fresh workers many times in the year
    result = CliRunner().invoke(app, ["simulate", "--children", "50", "--data-dir", str(data_dir), "--seed", "16"])
    assert result.exit_code == 0, result.output
    figures = {}
    for line in result.stdout.splitlines():
        name, _, value = line.partition(": ")
        if value and " " in value:
            figures[name] = value.split()[0]
    assert figures["invariant_problems"] == "0" and figures["incidents"] == "0"
    assert figures["job_failures"] == "0"  # no step failed even once (a retry would hide it)
    assert figures["events_refused"] == "0"
    assert int(figures["children_arriving"]) > 0 and int(figures["children_leaving"]) > 0
    assert int(figures["final_peps"]) >= 3 * 25
    assert figures["mail_sent"] == figures["outbox_eml_files"]
    assert figures["final_pdfs"] == figures["final_peps"]  # every final PEP has its tagged PDF
    # every protected copy's spin ran in the worker process, none fell back to this one
    assert int(figures["protected_copies"]) > 0
    assert figures["password_spins_in_worker_processes"] == figures["protected_copies"]
    # every form and final PEP made, and every returned form filled and read, in the worker
    assert figures["documents_in_this_process"] == "0"
    made = int(figures["documents"]) - int(figures["final_pdfs"])  # the PDFs are Typst's, set here
    assert int(figures["documents_in_worker_processes"]) >= made
    calls = sum(int(figures[name]) for name in ("password_spins_in_worker_processes",
                                                 "documents_in_worker_processes",
                                                 "messages_encoded_in_worker_processes"))
    assert int(figures["document_workers_recycled"]) == (calls - 1) // 150  # none of it fell back here
    with sqlite3.connect(data_dir / "pep.sqlite3") as db:
        assert db.execute("select count(*) from mail_log where status = 'sent'").fetchone()[0] == int(figures["mail_sent"])
        assert db.execute("select count(*) from document_versions").fetchone()[0] == int(figures["documents"])
        assert db.execute("select count(*) from peps where status = 'final'").fetchone()[0] == int(figures["final_peps"])
        checks = db.execute("select count(*) from engine_user_task where element_id = 'CheckAndFinalisePepTask' "
                            "and state = 'COMPLETED'").fetchone()[0]
        late_schools = db.execute("select count(*) from peps where status = 'final' and form_returned_at is null").fetchone()[0]
    assert checks > int(figures["final_peps"])  # some PEPs were sent back and checked again
    assert late_schools > 0  # some meetings went ahead without the school's form
    assert (data_dir / "forecast.png").read_bytes().startswith(b"\x89PNG")
    header = (data_dir / "forecast.csv").read_text().splitlines()[0]
    assert header.startswith("week_starts,school_days,forms_sent,meetings,typing_queue")
