"""Which PEP a form is: phase, first or termly, on a school roll or not, and the
parts that depend on the child's year group.

The shape decides the sections (``_sections``); it is written into the form's document
control (``pep.layout``) so the returned form is read with exactly the sections it was
issued with, whatever the records say by then.
"""

from __future__ import annotations

from dataclasses import dataclass

from pepflow.documents.model import PepFormContent, PepReview, Variant

LAYOUT_V1 = "v1"
LAYOUT_V2 = "v2"

PHASES = ("early-years", "school-age", "post-16")

#: Key Stage 2 starts in Year 3: aspirations are asked from then on.
ASPIRATIONS_FROM_YEAR = 3
#: Schools must secure independent careers guidance from Year 8 (DfE careers guidance).
CAREERS_FROM_YEAR = 8
#: The years that end a phase: the last year of early years (the child starts Reception
#: next), Year 2 (infant to junior), Year 6 (primary to secondary), Year 11 (to post-16),
#: Year 13 (to adult life, work or higher education).
PHASE_MOVE_YEARS = {-1: "Reception", 2: "Key Stage 2 (junior school)", 6: "secondary school",
                    11: "post-16 education or training", 13: "adult life, work or higher education"}


def phase_of(variant: Variant) -> str:
    return "early-years" if variant.startswith("early-years") else variant


@dataclass(frozen=True, slots=True)
class YearGroup:
    """The child's national curriculum year (Reception = 0) and where it came from."""

    year: int | None
    source: str  # "recorded", "date of birth", "unknown"

    def words(self, recorded: str | None) -> str:
        if self.source == "recorded":
            return recorded or name_of_year(self.year)
        if self.source == "date of birth":
            return (f"{name_of_year(self.year)} (worked out from the date of birth: "
                    "the year group is not recorded; please tell us if it is different)")
        return ("Not recorded, and the date of birth does not place the child in a school year: "
                "please tell us the year group")


def name_of_year(year: int | None) -> str:
    if year is None:
        return "Not recorded"
    if year < 0:
        return "Early years (before Reception)"
    return "Reception" if year == 0 else f"Year {year}"


def year_group(content: PepFormContent) -> YearGroup:
    recorded = content.child.national_curriculum_year()
    if recorded is not None:
        return YearGroup(recorded, "recorded")
    derived = content.child.year_from_date_of_birth(content.meeting.date)
    phase = phase_of(content.variant)
    fits = {"early-years": -5 <= derived <= 0, "school-age": 0 <= derived <= 11, "post-16": 12 <= derived <= 14}
    if fits[phase]:
        return YearGroup(derived, "date of birth")
    return YearGroup(None, "unknown")


@dataclass(frozen=True, slots=True)
class FormShape:
    variant: Variant
    review: PepReview = "termly"
    not_on_roll: bool = False
    transition: bool = False  # a phase move is coming: the transition plan
    careers: bool = False  # careers guidance and next steps
    aspirations: bool = False
    version: str = LAYOUT_V2

    @property
    def phase(self) -> str:
        return phase_of(self.variant)

    def layout(self) -> str:
        if self.version == LAYOUT_V1:
            return LAYOUT_V1 + ("+transition" if self.careers else "")
        flags = [self.version, self.review]
        flags += [name for name, on in (("not-on-roll", self.not_on_roll), ("transition", self.transition),
                                        ("careers", self.careers), ("aspirations", self.aspirations)) if on]
        return "+".join(flags)

    @classmethod
    def from_layout(cls, variant: Variant, layout: str) -> FormShape:
        """The shape a returned form was issued with (``pep.layout``). A form issued
        before the content model (``v1``) is read with the sections it had."""
        flags = set(layout.strip().split("+"))
        if LAYOUT_V2 not in flags:
            return cls(variant, careers="transition" in flags, version=LAYOUT_V1)
        return cls(
            variant,
            review="initial" if "initial" in flags else "termly",
            not_on_roll="not-on-roll" in flags,
            transition="transition" in flags,
            careers="careers" in flags,
            aspirations="aspirations" in flags,
        )


def shape_of(content: PepFormContent) -> FormShape:
    """The sections this child's form has, from the phase, the PEP and the year group.

    A school-age child with no year group recorded is placed by date of birth; when
    that does not place them either, the year-dependent sections (aspirations, careers,
    transition) are left out rather than guessed, and Part 1 says the year is unknown."""
    phase = phase_of(content.variant)
    year = year_group(content).year
    if phase == "post-16":
        careers, aspirations = True, True
        transition = year is not None and year >= 13
    elif phase == "school-age":
        careers = year is not None and year >= CAREERS_FROM_YEAR
        aspirations = year is not None and year >= ASPIRATIONS_FROM_YEAR
        transition = year in PHASE_MOVE_YEARS or content.not_on_roll
    else:
        careers = aspirations = False
        transition = content.variant == "early-years" and year == -1
    return FormShape(content.variant, content.review, content.not_on_roll, transition, careers, aspirations)
