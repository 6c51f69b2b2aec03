"""A fictional council of N children in care, written as the council's CSV exports.

The council's records go in through :mod:`pepflow.importer` like a real council's
(``staff``, ``settings``, ``term-dates``, ``children``, ``contacts``), so a change of
columns (staff allocations by age, say) is a change here and nowhere else. Its year
of events (entries, exits, changes of school) is a list of
:class:`pepflow.council_year.Event` told through :mod:`pepflow.events`.

Age mix: the Department for Education's *Children looked after in England including
adoptions*, reporting year 2025 (published November 2025; 81,770 children looked after
on 31 March 2025, source SSDA903):

- looked after on 31 March, by age (``AGE_MIX``): under 1 ~5%, 1 to 4 ~13%, 5 to 9 ~18%,
  10 to 15 ~38%, 16 and over ~26%;
- started to be looked after during the year (``ENTRY_AGE_MIX``, 32,270 children):
  1 to 4 14%, 5 to 9 15%, 10 to 15 27%, 16 and over 28%, under 1 the rest (16%);
- so about 0.39 entries a year per child in care (``ENTRIES_PER_CHILD`` = 32,270 /
  81,770), and a similar number of exits (the total fell 2% that year).

Caseloads (``Staffing``): social workers ~15-20 children, leaving care workers and
personal advisers ~20-25 young people (allocated by age through the children export's
worker columns: a young person turning 16 or 18 during the year has the next worker
allocated too), a team manager per locality, one business support officer per ~75 children in
each locality's team, one PEP co-ordinator per ~500 children. Every name is invented;
e-mail addresses use the reserved ``example.org`` domain.
"""

from __future__ import annotations

import csv
import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from dateutil.easter import easter

from pepflow.calendar import WorkingDays
from pepflow.council_year import Event
from pepflow.domain.rules import age_on, birthday, school_year

#: DfE 2025, children looked after on 31 March by age group (see the module docstring)
AGE_MIX = (("under 1", 0, 1, 0.05), ("1 to 4", 1, 5, 0.13), ("5 to 9", 5, 10, 0.18), ("10 to 15", 10, 16, 0.38), ("16 and over", 16, 18, 0.26))
#: DfE 2025, children who started to be looked after during the year by age on starting
ENTRY_AGE_MIX = (("under 1", 0, 1, 0.16), ("1 to 4", 1, 5, 0.14), ("5 to 9", 5, 10, 0.15), ("10 to 15", 10, 16, 0.27), ("16 and over", 16, 18, 0.28))
ENTRIES_PER_CHILD = 32_270 / 81_770
EXITS_PER_CHILD = 0.35
#: of children who enter during the year, the share who leave again before it ends
ENTRANTS_WHO_LEAVE = 0.15
#: school-age children who change school during the year (DfE stability measures: about one in ten)
SCHOOL_MOVES = 0.08
#: young children (not yet of school age) with no early-years setting: the PEP goes to the health visitor
UNDER_3_WITHOUT_SETTING = 0.6
EMERGENCY_ENTRIES = 0.3

LEAVING_REASONS = (
    "returned home to parents", "special guardianship order", "adopted", "child arrangements order",
    "moved to live with relatives", "moved into independent living",
)
GIVEN = ("Ada", "Ben", "Cora", "Dev", "Elsie", "Finn", "Gia", "Hugo", "Isla", "Jay", "Kit", "Lula", "Milo", "Nia", "Otto", "Pia", "Rex", "Suki", "Teo", "Uma", "Vic", "Wyn", "Xan", "Yara", "Zed")
FAMILY = ("Amberley", "Brackenby", "Cobbleton", "Dimmock", "Elderwood", "Foxley", "Gorsedge", "Hollybank", "Inchmore", "Juniper", "Kettlewell", "Larchmont", "Mossgate", "Nettlecombe", "Orchardson", "Pebbleford", "Quarrington", "Rushmere", "Sedgefield", "Thornbury", "Underhill", "Vetchley", "Willowmere", "Yarrowby")
PLACES = ("Ashdown", "Birchfield", "Cedarvale", "Dunmore", "Elmhurst", "Fairhaven", "Glenwood", "Hazelmere", "Ivydene", "Juniper Hill", "Kingsmead", "Linden", "Maplecroft", "Northgate", "Oakhurst", "Pinecrest", "Queensbury", "Rosedale", "Silverdale", "Thornfield", "Upton Vale", "Westbrook", "Yewtree")
LOCALITIES = ("north", "south", "east", "west", "central", "riverside", "uplands", "coast")
SETTING_KINDS = {"early-years": ("Nursery", 3), "primary": ("Primary School", 2.5), "secondary": ("Academy", 4), "college": ("College", 12)}


@dataclass(frozen=True)
class Staffing:
    """Caseloads: how many children each kind of worker holds."""

    social_worker: int = 17
    leaving_care_worker: int = 22
    personal_adviser: int = 22
    business_support: int = 75
    pep_coordinator: int = 500


@dataclass
class ChildPlan:
    id: str
    date_of_birth: date
    locality: str
    setting_id: str | None
    entered_on: date
    arrives: bool
    emergency: bool = False
    leaves_on: date | None = None
    leave_reason: str | None = None
    moves: list[tuple[date, str]] = field(default_factory=list)
    #: role -> staff id: every owner role the child needs during the year (a young person
    #: turning 16 needs a leaving care worker from that day, turning 18 a personal adviser)
    workers: dict[str, str] = field(default_factory=dict)


@dataclass
class CouncilPlan:
    """The council's records and its year of events."""

    academic_year: int
    start: date
    end: date
    children: list[ChildPlan]
    rows: dict[str, list[dict[str, str]]]
    events: list[Event]

    def write_csv(self, directory: Path) -> Path:
        """The council's exports, one CSV file per kind, as ``pep import all`` reads them."""
        directory.mkdir(parents=True, exist_ok=True)
        for kind, rows in self.rows.items():
            with (directory / f"{kind}.csv").open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
        return directory

    def in_care_all_year(self) -> list[ChildPlan]:
        return [c for c in self.children if not c.arrives and c.leaves_on is None]


def council_terms(year: int) -> list[tuple[str, date, date | None, date | None, date | None]]:
    """The council's published term dates for academic year ``year`` (2026 = 2026/27),
    by the pattern English councils follow: autumn from the first Thursday of September
    to the Friday before Christmas week with half term in the last week of October;
    spring from 4 January to the Easter holiday with half term in mid-February; summer
    from two weeks after spring ends (never before Easter Tuesday) to about 21 July."""
    def weekday_on_or_after(day: date, weekday: int) -> date:
        return day + timedelta(days=(weekday - day.weekday()) % 7)

    def weekday_on_or_before(day: date, weekday: int) -> date:
        return day - timedelta(days=(day.weekday() - weekday) % 7)

    def working(day: date) -> date:
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return day

    autumn = weekday_on_or_after(date(year, 9, 1), 3)
    autumn_end = weekday_on_or_before(date(year, 12, 20), 4)
    autumn_half = weekday_on_or_after(date(year, 10, 22), 0)
    spring = working(date(year + 1, 1, 4))
    good_friday = easter(year + 1) - timedelta(days=2)
    spring_end = min(weekday_on_or_before(date(year + 1, 3, 31), 4), good_friday - timedelta(days=1))
    spring_half = weekday_on_or_after(date(year + 1, 2, 12), 0)
    summer = max(weekday_on_or_after(spring_end, 0) + timedelta(days=14), easter(year + 1) + timedelta(days=2))
    summer_half = weekday_on_or_after(date(year + 1, 5, 25), 0)
    summer_end = date(year + 1, 7, 21)
    while summer_end.weekday() >= 5:
        summer_end -= timedelta(days=1)
    four = timedelta(days=4)
    return [
        ("autumn", autumn, autumn_end, autumn_half, autumn_half + four),
        ("spring", spring, spring_end, spring_half, spring_half + four),
        ("summer", summer, summer_end, summer_half, summer_half + four),
        ("inset-day", autumn_end - timedelta(days=21), None, None, None),
    ]


class CouncilBuilder:
    """Makes a :class:`CouncilPlan` from a seed: the same seed, the same council."""

    def __init__(
        self, children: int, academic_year: int, *, seed: int = 1, staffing: Staffing | None = None,
        extra_children: int = 0, extra_from: date | None = None,
    ) -> None:
        if children < 1:
            raise ValueError("a council needs at least one child in care")
        self.n = children
        self.year = academic_year
        self.rng = random.Random(seed)
        self.staffing = staffing or Staffing()
        self.extra = extra_children
        self.terms = council_terms(academic_year)
        # the Monday of the week before term: the council's children already in care are
        # on the system then, so their autumn PEPs fall in the autumn term (a cycle
        # started once term is under way starts with next term's PEP)
        term_starts = self.terms[0][1]
        self.start = term_starts - timedelta(days=7 + term_starts.weekday())
        self.term_starts = term_starts
        self.end = date(academic_year + 1, 7, 23)
        self.extra_from = extra_from or self.term_starts
        self.working_days = WorkingDays()
        self.settings: dict[str, list[dict[str, str]]] = defaultdict(list)
        self._setting_rows: list[dict[str, str]] = []
        self._kinds: dict[str, str] = {}
        self._term_rows: list[dict[str, str]] = []

    # ------------------------------------------------------------------ build
    def build(self) -> CouncilPlan:
        localities = LOCALITIES[: max(2, min(len(LOCALITIES), round(self.n / 400)))]
        children = [self._child(i, localities, arrives=False) for i in range(self.n)]
        arrivals = round(self.n * ENTRIES_PER_CHILD)
        children += [self._child(self.n + i, localities, arrives=True) for i in range(arrivals)]
        children += [self._child(self.n + arrivals + i, localities, arrives=True, extra=True) for i in range(self.extra)]
        self._settings_for(children)
        self._exits_and_moves(children)
        staff = self._staff(children, localities)
        rows = {
            "staff": staff,
            "settings": self._setting_rows,
            "term-dates": self._council_term_rows() + self._term_rows,
            "children": [self._child_row(c) for c in children],
            "contacts": self._contacts(children),
        }
        return CouncilPlan(self.year, self.start, self.end, children, rows, self._events(children))

    def _working_day_between(self, first: date, last: date) -> date:
        for _ in range(100):
            day = first + timedelta(days=self.rng.randrange(max(1, (last - first).days)))
            if self.working_days.is_working_day(day):
                return day
        return first

    def _dob(self, mix, on: date) -> date:
        r, acc = self.rng.random(), 0.0
        for _label, low, high, share in mix:
            acc += share
            if r <= acc:
                break
        latest = birthday_before(on, low)  # born on or before this date to be at least `low`
        earliest = birthday_before(on, high) + timedelta(days=1)
        return earliest + timedelta(days=self.rng.randrange(max(1, (latest - earliest).days)))

    def _child(self, index: int, localities, *, arrives: bool, extra: bool = False) -> ChildPlan:
        if arrives:
            first = self.extra_from if extra else self.term_starts
            last = (first + timedelta(days=60)) if extra else self.end - timedelta(days=45)
            entered = self._working_day_between(first, last)
            dob = self._dob(ENTRY_AGE_MIX, entered)
        else:
            # ages as the term starts; a baby in care was born (and taken into care) before the year
            dob = min(self._dob(AGE_MIX, self.term_starts), self.start - timedelta(days=21))
            latest = self.start - timedelta(days=7)
            first = max(dob + timedelta(days=7), self.start - timedelta(days=365 * 6))
            entered = first + timedelta(days=self.rng.randrange(max(1, (latest - first).days)))
        emergency = arrives and self.rng.random() < EMERGENCY_ENTRIES
        return ChildPlan(f"C-{index + 1:05d}", dob, self.rng.choice(localities), None, entered, arrives, emergency)

    # --------------------------------------------------------------- settings
    def _kind_for(self, child: ChildPlan, on: date) -> str | None:
        year = school_year(child.date_of_birth, on)
        if year >= 12:
            return "college"
        if year >= 7:
            return "secondary"
        if year >= 0:
            return "primary"
        if age_on(child.date_of_birth, on) < 3 and self.rng.random() < UNDER_3_WITHOUT_SETTING:
            return None
        return "early-years"

    def _settings_for(self, children: list[ChildPlan]) -> None:
        by_kind: dict[str, list[ChildPlan]] = defaultdict(list)
        for child in children:
            kind = self._kind_for(child, max(child.entered_on, self.term_starts))
            if kind is not None:
                by_kind[kind].append(child)
        for kind, kids in sorted(by_kind.items()):
            label, per_setting = SETTING_KINDS[kind]
            count = max(2, math.ceil(len(kids) / per_setting))
            ids = [self._new_setting(kind, label) for _ in range(count)]
            for child in kids:
                child.setting_id = self.rng.choice(ids)

    def _new_setting(self, kind: str, label: str) -> str:
        number = len(self._setting_rows) + 1
        setting_id = f"ES-{number:05d}"
        place = f"{PLACES[number % len(PLACES)]} {FAMILY[(number // len(PLACES)) % len(FAMILY)]}"
        slug = place.lower().replace(" ", "-") + f"-{number}"
        teacher = f"{GIVEN[number % len(GIVEN)]} {FAMILY[(number * 7) % len(FAMILY)]}"
        role = "designated.person" if kind in ("college", "early-years") else "designated.teacher"
        self._setting_rows.append({
            "id": setting_id, "name": f"{place} {label} (fictional)", "kind": kind,
            "designated_teacher_name": teacher, "designated_teacher_email": f"{role}@{slug}.example.org",
            "locality": "",
        })
        self.settings[kind].append(self._setting_rows[-1])
        self._kinds[setting_id] = kind
        self._own_term_dates(setting_id, kind)
        return setting_id

    def _own_term_dates(self, setting_id: str, kind: str) -> None:
        """About one setting in four keeps its own term dates (an academy trust's, a
        college's): a later start, another INSET day, a college's summer ending in June.
        Kept for last year too: the year starts in its summer holidays."""
        if self.rng.random() > 0.25 and kind != "college":
            return
        shift = timedelta(days=self.rng.choice((1, 2, 4)))
        inset_offset = self.rng.randrange(20, 40)
        for year in (self.year - 1, self.year):
            terms = council_terms(year)
            for term, starts, ends, half_start, half_end in terms:
                if term == "inset-day":
                    continue
                own_start = starts + shift if term == "autumn" else starts
                while own_start.weekday() >= 5:
                    own_start += timedelta(days=1)
                own_end = date(year + 1, 6, 25) if (term == "summer" and kind == "college") else ends
                while own_end.weekday() >= 5:
                    own_end -= timedelta(days=1)
                self._term_rows.append(_term_row(setting_id, year, term, own_start, own_end, half_start, half_end))
            inset = terms[1][1] + timedelta(days=inset_offset)
            while inset.weekday() >= 5 or terms[1][3] <= inset <= terms[1][4]:
                inset += timedelta(days=1)
            self._term_rows.append(_term_row(setting_id, year, "inset-day", inset, None, None, None))

    def _council_term_rows(self) -> list[dict[str, str]]:
        rows = []
        for year in (self.year - 1, self.year, self.year + 1):
            for term, starts, ends, half_start, half_end in council_terms(year):
                rows.append(_term_row("", year, term, starts, ends, half_start, half_end))
        return rows

    # ---------------------------------------------------------- exits, moves
    def _exits_and_moves(self, children: list[ChildPlan]) -> None:
        starting = [c for c in children if not c.arrives]
        for child in self.rng.sample(starting, round(len(starting) * EXITS_PER_CHILD)):
            child.leaves_on = self._working_day_between(self.term_starts + timedelta(days=7), self.end - timedelta(days=14))
        for child in (c for c in children if c.arrives):
            if self.rng.random() < ENTRANTS_WHO_LEAVE and child.entered_on + timedelta(days=60) < self.end - timedelta(days=14):
                child.leaves_on = self._working_day_between(child.entered_on + timedelta(days=60), self.end - timedelta(days=14))
        for child in children:
            if child.leaves_on is not None:
                child.leave_reason = self.rng.choice(LEAVING_REASONS)
            kind = self._setting_kind(child)
            if kind not in ("primary", "secondary") or self.rng.random() > SCHOOL_MOVES:
                continue
            first = max(child.entered_on + timedelta(days=30), self.term_starts + timedelta(days=14))
            last = (child.leaves_on or self.end) - timedelta(days=40)
            if first >= last:
                continue
            others = [s["id"] for s in self.settings[kind] if s["id"] != child.setting_id]
            if others:
                child.moves.append((self._working_day_between(first, last), self.rng.choice(others)))

    def _setting_kind(self, child: ChildPlan) -> str | None:
        return self._kinds.get(child.setting_id) if child.setting_id else None

    # ------------------------------------------------------------------ staff
    def _staff(self, children: list[ChildPlan], localities) -> list[dict[str, str]]:
        rows: list[dict[str, str]] = []

        def person(role: str, team: str, group: str = "") -> str:
            number = len(rows) + 1
            staff_id = f"ST-{number:05d}"
            name = f"{GIVEN[(number * 3) % len(GIVEN)]} {FAMILY[(number * 5) % len(FAMILY)]}"
            email = f"{name.lower().replace(' ', '.')}.{number}@council.example.org"
            rows.append({"id": staff_id, "name": name, "email": email, "roles": role, "team": team, "candidate_group": group})
            return staff_id

        s = self.staffing
        for locality in localities:
            kids = [c for c in children if c.locality == locality]
            by_role: dict[str, list[ChildPlan]] = defaultdict(list)
            for child in kids:
                for role in self._worker_roles(child):
                    by_role[role].append(child)
            for role, caseload in (("social-worker", s.social_worker), ("leaving-care-worker", s.leaving_care_worker), ("personal-adviser", s.personal_adviser)):
                group = by_role.get(role, [])
                if not group:
                    continue
                workers = [person(role, locality) for _ in range(math.ceil(len(group) / caseload))]
                for i, child in enumerate(group):
                    child.workers[role] = workers[i % len(workers)]
            person("team-manager", locality, f"team-managers-{locality}")  # allocates, and holds a case nobody is allocated to
            for _ in range(max(2, math.ceil(len(kids) / s.business_support))):
                person("business-support", locality, f"business-support-{locality}")
        for _ in range(max(1, math.ceil(len(children) / s.pep_coordinator))):
            person("pep-coordinator", "virtual-school")
        rows.append({"id": "ST-VS", "name": "Virtual School mailbox", "email": "virtual.school@council.example.org", "roles": "virtual-school", "team": "virtual-school", "candidate_group": ""})
        rows.append({"id": "ST-OPS", "name": "Operations", "email": "operations@council.example.org", "roles": "operator;administrator", "team": "", "candidate_group": ""})
        return rows

    def _worker_roles(self, child: ChildPlan) -> list[str]:
        """The owner roles the child needs between entering (or the start) and the end
        of the year: a social worker under 16, a leaving care worker at 16-17, a
        personal adviser from 18 (``pepflow.store.allocations`` picks by age)."""
        first = max(child.entered_on, self.start)
        last = min(child.leaves_on or self.end, self.end)
        roles = []
        if age_on(child.date_of_birth, first) < 16:
            roles.append("social-worker")
        if age_on(child.date_of_birth, first) < 18 and age_on(child.date_of_birth, last) >= 16:
            roles.append("leaving-care-worker")
        if age_on(child.date_of_birth, last) >= 18:
            roles.append("personal-adviser")
        return roles

    # --------------------------------------------------------------- children
    def _child_row(self, child: ChildPlan) -> dict[str, str]:
        number = int(child.id[2:])
        return {
            "id": child.id, "given_name": GIVEN[number % len(GIVEN)], "family_name": FAMILY[(number // 3) % len(FAMILY)],
            "date_of_birth": child.date_of_birth.isoformat(), "legal_status": "Care order" if not child.arrives else ("Interim care order" if child.emergency else "Section 20"),
            "locality": child.locality, "social_worker_id": child.workers.get("social-worker", ""),
            "leaving_care_worker_id": child.workers.get("leaving-care-worker", ""),
            "personal_adviser_id": child.workers.get("personal-adviser", ""),
            "allocated_from": child.entered_on.isoformat(),
            "setting_id": child.setting_id or "", "setting_from": (min(child.entered_on, self.start) - timedelta(days=30)).isoformat() if child.setting_id else "",
            "next_setting_id": "", "next_setting_from": "",
            "entered_care_on": child.entered_on.isoformat(), "emergency": "yes" if child.emergency else "no",
        }

    def _contacts(self, children: list[ChildPlan]) -> list[dict[str, str]]:
        rows = []
        for child in children:
            number = int(child.id[2:])
            family = FAMILY[(number * 11) % len(FAMILY)]
            rows.append({"id": f"CT-{child.id[2:]}-1", "child_id": child.id, "role": "foster-carer", "name": f"{GIVEN[(number + 5) % len(GIVEN)]} {family}",
                         "email": f"carer.{child.id.lower()}@carers.example.org", "receives_pep": "yes", "main_carer": "yes"})
            if child.setting_id is None:  # a young child with no setting: the health visitor, and a parent
                rows.append({"id": f"CT-{child.id[2:]}-2", "child_id": child.id, "role": "health-visitor", "name": f"Health visitor {family}",
                             "email": f"hv.{child.id.lower()}@health.example.org", "receives_pep": "yes", "main_carer": "no"})
                rows.append({"id": f"CT-{child.id[2:]}-3", "child_id": child.id, "role": "parent", "name": f"Parent {family}",
                             "email": f"parent.{child.id.lower()}@example.org", "receives_pep": "yes" if number % 2 else "no", "main_carer": "no"})
        return rows

    # ----------------------------------------------------------------- events
    def _events(self, children: list[ChildPlan]) -> list[Event]:
        events = []
        for child in children:
            if child.arrives:
                events.append(Event(child.entered_on, "looked-after", child.id, emergency=child.emergency))
            else:
                events.append(Event(self.start, "already-in-care", child.id))
            for on, setting_id in child.moves:
                events.append(Event(on, "setting-changed", child.id, setting_id=setting_id))
            if child.leaves_on is not None:
                events.append(Event(child.leaves_on, "left-care", child.id, reason=child.leave_reason))
        return sorted(events, key=lambda e: (e.on, e.child_id))


def birthday_before(on: date, age: int) -> date:
    """The latest date of birth of someone aged at least ``age`` on ``on``."""
    if (on.month, on.day) == (2, 29):
        return date(on.year - age, 2, 28)
    return on.replace(year=on.year - age)


def _term_row(setting_id: str, year: int, term: str, starts: date, ends: date | None, half_start: date | None, half_end: date | None) -> dict[str, str]:
    return {
        "setting_id": setting_id, "academic_year": str(year), "term": term, "starts_on": starts.isoformat(),
        "ends_on": ends.isoformat() if ends else "", "half_term_starts_on": half_start.isoformat() if half_start else "",
        "half_term_ends_on": half_end.isoformat() if half_end else "",
    }
