"""The simulated council: its age mix, caseloads, term dates and exports."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timezone

import pytest
import typer

from pepflow.clock import SimulationClock
from pepflow.domain.rules import age_on
from pepflow.importer import import_directory
from pepflow.simulate.cli import academic_year
from pepflow.simulate.council import AGE_MIX, CouncilBuilder, council_terms
from pepflow.simulate.run import MARKER, SimulationRefused, prepare_data_dir
from pepflow.store import RecordsStore
from pepflow.store.migrate import migrate


def test_the_children_in_care_have_englands_age_mix():
    plan = CouncilBuilder(2000, 2026, seed=7).build()
    starting = [c for c in plan.children if not c.arrives]
    assert len(starting) == 2000
    bands = Counter()
    for child in starting:
        age = age_on(child.date_of_birth, date(2026, 9, 3))
        bands[next(label for label, low, high, _ in AGE_MIX if low <= age < high)] += 1
    for label, _low, _high, share in AGE_MIX:
        assert abs(bands[label] / 2000 - share) < 0.03, (label, bands[label])


def test_caseloads_are_the_size_councils_work_to():
    plan = CouncilBuilder(1000, 2026, seed=2).build()
    roles = {row["id"]: row["roles"] for row in plan.rows["staff"]}
    held = Counter(worker for c in plan.children for worker in c.workers.values())
    assert all(c.workers for c in plan.children)
    turning_18 = [c for c in plan.children if "personal-adviser" in c.workers and "leaving-care-worker" in c.workers]
    assert turning_18  # a young person turning 18 in the year has both, the adviser from their birthday
    for worker, count in held.items():
        limit = 20 if roles[worker] == "social-worker" else 25
        assert count <= limit, (worker, roles[worker], count)
    teams = Counter(row["candidate_group"] for row in plan.rows["staff"] if row["roles"] == "business-support")
    localities = {c.locality for c in plan.children}
    assert set(teams) == {f"business-support-{loc}" for loc in localities}
    assert all(size >= 2 for size in teams.values())


def test_the_same_seed_makes_the_same_council():
    one, two = CouncilBuilder(300, 2026, seed=5).build(), CouncilBuilder(300, 2026, seed=5).build()
    assert one.rows == two.rows and one.events == two.events
    assert CouncilBuilder(300, 2026, seed=6).build().rows != one.rows


def test_the_year_has_entries_exits_moves_and_young_children_without_a_setting():
    plan = CouncilBuilder(500, 2026, seed=3).build()
    kinds = Counter(e.kind for e in plan.events)
    assert kinds["already-in-care"] == 500
    assert kinds["looked-after"] > 150 and kinds["left-care"] > 150 and kinds["setting-changed"] > 5
    assert any(c.setting_id is None for c in plan.children)
    for child in plan.children:
        if child.leaves_on:
            assert child.leaves_on > max(child.entered_on, plan.start)
        for on, setting in child.moves:
            assert setting != child.setting_id and on < (child.leaves_on or plan.end)
    extra = CouncilBuilder(500, 2026, seed=3, extra_children=300, extra_from=date(2027, 1, 4)).build()
    assert Counter(e.kind for e in extra.events)["looked-after"] == kinds["looked-after"] + 300


def test_council_term_dates_follow_the_published_pattern():
    terms = {t[0]: t[1:] for t in council_terms(2026)}
    assert terms["autumn"] == (date(2026, 9, 3), date(2026, 12, 18), date(2026, 10, 26), date(2026, 10, 30))
    assert terms["spring"] == (date(2027, 1, 4), date(2027, 3, 25), date(2027, 2, 15), date(2027, 2, 19))
    assert terms["summer"] == (date(2027, 4, 12), date(2027, 7, 21), date(2027, 5, 31), date(2027, 6, 4))
    spring_2028 = {t[0]: t[1:] for t in council_terms(2027)}["spring"]
    assert spring_2028[:2] == (date(2028, 1, 4), date(2028, 3, 31))


def test_the_exports_import_cleanly(tmp_path):
    plan = CouncilBuilder(150, 2026, seed=4).build()
    url = f"sqlite:///{tmp_path / 'records.sqlite3'}"
    migrate(url)
    store = RecordsStore(url, SimulationClock(datetime.combine(plan.start, time(8), tzinfo=timezone.utc)))
    try:
        summaries = import_directory(store, plan.write_csv(tmp_path / "council"), "test")
        assert all(s.ok for s in summaries), [str(s) for s in summaries]
        assert len(store.children()) == len(plan.children)
    finally:
        store.close()


def test_academic_years_are_read_as_councils_write_them():
    assert academic_year("2026/27") == 2026 and academic_year("2026") == 2026 and academic_year("2026/2027") == 2026
    for bad in ("2026/28", "26/27", "next year", "1999/00", "2999/00"):
        with pytest.raises(typer.BadParameter):
            academic_year(bad)


def test_a_simulation_never_replaces_other_records(tmp_path):
    records = tmp_path / "council-records"
    records.mkdir()
    (records / "pep.sqlite3").write_bytes(b"a council's real records")
    with pytest.raises(SimulationRefused, match="holds no earlier simulation"):
        prepare_data_dir(records)
    assert (records / "pep.sqlite3").read_bytes() == b"a council's real records"
    earlier = tmp_path / "earlier-run"
    earlier.mkdir()
    (earlier / MARKER).write_text("{}")
    (earlier / "pep.sqlite3").write_bytes(b"simulated")
    prepare_data_dir(earlier)
    assert list(earlier.iterdir()) == []
