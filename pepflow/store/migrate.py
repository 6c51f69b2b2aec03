"""Bring a records database up to the latest schema (Alembic, programmatically)."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config

from pepflow.store.unit_of_work import create_store_engine

DEFAULT_DATABASE_URL = "sqlite:///var/pep.sqlite3"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def database_url(url: str | None = None) -> str:
    """The URL given, else ``PEP_DATABASE_URL``, else ``sqlite:///var/pep.sqlite3``."""
    return url or os.environ.get("PEP_DATABASE_URL") or DEFAULT_DATABASE_URL


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config for the records migrations, independent of the working directory."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url(url).replace("%", "%%"))
    return config


def migrate(url: str | None = None, revision: str = "head") -> None:
    """Upgrade the database at ``url`` to ``revision`` (default: the latest)."""
    engine = create_store_engine(database_url(url))
    try:
        with engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()
