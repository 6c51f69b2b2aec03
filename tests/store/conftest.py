"""Fixtures of the records store tests: a migrated store on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from pepflow.clock import SimulationClock
from pepflow.sample_data import load_sample_data
from pepflow.store import RecordsStore, migrate

START = datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock() -> SimulationClock:
    return SimulationClock(START)


@pytest.fixture
def store(database_url, clock):
    migrate(database_url)
    records = RecordsStore(database_url, clock)
    try:
        yield records
    finally:
        records.close()


@pytest.fixture
def sample_store(store):
    summaries = load_sample_data(store, actor="ST-0030")
    assert all(summary.ok for summary in summaries), [str(s) for s in summaries]
    return store
