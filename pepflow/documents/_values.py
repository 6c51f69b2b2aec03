"""Understanding an answer as its field's type, exactly or not at all.

A value is read only when the text says exactly that: a number alone or with its unit
("92.5", "92.5%", "12 sessions", "£1,250.50"), a date, one of the drop-down's choices,
a ticked box or a plain Yes/No. Anything more ("6 of which 4 unauthorised", "£1,200 per
term (£3,600 a year)", "94,5") is :class:`Unparsed` and kept verbatim for a person; text
that could mean more than one choice ("No EHCP - on SEN Support") is :class:`Ambiguous`.
Nothing is cut out of a sentence or guessed.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from pepflow.documents._fields import NO_GLYPHS, YES_GLYPHS
from pepflow.documents.model import SEN_STATUS_LABELS


class Unparsed(ValueError):
    """The text is not a value of the field's type; ``reason`` says what a person should check."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(text)
        self.text = text
        self.reason = reason


class Ambiguous(Unparsed):
    pass


# A number as people write it: digits, optionally grouped by thousands with commas.
_NUM = r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_UNITS = {
    "decimal": ("%", "percent", "per cent", "days", "day"),
    "int": ("sessions", "session", "half days", "half-days", "suspensions", "suspension", "exclusions",
            "exclusion", "days", "day", "points", "marks"),
    "money": ("pounds", "gbp"),
}
_DATE_FORMATS = ("%d/%m/%Y", "%d/%m/%y", "%Y-%m-%d", "%d.%m.%Y", "%d-%m-%Y", "%d %B %Y", "%d %b %Y", "%A %d %B %Y")


def parse_number(text: str, kind: str) -> Decimal:
    """A number alone or with its unit; ``kind`` is the field's (``int``, ``decimal``, ``money``)."""
    t = " ".join(text.split())
    units = "|".join(re.escape(u) for u in sorted(_UNITS.get(kind, ()), key=len, reverse=True))
    pound = r"£\s*" if kind == "money" else ""
    m = re.fullmatch(rf"{pound and f'(?:{pound})?'}{_NUM}\s*(?:{units})?" if units else rf"{_NUM}", t, re.IGNORECASE)
    if not m:
        if re.fullmatch(r"£?\s*\d+,\d{1,2}\s*%?", t):
            raise Unparsed(text, "a comma is not a decimal point here: type the number with a point (94.5)")
        if re.search(r"\d", t):
            raise Unparsed(text, "more than a number was written: the figure cannot be taken out of the words")
        raise Unparsed(text, "not a number")
    try:
        value = Decimal(m.group(1).replace(",", ""))
    except InvalidOperation:
        raise Unparsed(text, "not a number") from None
    if kind == "int" and value != value.to_integral_value():
        raise Unparsed(text, "not a whole number")
    return value


def parse_date_text(text: str) -> date:
    t = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", " ".join(text.split()))
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(t, fmt).date()
        except ValueError:
            continue
    raise Unparsed(text, "not a date")


# Whole answers that name one SEN status and nothing else (compared case-insensitively).
_SEN_SAME = {
    "none": ("none", "no sen", "no identified sen", "no sen needs", "not on the sen register"),
    "sen-support": ("sen support", "sen-support", "k", "on sen support", "school support"),
    "ehc-assessment": ("ehc assessment", "ehc needs assessment", "ehcp assessment", "ehc needs assessment in progress",
                       "in assessment for an ehcp", "ehcp applied for"),
    "ehcp": ("ehcp", "ehc plan", "ehc", "education, health and care plan", "education health and care plan",
             "has an ehcp", "has an ehc plan"),
}
_SEN_WORDS = {
    "none": (r"\bno sen\b", r"\bnone\b"),
    "sen-support": (r"\bsupport\b",),
    "ehc-assessment": (r"\bassess",),
    "ehcp": (r"\behcp?\b", r"\bplan\b"),
}


def parse_sen(text: str) -> str:
    t = " ".join(text.split()).casefold().rstrip(".")
    for key, label in SEN_STATUS_LABELS.items():
        if t in (key, label.casefold()) or t in _SEN_SAME[key]:
            return key
    named = sorted({key for key, pats in _SEN_WORDS.items() for p in pats if re.search(p, t)})
    if named:
        choices = " or ".join(f"“{SEN_STATUS_LABELS[k]}”" for k in named)
        raise Ambiguous(text, f"written in words where the drop-down was; it could mean {choices} "
                              "(or none of them): choose the status with the school")
    raise Unparsed(text, "not one of the drop-down's choices")


def bool_from_text(text: str) -> bool | None:
    """Yes/No from what a cell shows when its check boxes lost their state (a re-save)."""
    t = " ".join(text.split())
    yes = re.search(r"(\S)\s*Yes", t)
    no = re.search(r"(\S)\s*No\b", t)
    yes_ticked = bool(yes and yes.group(1) in YES_GLYPHS)
    no_ticked = bool(no and no.group(1) in YES_GLYPHS)
    boxes_only = re.fullmatch(r"(?:\S\s*Yes)?\s*(?:\S\s*No)?", t) is not None
    if (yes or no) and boxes_only:
        if yes_ticked and no_ticked:
            raise Ambiguous(t, "both Yes and No ticked")
        if yes_ticked:
            return True
        if no_ticked:
            return False
        if all(g.group(1) in NO_GLYPHS for g in (yes, no) if g):
            return None
    low = t.casefold().rstrip(".")
    if low == "":
        return None
    if low in ("yes", "y"):
        return True
    if low in ("no", "n"):
        return False
    if re.search(r"\b(yes|no|not)\b", low):
        raise Ambiguous(t, "written in words where the Yes/No boxes were: tick the answer with the school")
    raise Unparsed(t, "not Yes or No")


def parse_choice(choices: tuple[tuple[str, str], ...], text: str) -> str:
    """One of a drop-down's choices, by its value or the words it shows, and nothing else."""
    t = " ".join(text.split()).casefold().rstrip(".")
    for value, label in choices:
        if t in (value.casefold(), label.casefold().rstrip(".")):
            return value
    named = [label for value, label in choices if label.casefold() in t or value.casefold() in t.split()]
    if named:
        raise Ambiguous(text, "written in words where the drop-down was; it mentions "
                              + " and ".join(f"“{n}”" for n in named) + " but says more: choose with the school")
    raise Unparsed(text, "not one of the drop-down's choices")
