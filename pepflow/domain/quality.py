"""The Virtual School's own vocabulary: quality ratings of final PEPs, the criteria
they are rated against, and Pupil Premium Plus money and financial years.

Money is :class:`~decimal.Decimal` pounds and pence, never float; the records store
keeps whole pence. The UK financial year runs 1 April to 31 March; ``2026`` is the
year 1 April 2026 - 31 March 2027 ("2026-27"), and a Pupil Premium Plus request
counts in the financial year of the day it was approved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum


class Rag(StrEnum):
    """A quality rating: red (not good enough: returned for improvement), amber
    (acceptable, with points to improve next time), green (good)."""

    RED = "red"
    AMBER = "amber"
    GREEN = "green"

    @property
    def label(self) -> str:
        return {Rag.RED: "Red: returned for improvement", Rag.AMBER: "Amber: acceptable, to improve next time",
                Rag.GREEN: "Green: good"}[self]


class ReviewStatus(StrEnum):
    """Where one round of a PEP's quality review is."""

    AWAITING_RATING = "awaiting-rating"
    RATED = "rated"
    #: rated red: with the social worker and the school until a corrected final PEP
    RETURNED = "returned"
    #: a red round whose corrected final PEP has been made (the next round rates it)
    IMPROVED = "improved"


class PppStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REFUSED = "refused"


@dataclass(frozen=True)
class Criterion:
    code: str
    title: str
    guidance: str


#: what a Virtual School rates a PEP against until it edits its own list
SEED_CRITERIA: tuple[Criterion, ...] = (
    Criterion("smart-targets", "Targets are SMART",
              "Specific, measurable, achievable, relevant and time-bound; who does what by when."),
    Criterion("childs-voice", "The child's voice is heard",
              "The child's views in their own words; whether they attended or how their views were gathered."),
    Criterion("ppp-linked-to-targets", "Pupil Premium Plus is linked to targets",
              "Each request names the target it pays for; last term's spend has its impact recorded."),
    Criterion("attendance-addressed", "Attendance is addressed",
              "Attendance and exclusions recorded, and a plan where attendance is below 95%."),
    Criterion("attainment-and-progress", "Attainment and progress are clear",
              "Current and expected attainment, and progress since the last PEP."),
    Criterion("actions-agreed", "Actions agreed have owners and dates",
              "Every action agreed at the meeting says who will do it and by when."),
)

CRITERION_CODE = re.compile(r"^[a-z][a-z0-9-]{1,39}$")
MAX_COMMENT = 2000
MAX_PURPOSE = 1000
MAX_IMPACT = 2000


def check_words(text: str | None, what: str, *, limit: int, required: bool = True) -> str | None:
    """Words a person wrote, checked (never trimmed to fit): ``None`` when empty and
    allowed; a ValueError saying why otherwise."""
    words = (text or "").strip()
    if not words:
        if required:
            raise ValueError(f"{what} is needed")
        return None
    if len(words) > limit:
        raise ValueError(f"{what} is {len(words)} characters; the most is {limit}: shorten it")
    return words


# -- money ---------------------------------------------------------------------

#: the most a single request may be: beyond this it is a typing error, not a request
#: (a year's Pupil Premium Plus per child is about £2,500; a Virtual School may add
#: to it from what it holds back, but not tenfold)
MAX_REQUEST = Decimal("10000.00")
PENCE = Decimal("0.01")
_MONEY = re.compile(r"^£?\s*(?P<number>\d{1,3}(,\d{3})+|\d+)(?P<pence>\.\d{1,2})?$")


def parse_money(value: str | int | Decimal | None, what: str = "the amount") -> Decimal:
    """Pounds and pence from what a person typed: ``250``, ``250.5``, ``£1,250.00``.
    Refused with the reason: empty, not a number, negative, zero, more than two decimal
    places, or more than :data:`MAX_REQUEST`. Floats are refused outright (money is
    never a float here)."""
    if isinstance(value, float) or isinstance(value, bool):
        raise ValueError(f"{what} must be written in pounds and pence (e.g. 250.00), not as a float")
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"{what} is needed, in pounds and pence (e.g. 250.00)")
    if isinstance(value, (int, Decimal)):
        text = str(value)
    else:
        text = value.strip()
    if text.startswith("-") or text.startswith("£-") or text.startswith("(") :
        raise ValueError(f"{what} cannot be negative ({text}): a request asks for money; to give money back, "
                         "ask the Virtual School to refuse or reduce the request")
    match = _MONEY.match(text)
    if not match:
        try:
            exact = Decimal(text)
        except InvalidOperation:
            exact = None
        if exact is not None and exact.is_finite() and exact.as_tuple().exponent < -2:
            raise ValueError(f"{what} has more than two decimal places ({text}): write pounds and pence")
        raise ValueError(f"{what} {text!r} is not an amount in pounds and pence (e.g. 250.00)")
    amount = Decimal(match.group("number").replace(",", "") + (match.group("pence") or "")).quantize(PENCE)
    if amount <= 0:
        raise ValueError(f"{what} must be more than £0.00")
    if amount > MAX_REQUEST:
        raise ValueError(f"{what} {pounds(amount)} is more than {pounds(MAX_REQUEST)}, the most one request may be: "
                         "check the figure, or split it into requests per target")
    return amount


def pounds(amount: Decimal) -> str:
    """``£1,250.00``"""
    return f"£{amount.quantize(PENCE):,.2f}"


def to_pence(amount: Decimal) -> int:
    exact = amount.quantize(PENCE)
    if exact != amount:
        raise ValueError(f"{amount} is not a whole number of pence")
    return int(exact * 100)


def from_pence(pence: int) -> Decimal:
    return (Decimal(pence) / 100).quantize(PENCE)


# -- the financial year ----------------------------------------------------------

def financial_year_of(day: date) -> int:
    """The UK financial year ``day`` falls in, by the year it starts: 31 March 2027 is
    in 2026 (2026-27), 1 April 2027 in 2027."""
    return day.year if (day.month, day.day) >= (4, 1) else day.year - 1


def financial_year_bounds(year: int) -> tuple[date, date]:
    """First and last day of financial year ``year``."""
    return date(year, 4, 1), date(year + 1, 3, 31)


def financial_year_label(year: int) -> str:
    return f"{year}-{(year + 1) % 100:02d}"
