"""Education settings, their designated teachers, and the school calendar: the council's
term dates and INSET days and a setting's own (entity ``setting`` and ``term-dates``).

A school calendar is kept between calls while no term dates, INSET day or setting
changed (:mod:`pepflow.store.calendar_cache`).
"""

from __future__ import annotations

import logging
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pepflow.calendar import TERM_ORDER, AcademicYearTerms, SchoolCalendar, Term, academic_year_of
from pepflow.domain.enums import SettingKind, TermName
from pepflow.store import records as r
from pepflow.store.calendar_cache import CalendarCache
from pepflow.store.core_reads import one_by_key
from pepflow.store.errors import InvalidRecord, MissingAddress, UnknownSetting
from pepflow.store.models import InsetDayRow, SettingRow, TermDatesRow
from pepflow.store.unit_of_work import UnitOfWork
from pepflow.store.values import COUNCIL, _diff, _email, _enum, _identifier, _snapshot, _text

log = logging.getLogger(__name__)

_SETTING_FIELDS = (
    "name",
    "kind",
    "designated_teacher_name",
    "designated_teacher_email",
    "locality",
)
_TERM_FIELDS = ("starts_on", "ends_on", "half_term_starts_on", "half_term_ends_on")


class SettingsRepository:
    """Settings, term dates and school calendars (``store.settings_repo``)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self._calendar_cache = CalendarCache()

    def save_setting(
        self,
        setting_id: str,
        name: str,
        kind: SettingKind | str,
        *,
        designated_teacher_name: str | None = None,
        designated_teacher_email: str | None = None,
        locality: str | None = None,
        actor: str,
    ) -> r.Setting:
        setting_id = _identifier(setting_id, "setting id")
        kind = _enum(SettingKind, kind, f"setting {setting_id} kind")
        has_dt = kind is not SettingKind.NONE
        values = {
            "id": setting_id,
            "name": _text(name, f"setting {setting_id} name"),
            "kind": kind.value,
            "designated_teacher_name": _text(
                designated_teacher_name,
                f"setting {setting_id} designated teacher name",
                required=has_dt,
            ),
            "designated_teacher_email": _email(
                designated_teacher_email,
                f"setting {setting_id} designated teacher email",
                required=has_dt,
            ),
            "locality": _text(locality, "locality", required=False),
        }
        with self.uow.transaction() as s:
            row, _ = self.uow.upsert(
                s,
                SettingRow,
                setting_id,
                _SETTING_FIELDS,
                values,
                actor=actor,
                entity="setting",
                entity_id=setting_id,
            )
            return r.Setting.model_validate(row)

    def setting(self, setting_id: str) -> r.Setting:
        with self.uow.rows() as conn:  # Core: read for every form and meeting
            data = one_by_key(conn, SettingRow, setting_id)
        if data is None:
            raise UnknownSetting(setting_id)
        return r.Setting.model_validate(data)

    def settings(self) -> list[r.Setting]:
        with self.uow.read() as s:
            rows = s.scalars(sa.select(SettingRow).order_by(SettingRow.id))
            return [r.Setting.model_validate(x) for x in rows]

    def designated_teacher_address(self, setting_id: str) -> r.Address:
        setting = self.setting(setting_id)
        if not setting.designated_teacher_email:
            raise MissingAddress(
                f"{setting.name} ({setting_id}) has no designated teacher e-mail address"
            )
        return r.Address(
            name=setting.designated_teacher_name or f"Designated teacher, {setting.name}",
            email=setting.designated_teacher_email,
            party_id=setting_id,
            role="designated-teacher",
        )

    def save_term(
        self,
        academic_year: int,
        term: TermName | str,
        starts_on: date,
        ends_on: date,
        half_term_starts_on: date | None = None,
        half_term_ends_on: date | None = None,
        *,
        setting_id: str | None = None,
        actor: str,
    ) -> str:
        """Create or replace one term's dates (council default, or a setting's own).

        Returns ``created``, ``updated`` or ``unchanged``."""
        term = _enum(TermName, term, "term")
        try:
            Term(term.value, starts_on, ends_on, half_term_starts_on, half_term_ends_on)
        except (ValueError, TypeError) as exc:
            raise InvalidRecord(f"{academic_year} {term.value} term: {exc}") from None
        scope = setting_id or COUNCIL
        values = dict(
            zip(
                _TERM_FIELDS,
                (starts_on, ends_on, half_term_starts_on, half_term_ends_on),
                strict=True,
            )
        )
        with self.uow.transaction() as s:
            if setting_id and s.get(SettingRow, setting_id) is None:
                raise UnknownSetting(setting_id)
            row = s.scalars(
                sa.select(TermDatesRow).where(
                    TermDatesRow.scope == scope,
                    TermDatesRow.academic_year == academic_year,
                    TermDatesRow.term == term.value,
                )
            ).one_or_none()
            entity_id = f"{scope}/{academic_year}/{term.value}"
            if row is None:
                s.add(
                    TermDatesRow(
                        scope=scope,
                        setting_id=setting_id,
                        academic_year=academic_year,
                        term=term.value,
                        **values,
                    )
                )
                s.flush()
                self.uow.audit(s, actor, "term-dates", entity_id, "create", _diff({}, values))
                return "created"
            before = _snapshot(row, _TERM_FIELDS)
            for name, value in values.items():
                setattr(row, name, value)
            changes = _diff(before, values)
            if not changes:
                return "unchanged"
            s.flush()
            self.uow.audit(s, actor, "term-dates", entity_id, "update", changes)
            return "updated"

    def save_inset_day(self, day: date, *, setting_id: str | None = None, actor: str) -> str:
        """An INSET day of the council default calendar or of one setting (idempotent).

        Returns ``created`` or ``unchanged``."""
        scope = setting_id or COUNCIL
        with self.uow.transaction() as s:
            if setting_id and s.get(SettingRow, setting_id) is None:
                raise UnknownSetting(setting_id)
            exists = s.scalars(
                sa.select(InsetDayRow).where(InsetDayRow.scope == scope, InsetDayRow.day == day)
            ).first()
            if exists is not None:
                return "unchanged"
            academic_year = academic_year_of(day)
            s.add(
                InsetDayRow(
                    scope=scope, setting_id=setting_id, academic_year=academic_year, day=day
                )
            )
            s.flush()
            self.uow.audit(
                s,
                actor,
                "term-dates",
                f"{scope}/{academic_year}/inset",
                "add-inset-day",
                {"day": [None, day]},
            )
            return "created"

    def _years(self, s: Session, scope: str) -> dict[int, AcademicYearTerms]:
        terms: dict[int, dict[str, TermDatesRow]] = {}
        for row in s.scalars(sa.select(TermDatesRow).where(TermDatesRow.scope == scope)):
            terms.setdefault(row.academic_year, {})[row.term] = row
        inset: dict[int, set[date]] = {}
        for row in s.scalars(sa.select(InsetDayRow).where(InsetDayRow.scope == scope)):
            inset.setdefault(row.academic_year, set()).add(row.day)
        years: dict[int, AcademicYearTerms] = {}
        for year, by_name in sorted(terms.items()):
            missing = [name for name in TERM_ORDER if name not in by_name]
            if missing:
                log.warning(
                    "term dates for %s %s lack the %s term(s); year ignored",
                    scope,
                    year,
                    ", ".join(missing),
                )
                continue
            years[year] = AcademicYearTerms(
                academic_year=year,
                terms=tuple(
                    Term(
                        name,
                        by_name[name].starts_on,
                        by_name[name].ends_on,
                        by_name[name].half_term_starts_on,
                        by_name[name].half_term_ends_on,
                    )
                    for name in TERM_ORDER
                ),
                inset_days=frozenset(inset.get(year, ())),
            )
        return years

    def school_calendar_for(self, setting_id: str | None = None) -> SchoolCalendar:
        """The school calendar of a setting: its own term dates where it has them for a
        year, else the council's; its INSET days on top. ``None``: the council default.
        Kept between calls while the term dates are unchanged (``calendar_cache.py``)."""
        with self.uow.rows() as conn:  # Core: the check nearly always finds it current
            stamp = self._calendar_cache.stamp(conn)
        return self._calendar_cache.get(stamp, setting_id, lambda: self._built_calendar(setting_id))

    def _built_calendar(self, setting_id: str | None) -> SchoolCalendar:
        """A calendar built afresh: a session only when the kept one is out of date."""
        with self.uow.read() as s:
            return self._build_calendar(s, setting_id)

    def _build_calendar(self, s: Session, setting_id: str | None) -> SchoolCalendar:
        council = self._years(s, COUNCIL)
        if setting_id is None:
            return SchoolCalendar(council)
        setting = s.get(SettingRow, setting_id)
        if setting is None:
            raise UnknownSetting(setting_id)
        own = self._years(s, setting_id)
        own_inset = s.scalars(
            sa.select(InsetDayRow.day).where(InsetDayRow.scope == setting_id)
        ).all()
        return SchoolCalendar(
            council, setting_years=own, setting_name=setting.name, extra_inset_days=own_inset
        )
