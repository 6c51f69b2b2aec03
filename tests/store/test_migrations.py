"""Migrations bring an empty database to the models, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from pepflow.store import DEFAULT_DATABASE_URL, database_url, migrate
from pepflow.store.migrate import alembic_config
from pepflow.store.models import Base
from pepflow.store.repository import create_store_engine

ROOT = Path(__file__).resolve().parents[2]


def _head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_migrate_to_head_matches_the_models(database_url):
    migrate(database_url)
    engine = create_store_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection)
            assert context.get_current_revision() == _head()
            assert compare_metadata(context, Base.metadata) == []
            tables = set(sa.inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert {
        "children",
        "care_episodes",
        "education_settings",
        "contacts",
        "staff",
        "term_dates",
        "inset_days",
        "peps",
        "pep_sections",
        "document_versions",
        "mail_log",
        "audit_log",
    } <= tables


def test_migrate_twice_is_harmless(database_url):
    migrate(database_url)
    migrate(database_url)


def test_migrations_leave_other_tables_alone(database_url):
    engine = create_store_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE engine_owned (id INTEGER PRIMARY KEY)"))
        migrate(database_url)
        with engine.connect() as connection:
            assert "engine_owned" in sa.inspect(connection).get_table_names()
    finally:
        engine.dispose()


def test_alembic_command_line_reads_the_url_from_the_environment(database_url):
    env = {**os.environ, "PEP_DATABASE_URL": database_url}
    alembic = Path(sys.executable).with_name("alembic")
    result = subprocess.run(
        [str(alembic), "upgrade", "head"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    engine = create_store_engine(database_url)
    try:
        with engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_revision() == _head()
    finally:
        engine.dispose()


def test_database_url_defaults(monkeypatch):
    monkeypatch.delenv("PEP_DATABASE_URL", raising=False)
    assert database_url() == DEFAULT_DATABASE_URL == "sqlite:///var/pep.sqlite3"
    monkeypatch.setenv("PEP_DATABASE_URL", "sqlite:///elsewhere.sqlite3")
    assert database_url() == "sqlite:///elsewhere.sqlite3"
    assert database_url("postgresql+psycopg://db/pep") == "postgresql+psycopg://db/pep"
