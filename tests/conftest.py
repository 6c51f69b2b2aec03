"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

# An app protects a file or two in a test: a spin worker process (0.6 s to start)
# would cost more than it saves, so tests spin in-process unless they ask for the
# pool (tests/documents/test_spin_pool.py, the simulation's smoke test).
os.environ.setdefault("PEP_DOCUMENT_PROCESSES", "0")
# Likewise the local outbox runs in a thread unless a test asks for its own process
# (tests/mail, the smoke year): a process per app would cost each test its start.
os.environ.setdefault("PEP_OUTBOX_PROCESS", "0")

POSTGRES_ADMIN_URL = os.environ.get(
    "PEP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _fresh_postgres_database() -> tuple[str, callable]:
    name = f"pep_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:  # pragma: no cover - depends on the machine
        admin.dispose()
        pytest.fail(f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable: {exc}")
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """A URL to an empty database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'pep.sqlite3'}"
        return
    url, drop = _fresh_postgres_database()
    try:
        yield url
    finally:
        drop()
