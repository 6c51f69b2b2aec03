"""Carry the last PEP forward into the new form, for the school to review rather than retype.

Last term's targets go into "Review of last term's targets" (target by target, with
their numbers); facts that usually still hold (SEN, agencies, subjects and their
targets, key person, course...) are filled into their controls as answers the school
checks and changes. Nothing is carried that describes only last term (attendance,
views, this term's spend), and nothing is carried into an initial PEP.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from lxml import etree

from pepflow.documents import _ooxml as ox
from pepflow.documents._fields import FormShape, all_fields, school_sections
from pepflow.documents.model import PRIMARY_NEED_LABELS, SEN_STATUS_LABELS, PepFormContent

#: The answers of last term's return that are filled into the new form.
CARRIED_FIELDS = (
    "sen_status", "sen_primary_need", "ehcp_last_review_date", "ehcp_next_review_date", "agencies",
    "key_stage_results", "reading_age", "reading_age_tested_on", "key_person", "funded_hours", "course",
    "aspirations", "not_on_roll_reason", "off_roll_since", "current_provision", "provision_hours",
    "alternative_provision_details", "reduced_timetable_plan", "two_year_review_date", "two_year_review_outcome",
)


def carried_values(content: PepFormContent, shape: FormShape) -> dict[str, Any]:
    """Tag -> value for each control of the new form filled from the last PEP."""
    prev = content.previous
    if prev is None or shape.review != "termly":
        return {}
    out: dict[str, Any] = {}
    for t in prev.targets:
        out[f"school.target_reviews.{t.number}.target"] = t.target
    for i, s in enumerate(prev.subjects, start=1):
        out[f"school.subjects.{i}.subject"] = s.subject
        if s.target is not None:
            out[f"school.subjects.{i}.target"] = s.target
    for name in CARRIED_FIELDS:
        value = getattr(prev, name)
        if value is not None:
            out[f"school.{name}"] = value
    tags = {f.tag for f in all_fields(school_sections(shape))}
    return {tag: v for tag, v in out.items() if tag in tags}


def carried_note(content: PepFormContent) -> str:
    since = f" ({content.previous_term})" if content.previous_term else ""
    return (f"Some answers below are filled in from the last PEP{since}, with last term's targets to review: "
            "check each one and change anything that is no longer right.")


def _shown(tag: str, value: Any) -> str:
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if tag == "school.sen_status":
        return SEN_STATUS_LABELS[value]
    if tag == "school.sen_primary_need":
        return PRIMARY_NEED_LABELS[value]
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def prefill(elements: list[etree._Element], values: dict[str, Any]) -> None:
    """Fill the controls tagged in ``values`` (in a copy of parts 3 and 4) as answers:
    the placeholder flag goes, the value goes in (a date also into the date picker)."""
    w_sdt, w_pr, w_tag = ox.qn("w:sdt"), ox.qn("w:sdtPr"), ox.qn("w:tag")
    left = dict(values)
    for root in elements:
        for sdt in root.iter(w_sdt):
            pr = sdt.find(w_pr)
            tag_el = pr.find(w_tag) if pr is not None else None
            tag = tag_el.get(ox.qn("w:val")) if tag_el is not None else None
            if tag not in left:
                continue
            value = left.pop(tag)
            for flag in pr.findall(ox.qn("w:showingPlcHdr")):
                pr.remove(flag)
            picker = pr.find(ox.qn("w:date"))
            if picker is not None and isinstance(value, date):
                picker.set(ox.qn("w:fullDate"), f"{value.isoformat()}T00:00:00Z")
            content = sdt.find(ox.qn("w:sdtContent"))
            block = content.find(ox.qn("w:p")) is not None
            for child in list(content):
                content.remove(child)
            text = _shown(tag, value)
            if block:
                for line in text.split("\n"):
                    ox.paragraph(content, line, space_after=60)
            else:
                ox.run(content, text)
    if left:  # a tag the shape has (checked in carried_values) but no control: a bug, said loudly
        raise LookupError(f"no control for carried-forward values: {', '.join(sorted(left))}")
