"""School calendars kept between calls, checked with one query.

Building a setting's :class:`~pepflow.calendar.SchoolCalendar` takes six statements
(the council's terms and INSET days, the setting, its own terms and INSET days) and
the casework asks for one at almost every step. Term dates change only by import, and
every change of term dates, INSET days or a setting is audited in the same transaction
(entities ``term-dates`` and ``setting``). So the newest such audit entry is a stamp:
while it is unchanged the kept calendars are the database's, in this process or any
other (``pep import`` while ``pep up`` runs); when it moves they are all built again.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import sqlalchemy as sa

from pepflow.store.models import AuditRow

if TYPE_CHECKING:  # pragma: no cover
    from pepflow.calendar import SchoolCalendar

ENTITIES = ("term-dates", "setting")
_STAMP = sa.select(*(
    sa.select(sa.func.max(AuditRow.id)).where(AuditRow.entity == entity).scalar_subquery() for entity in ENTITIES
))


class CalendarCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp: object = None
        self._calendars: dict[str | None, SchoolCalendar] = {}

    @staticmethod
    def stamp(conn: sa.Connection) -> tuple[int | None, ...]:
        """The newest audit entry of each entity, in one statement (a scalar subquery
        each, so each is still answered from the index on ``entity``), through Core:
        the check runs at almost every step, and nearly always finds nothing changed."""
        return tuple(conn.execute(_STAMP).one())

    def get(self, stamp: tuple[int | None, ...], setting_id: str | None, build) -> SchoolCalendar:
        """The calendar of ``setting_id``, built by ``build()`` when ``stamp`` (just read
        with :meth:`stamp`) moved."""
        with self._lock:
            if stamp != self._stamp:
                self._calendars.clear()
                self._stamp = stamp
            calendar = self._calendars.get(setting_id)
        if calendar is None:
            calendar = build()
            with self._lock:
                if self._stamp == stamp:
                    self._calendars[setting_id] = calendar
        return calendar
