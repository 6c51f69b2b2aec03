"""Hot reads through SQLAlchemy Core: the same rows, without the ORM's per-query cost.

Profiling a simulated council's year (issue 16) put SQLAlchemy's own Python at about a
quarter of the product's CPU, spread over the store's reads. Reading a PEP by its id
through the ORM (``Session.get`` with its attendees) cost about 210 us on the
profiling machine, against about 35 us for the same two statements through Core: a
session, an identity map and the ORM's loading machinery, for a row that is turned into
an immutable record straight away.

:func:`fields_of` selects a mapped class's column attributes labelled by attribute
name (the names the records' models read), with the same column types, so the values
are exactly what the ORM would have loaded. :meth:`UnitOfWork.rows` gives the
connection to run it on: inside a transaction, that transaction's own connection after
a flush (what the session's autoflush does before an ORM query), so a read inside
``atomic()`` still sees its own changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

import sqlalchemy as sa


@cache
def fields_of(model: type) -> sa.Select:
    """``SELECT`` of ``model``'s column attributes (deferred ones left out), each
    labelled with its attribute name; add ``where`` / ``order_by`` to it."""
    mapper = sa.inspect(model)
    columns = [
        prop.columns[0].label(prop.key)
        for prop in mapper.column_attrs
        if not prop.deferred
    ]
    return sa.select(*columns)


def with_each(model: type, column, on, *order_by) -> sa.Select:
    """``model``'s rows with ``column`` of another table (labelled by its name) joined
    by ``on``: a row once per match, once with a NULL when there is none; ordered by
    ``order_by``. One statement instead of the ORM's row and its collection."""
    return fields_of(model).add_columns(column.label(column.key)).outerjoin(column.table, on).order_by(*order_by)


def dicts(result: sa.Result) -> Iterator[dict[str, Any]]:
    """``result``'s rows as dicts by column label, the labels read once: a
    ``RowMapping`` builds its key view again for every ``dict(row)`` or ``**row``."""
    labels = tuple(result.keys())
    for values in result:
        yield dict(zip(labels, values))


def each_of(result: sa.Result, column: str) -> list[tuple[dict[str, Any], list[Any]]]:
    """A :func:`with_each` result grouped by ``id``, in the result's order: each row's
    other values by label, and the non-null values of ``column``."""
    groups: dict[Any, tuple[dict[str, Any], list[Any]]] = {}
    for row in dicts(result):
        value = row.pop(column)
        group = groups.get(row["id"])
        if group is None:
            group = groups[row["id"]] = (row, [])
        if value is not None:
            group[1].append(value)
    return list(groups.values())


@cache
def by_key(model: type) -> sa.Select:
    """``model``'s row by its (single-column) primary key, bound as ``:key``."""
    primary_key = sa.inspect(model).primary_key
    if len(primary_key) != 1:
        raise TypeError(f"{model.__name__} has a composite primary key")
    return fields_of(model).where(primary_key[0] == sa.bindparam("key"))


def one_by_key(conn: sa.Connection, model: type, key: Any) -> dict[str, Any] | None:
    """``model``'s row with primary key ``key`` as a dict by attribute name, or None."""
    row = conn.execute(by_key(model), {"key": key}).mappings().first()
    return dict(row) if row is not None else None
