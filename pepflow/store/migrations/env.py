"""Alembic environment of the records store.

The URL comes from the caller (``config.attributes["connection"]`` or the
``sqlalchemy.url`` option, as :func:`pepflow.store.migrate` sets them), else from
``PEP_DATABASE_URL``, else ``sqlite:///var/pep.sqlite3``.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from pepflow.store.migrate import database_url
from pepflow.store.models import Base
from pepflow.store.unit_of_work import create_store_engine

config = context.config
if config.config_file_name is not None and not config.attributes.get("connection"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _url() -> str:
    configured = config.get_main_option("sqlalchemy.url")
    return database_url(configured or None)


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Leave alone tables that are not the records store's (the engine keeps its own)."""
    return not (type_ == "table" and reflected and compare_to is None)


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        include_object=include_object,
        literal_binds=True,
        render_as_batch=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_store_engine(_url())
    try:
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
