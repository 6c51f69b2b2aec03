"""The PEP content model (issue 15): every phase and variant has every section of the
model in the Word form, reads back, and reaches the final PEP; the year group decides
the year-dependent sections (never a missing one); last term's PEP is carried forward;
the documents are accessible (real headings, en-GB, table headers and alt text) and the
final PEP speaks in words."""

from __future__ import annotations

import io
import zipfile
from datetime import date, time
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from pepflow.documents import (
    AgreedAction,
    Attendee,
    ChildDetails,
    MeetingArrangements,
    MeetingRecord,
    PepFormContent,
    SchoolReturn,
    SettingDetails,
    SmartTarget,
    SocialWorkerPart,
    SubjectAttainment,
    read_school_return,
    render_final_pep,
    render_pep_form,
)
from pepflow.documents._fields import FormShape, all_fields, grids, meeting_sections, school_sections, shape_of
from pepflow.documents.view import role_words

from .helpers import SECRET, fill_form, identity, w

REF = "PEP-C-0001-2026-AUT"
MEETING_DAY = date(2026, 10, 14)

#: (phase variant, initial or termly, not on roll): every form the Virtual School issues.
SHAPES = [
    ("early-years", "initial", False), ("early-years", "termly", False),
    ("early-years-no-setting", "initial", False), ("early-years-no-setting", "termly", False),
    ("school-age", "initial", False), ("school-age", "termly", False), ("school-age", "termly", True),
    ("post-16", "initial", False), ("post-16", "termly", False), ("post-16", "termly", True),
]
YEARS = {"early-years": "Nursery", "school-age": "Year 10", "post-16": "Year 12", "early-years-no-setting": None}
BIRTHS = {"early-years": date(2022, 5, 1), "school-age": date(2011, 2, 3), "post-16": date(2009, 11, 30),
          "early-years-no-setting": date(2024, 6, 15)}


def pep_content(variant: str, review: str = "termly", not_on_roll: bool = False, *, year_group: str | None = "default",
                born: date | None = None, previous: SchoolReturn | None = None) -> PepFormContent:
    no_setting = variant == "early-years-no-setting"
    setting = (SettingDetails(health_visitor_name="Hana Visitor", carers_names="Jo and Sam Carer") if no_setting
               else SettingDetails() if not_on_roll
               else SettingDetails(setting_name="Hilltop Academy", designated_teacher_name="Mr D. Teacher"))
    return PepFormContent(
        variant=variant, review=review, not_on_roll=not_on_roll, previous=previous,
        previous_term="Summer 2026" if previous else None,
        child=ChildDetails(name="Alex Example", date_of_birth=born or BIRTHS[variant], legal_status="S31 Care Order",
                           carer_name="Jo and Sam Carer", placement_type="Foster care",
                           year_group=YEARS[variant] if year_group == "default" else year_group),
        social_worker=SocialWorkerPart(owner_name="Priya Worker", date_into_care=date(2024, 3, 1), placement_moves=1,
                                       school_moves=0, delegated_authority="Carers may consent to school trips.",
                                       health="Annual health assessment done in June."),
        setting=setting,
        meeting=MeetingArrangements(date=MEETING_DAY, time=time(10, 30)),
    )


def sample(f, n: int) -> Any:
    """A distinct answer of the field's kind."""
    return {
        "text": f"Answer {n} for {f.name}", "line": f"Short {n}", "int": n % 30, "decimal": Decimal(f"{n % 50}.5"),
        "money": Decimal(f"{100 + n}.25"), "date": date(2026, 9, 1 + n % 28), "bool": n % 2 == 0, "sen": "ehcp",
        "choice": f.choices[n % len(f.choices)][0] if f.choices else None,
    }[f.kind]


def answers(sections, model):
    """A full answer to every field of ``sections`` (two rows of each grid)."""
    data: dict[str, Any] = {}
    for g in grids(sections):
        data[g.prefix] = []
    for n, f in enumerate(all_fields(sections), start=1):
        parts = f.name.split(".")
        if len(parts) == 3:
            prefix, row, col = parts[0], int(parts[1]), parts[2]
            if row > 2:
                continue
            items = data[prefix]
            while len(items) < row:
                items.append({})
            items[row - 1][col] = sample(f, n)
        elif len(parts) == 2:  # next meeting dates
            data.setdefault(parts[0], []).append(date(2027, 1, 10 + int(parts[1])))
        else:
            data[f.name] = sample(f, n)
    for g in grids(sections):
        if g.numbered:
            for i, item in enumerate(data[g.prefix], start=1):
                item["number"] = i
    return model.model_validate(data)


def body(docx: bytes) -> etree._Element:
    return etree.fromstring(zipfile.ZipFile(io.BytesIO(docx)).read("word/document.xml"))


def headings(docx: bytes) -> list[tuple[str, str]]:
    out = []
    for p in body(docx).iter(w("p")):
        style = p.find(f"{w('pPr')}/{w('pStyle')}")
        if style is not None and style.get(w("val")).startswith("Heading"):
            out.append((style.get(w("val")), "".join(t.text or "" for t in p.iter(w("t")))))
    return out


def text_of(docx: bytes) -> str:
    return " ".join(" ".join("".join(t.text or "" for t in p.iter(w("t"))).split()) for p in body(docx).iter(w("p")))


@pytest.mark.parametrize(("variant", "review", "not_on_roll"), SHAPES)
def test_every_phase_and_variant_has_every_section_and_round_trips_into_the_final_pep(variant, review, not_on_roll):
    content = pep_content(variant, review, not_on_roll)
    shape = shape_of(content)
    school, meeting = school_sections(shape), meeting_sections(shape)
    form = render_pep_form(identity(), content, SECRET)

    found = headings(form)
    for section in school + meeting:
        assert ("Heading2", section.title) in found, f"{section.key} has no heading in the {variant} form"
    keys = {s.key for s in school}
    assert ("review" in keys) == (review == "termly")
    assert ("not-on-roll" in keys) == not_on_roll and ("attendance" in keys) == (not not_on_roll and variant != "early-years-no-setting")
    assert {"wellbeing", "child-voice", "views", "targets", "strengths", "completed"} <= keys

    values, record = answers(school, SchoolReturn), answers(meeting, MeetingRecord)
    result = read_school_return(fill_form(form, values, record), REF, SECRET)
    assert result.missing_fields == [] and result.invalid_fields == {}
    assert result.values == values
    assert result.meeting == record

    final = render_final_pep(identity(), content, result.values, result.meeting, 1, finalised_by="Priya Worker, social worker")
    final_headings = headings(final)
    for section in school + meeting:
        assert ("Heading2", section.title) in final_headings, f"{section.key} missing from the final {variant} PEP"
    text = text_of(final)
    for f in all_fields(school):
        if f.kind in ("text", "line"):
            value = values
            for part in f.name.split("."):
                if part.isdigit():
                    value = value[int(part) - 1] if int(part) <= len(value) else None
                else:
                    value = getattr(value, part)
                if value is None:
                    break
            if isinstance(value, str):
                assert " ".join(value.split()) in text, f"{f.tag} did not reach the final PEP"
    assert "Other answers" not in text  # everything had its own section


def test_a_year_5_pupil_gets_aspirations_but_not_careers_even_with_the_year_group_missing():
    born_year_5 = date(2016, 12, 1)  # Year 5 in 2026/27
    for recorded in ("Year 5", None):
        shape = shape_of(pep_content("school-age", year_group=recorded, born=born_year_5))
        keys = {s.key for s in school_sections(shape)}
        fields = {f.name for f in all_fields(school_sections(shape))}
        assert "aspirations" in keys and "transition_careers" not in fields, recorded
    form = render_pep_form(identity(), pep_content("school-age", year_group=None, born=born_year_5), SECRET)
    assert "Year 5 (worked out from the date of birth" in text_of(form)


def test_a_year_group_that_cannot_be_placed_is_said_and_no_year_dependent_section_is_guessed():
    content = pep_content("school-age", year_group=None, born=date(2023, 1, 1))  # 3 years old: not a school year
    shape = shape_of(content)
    assert not (shape.careers or shape.aspirations or shape.transition)
    assert "Not recorded, and the date of birth does not place the child" in text_of(render_pep_form(identity(), content, SECRET))


@pytest.mark.parametrize(("year", "careers", "transition"), [
    ("Year 3", False, False), ("Year 6", False, True), ("Year 7", False, False), ("Year 8", True, False),
    ("Year 11", True, True),
])
def test_careers_from_year_8_and_a_transition_plan_at_each_phase_move(year, careers, transition):
    shape = shape_of(pep_content("school-age", year_group=year))
    assert (shape.careers, shape.transition, shape.aspirations) == (careers, transition, True)


def test_last_terms_targets_and_facts_are_carried_forward_for_the_school_to_review():
    previous = SchoolReturn(
        targets=[SmartTarget(target="Read every night.", number=1), SmartTarget(target="Join a club.", number=3)],
        sen_status="sen-support", sen_primary_need="SLCN", agencies="Speech and language therapy.",
        subjects=[SubjectAttainment(subject="Mathematics", current="Step 4", target="Step 6")],
        attendance_percent=Decimal("88"), child_views="Last term's views.",
    )
    form = render_pep_form(identity(), pep_content("school-age", previous=previous), SECRET)
    assert "filled in from the last PEP (Summer 2026)" in text_of(form)
    back = read_school_return(form, REF, SECRET).values  # returned untouched: the carried answers stand
    assert [(r.number, r.target, r.outcome) for r in back.target_reviews] == [(1, "Read every night.", None),
                                                                               (3, "Join a club.", None)]
    assert (back.sen_status, back.sen_primary_need, back.agencies) == ("sen-support", "SLCN", "Speech and language therapy.")
    assert [(s.subject, s.current, s.target) for s in back.subjects] == [("Mathematics", None, "Step 6")]
    assert back.attendance_percent is None and back.child_views is None  # last term's only: not carried
    assert back.targets == []  # this term's targets are the school's to set

    with pytest.raises(ValueError, match="initial PEP"):
        pep_content("school-age", "initial", previous=previous)


def test_targets_keep_a_stable_number_for_pupil_premium_plus_requests():
    values = SchoolReturn(targets=[SmartTarget(target="A", number=2), SmartTarget(target="B")])
    assert [(t.target, t.number) for t in values.targets] == [("A", 2), ("B", 1)]
    form = render_pep_form(identity(), pep_content("school-age"), SECRET)
    back = read_school_return(fill_form(form, values), REF, SECRET).values
    assert sorted((t.number, t.target) for t in back.targets) == [(1, "B"), (2, "A")]
    with pytest.raises(ValueError, match="same number"):
        SchoolReturn(targets=[SmartTarget(target="A", number=1), SmartTarget(target="B", number=1)])


# --------------------------------------------------------------------------- accessible documents


def _package(docx: bytes, name: str) -> etree._Element:
    return etree.fromstring(zipfile.ZipFile(io.BytesIO(docx)).read(name))


@pytest.mark.parametrize("which", ["form", "final"])
def test_documents_are_british_english_with_headed_captioned_tables(which):
    content = pep_content("school-age")
    doc = (render_pep_form(identity(), content, SECRET) if which == "form"
           else render_final_pep(identity(), content, SchoolReturn(), MeetingRecord(), 1))
    langs = {x.get(w("val")) for x in _package(doc, "word/styles.xml").iter(w("lang"))}
    assert langs == {"en-GB"}
    root = body(doc)
    runs = list(root.iter(w("r")))
    assert runs and all(r.find(f"{w('rPr')}/{w('lang')}").get(w("val")) == "en-GB" for r in runs)
    for tbl in root.iter(w("tbl")):
        pr = tbl.find(w("tblPr"))
        assert pr.find(w("tblCaption")).get(w("val")) and pr.find(w("tblDescription")).get(w("val"))
        first = tbl.find(w("tr"))
        assert first.find(f"{w('trPr')}/{w('tblHeader')}") is not None
        # no section title as a shaded row: the heading before the table names it
        assert all(x.get(w("fill")) != "1F3864" for x in tbl.iter(w("shd")))
    assert len(headings(doc)) >= 20


def test_placeholders_are_grey_and_italic_by_direct_formatting_and_grid_labels_fit():
    root = body(render_pep_form(identity(), pep_content("school-age"), SECRET))
    placeholders = [r for r in root.iter(w("r")) if r.find(f"{w('rPr')}/{w('rStyle')}") is not None
                    and r.find(f"{w('rPr')}/{w('rStyle')}").get(w("val")) == "PlaceholderText"]
    assert placeholders
    for r in placeholders:
        assert r.find(f"{w('rPr')}/{w('i')}") is not None and r.find(f"{w('rPr')}/{w('color')}").get(w("val")) == "767676"
    for tbl in root.iter(w("tbl")):
        cols = [int(c.get(w("w"))) for c in tbl.find(w("tblGrid"))]
        assert sum(cols) == 11906 - 2 * 1134  # every table spans the text width of the A4 page
        if len(cols) > 2:  # a grid: "Attendee 8", "Last term's target 5" fit without breaking a word
            assert cols[0] >= 1700


def test_the_final_pep_speaks_in_words_names_who_finalised_and_keeps_the_actions_agreed():
    meeting = MeetingRecord(
        attendees=[Attendee(name="Mr D. Teacher", role=role_words("designated-teacher"), attendance="attended"),
                   Attendee(name="Hana Visitor", role=role_words("health-visitor"), attendance="apologies")],
        actions=[AgreedAction(action="Book a reading assessment", who="SENCo", by_when=date(2026, 11, 20))],
        signed_social_worker="Priya Worker", signed_social_worker_on=MEETING_DAY,
    )
    final = render_final_pep(identity(), pep_content("school-age"), SchoolReturn(sdq_score=21), meeting, 1,
                             finalised_on=MEETING_DAY, finalised_by="Priya Worker, social worker")
    text = text_of(final)
    assert "designated-teacher" not in text and "Designated teacher" in text and "Sent apologies" in text
    assert "Finalised by Priya Worker, social worker" in text
    assert "Book a reading assessment SENCo 20 November 2026" in text
    assert "the SDQ score is 21, above 17, so the follow-up must be recorded" in text
    assert role_words("virtual-school") == "Virtual School" and role_words("some-new-role") == "Some new role"


def test_a_form_issued_with_the_first_layout_is_still_read_in_full():
    shape = FormShape.from_layout("school-age", "v1+transition")
    assert shape.version == "v1" and "school.transition_careers" in {f.tag for f in all_fields(school_sections(shape))}
    assert FormShape.from_layout("post-16", shape_of(pep_content("post-16", not_on_roll=True)).layout()).not_on_roll
