"""The workload forecast page, chart and CSV over the records the service holds."""

from __future__ import annotations

import csv
import io

from pepflow.forecast import COLUMNS
from pepflow.store.workload import WorkloadQueries

from .conftest import drive_until


def _weeks(client, year=2026):
    response = client.get(f"/forecast.csv?year={year}")
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.text)))


def test_forecast_counts_what_the_records_hold(world, session_for):
    world.child_looked_after()
    drive_until(world, "CheckAndFinalisePepTask")  # a form went, a meeting was held, a PEP typed up
    coordinator = session_for("st-0020")
    page = coordinator.get("/forecast?year=2026")
    assert page.status_code == 200
    assert "Workload forecast by school week, 2026/27" in page.text
    assert 'src="/forecast.png?year=2026"' in page.text
    rows = _weeks(coordinator)
    assert list(rows[0]) == list(COLUMNS)
    assert rows[0]["week_starts"] == "2026-08-31" and rows[-1]["week_starts"] == "2027-07-26"
    facts = WorkloadQueries(world.store).facts()
    assert sum(int(r["forms_sent"]) for r in rows) == len(facts.forms_sent) >= 1
    assert sum(int(r["meetings"]) for r in rows) == len(facts.meetings) >= 1
    assert sum(int(r["mail_sent"]) for r in rows) == len(facts.mail_sent) >= 1
    # the half term week of October has no school day
    assert next(r for r in rows if r["week_starts"] == "2026-10-26")["school_days"] == "0"
    chart = coordinator.get("/forecast.png?year=2026")
    assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG")
    assert chart.headers["content-type"] == "image/png"
    entries = world.store.audit_entries(entity="report")
    assert any(e.entity_id == "workload-forecast" and e.action == "export-csv" for e in entries)


def test_the_typing_up_queue_is_counted_per_officer_at_the_end_of_friday(world, session_for):
    world.child_looked_after()
    task = drive_until(world, "TypeUpPepTask")
    coordinator = session_for("st-0020")
    rows = _weeks(coordinator)
    created = task.created_at.astimezone().date()
    week = [r for r in rows if r["week_starts"] <= created.isoformat()][-1]
    officers = WorkloadQueries(world.store).facts().business_support_officers
    assert officers == 4
    if created.weekday() < 5:  # appeared before that Friday ended: waiting then
        assert int(week["typing_queue"]) == 1
        assert float(week["typing_queue_per_officer"]) == round(1 / officers, 2)


def test_caseworkers_and_business_support_cannot_open_the_forecast(world, session_for):
    for username in ("st-0001", "st-0011"):
        s = session_for(username)
        for url in ("/forecast", "/forecast.png", "/forecast.csv"):
            assert s.get(url).status_code == 403, (username, url)


def test_a_year_out_of_range_is_refused(world, session_for):
    coordinator = session_for("st-0020")
    assert coordinator.get("/forecast.csv?year=99").status_code == 422
