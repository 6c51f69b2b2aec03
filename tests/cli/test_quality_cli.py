"""``pep ppp ledger`` and ``pep quality request-due`` on a council's records."""

from __future__ import annotations

import csv

from pepflow.app import open_records
from pepflow.clock import SimulationClock
from pepflow.config import AppSettings
from pepflow.domain.enums import PepSection
from pepflow.store.ppp import PppRecords

from .test_cli import SAMPLES, TODAY, pep  # noqa: F401 - the fixture


def test_the_ledger_of_a_financial_year_printed_and_as_csv(pep, tmp_path):  # noqa: F811
    assert pep("import", "all", str(SAMPLES)).exit_code == 0
    store = open_records(AppSettings(data_dir=pep.data_dir), SimulationClock(TODAY))
    try:
        made = store.create_pep("C-0001", 2026, "autumn", actor="ST-0001")
        store.save_section(made.id, PepSection.SCHOOL_RETURN, {"targets": [{"target": "Read every day"}]}, actor="ST-0001")
        ppp = PppRecords(store)
        ppp.decide(ppp.request(made.id, 1, "1,200.10", "Reading tutor", actor="ST-0001").id, True, None, actor="ST-0021")
    finally:
        store.close()
    out = tmp_path / "ledger.csv"
    result = pep("ppp", "ledger", "--year", "2026", "--csv", str(out))
    assert result.exit_code == 0, result.output
    assert "Pupil Premium Plus 2026-27" in result.output and "£1,200.10" in result.output
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["amount"] for r in rows if r["status"] == "total"] == ["1200.10"]
    assert pep("ppp", "ledger", "--year", "2025").output.count("£0.00") == 1

    result = pep("quality", "request-due")
    assert result.exit_code == 0, result.output
    assert "quality review requested for 0 final PEP(s)" in result.output  # the PEP is not final
