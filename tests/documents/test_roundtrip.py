from __future__ import annotations

import io
import time
import zipfile
from datetime import date

import docx
import pytest

from pepflow.documents import (
    VARIANTS,
    NotAPepForm,
    SchoolReturn,
    WrongPep,
    form_check_value,
    read_school_return,
    render_final_pep,
    render_pep_form,
)
from pepflow.documents.readback import node_text, open_word_document

from .helpers import (
    COUNCIL,
    MEETING,
    SECRET,
    W,
    all_text,
    content,
    document_root,
    edit_document,
    fill_form,
    identity,
    school_return,
    sdt_by_tag,
    set_text,
    strip_tags,
    tick,
    unwrap_controls,
    w,
)

REF = "PEP-C-0001-2026-AUT"


def form(variant: str = "school-age", **kw) -> bytes:
    return render_pep_form(identity(), content(variant, **kw), SECRET, council_name=COUNCIL, issued_on=date(2026, 9, 20))


# --------------------------------------------------------------------------- check value


def test_check_value_is_a_truncated_hmac():
    v = form_check_value(REF, SECRET)
    assert len(v) == 20 and int(v, 16) >= 0
    assert v == form_check_value(REF, SECRET)
    assert v != form_check_value("PEP-C-0002-2026-AUT", SECRET)
    assert v != form_check_value(REF, SECRET + b"!")
    with pytest.raises(ValueError):
        form_check_value(REF, b"short")


# --------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("variant", VARIANTS)
def test_empty_form_reads_as_not_provided(variant):
    result = read_school_return(form(variant), REF, SECRET)
    assert result.values == SchoolReturn()
    assert result.meeting.attendees == [] and result.meeting.held_on is None
    assert result.missing_fields == []
    assert result.invalid_fields == {}
    assert result.identity == identity()
    assert result.variant == variant


@pytest.mark.parametrize("variant", VARIANTS)
def test_filled_form_reads_back_field_by_field(variant):
    expected = school_return(variant)
    filled = fill_form(form(variant), expected, MEETING)
    result = read_school_return(filled, REF, SECRET)
    assert result.missing_fields == []
    assert result.invalid_fields == {}
    for name, value in expected:
        assert getattr(result.values, name) == value, name
    assert result.values == expected
    assert result.meeting == MEETING
    assert set(result.found_by.values()) == {"tag"}


@pytest.mark.parametrize("variant", VARIANTS)
def test_libreoffice_resave_without_tags_reads_by_alias(variant):
    expected = school_return(variant)
    filled = edit_document(fill_form(form(variant), expected, MEETING), strip_tags)
    assert b"w:tag " not in zipfile.ZipFile(io.BytesIO(filled)).read("word/document.xml")
    result = read_school_return(filled, REF, SECRET)
    assert result.values == expected
    assert result.meeting == MEETING
    assert result.missing_fields == []
    assert set(result.found_by.values()) == {"alias"}


@pytest.mark.parametrize("variant", ["school-age", "early-years-no-setting"])
def test_controls_lost_entirely_reads_by_label(variant):
    expected = school_return(variant)
    filled = edit_document(fill_form(form(variant), expected, MEETING), unwrap_controls)
    assert b"<w:sdt>" not in zipfile.ZipFile(io.BytesIO(filled)).read("word/document.xml")
    result = read_school_return(filled, REF, SECRET)
    assert result.values == expected
    assert result.meeting == MEETING
    assert set(result.found_by.values()) == {"label"}


def test_deleted_control_is_missing_not_an_error():
    def delete(root):
        sdt = sdt_by_tag(root, "school.sdq_score")
        cell = sdt.getparent().getparent()  # paragraph -> cell
        row = cell.getparent()
        row.getparent().remove(row)

    result = read_school_return(edit_document(form(), delete), REF, SECRET)
    assert result.missing_fields == ["sdq_score"]
    assert result.values.sdq_score is None


def test_values_that_cannot_be_understood_are_reported_not_raised():
    def fill(root):
        set_text(root, "school.attendance_percent", "ninety")
        set_text(root, "school.sdq_score", "55")
        set_text(root, "school.ppp_amount", "£1,250.50")
        set_text(root, "school.sessions_missed", "12 sessions")
        tick(root, "school.reduced_timetable.yes")
        tick(root, "school.reduced_timetable.no")
        set_text(root, "school.targets.2.who", "DT")  # a who without a target

    result = read_school_return(edit_document(form(), fill), REF, SECRET)
    assert result.values.attendance_percent is None
    assert result.values.sdq_score is None
    assert result.values.reduced_timetable is None
    assert str(result.values.ppp_amount) == "1250.50"
    assert result.values.sessions_missed == 12
    assert set(result.invalid_fields) == {"attendance_percent", "sdq_score", "reduced_timetable", "targets.2.target"}
    assert result.invalid_fields["attendance_percent"] == "ninety"


def test_date_typed_without_the_picker_is_read_from_text():
    result = read_school_return(edit_document(form(), lambda r: set_text(r, "school.completed_on", "3rd October 2026")),
                                REF, SECRET)
    assert result.values.completed_on == date(2026, 10, 3)


# --------------------------------------------------------------------------- identity


def test_form_for_another_pep_is_refused_naming_it():
    other = render_pep_form(identity("PEP-C-0002-2026-AUT", "C-0002"), content("school-age"), SECRET)
    with pytest.raises(WrongPep) as exc:
        read_school_return(other, REF, SECRET)
    assert "PEP-C-0002-2026-AUT" in str(exc.value) and REF in str(exc.value)
    assert exc.value.found_reference == "PEP-C-0002-2026-AUT"


def test_reference_edited_to_match_fails_the_check_value():
    other = render_pep_form(identity("PEP-C-0002-2026-AUT", "C-0002"), content("school-age"), SECRET)
    forged = edit_document(other, lambda r: set_text(r, "pep.reference", REF))
    with pytest.raises(WrongPep, match="check value"):
        read_school_return(forged, REF, SECRET)


def test_form_issued_with_another_secret_is_refused():
    with pytest.raises(WrongPep, match="check value"):
        read_school_return(render_pep_form(identity(), content("school-age"), b"another-secret-of-32-bytes-long!"),
                           REF, SECRET)


def test_word_file_without_pep_details_is_not_a_pep_form():
    d = docx.Document()
    d.add_paragraph("Hello")
    buf = io.BytesIO()
    d.save(buf)
    with pytest.raises(NotAPepForm):
        read_school_return(buf.getvalue(), REF, SECRET)


def test_identity_falls_back_to_core_properties():
    def drop_identity(root):
        for tag in ("pep.reference", "pep.check"):
            sdt = sdt_by_tag(root, tag)
            row = sdt.getparent().getparent().getparent()
            row.getparent().remove(row)

    result = read_school_return(edit_document(form(), drop_identity), REF, SECRET)
    assert result.identity.pep_reference == REF


# --------------------------------------------------------------------------- the form itself


def _sdts(root):
    for sdt in root.iter(w("sdt")):
        pr = sdt.find(w("sdtPr"))
        yield pr.find(w("tag")).get(w("val")), pr.find(w("alias")).get(w("val")), pr.find(w("lock")).get(w("val")), pr


def test_form_structure_locks_tags_and_identity():
    data = form()
    root = document_root(data)
    sdts = list(_sdts(root))
    tags = [t for t, *_ in sdts]
    assert len(tags) == len(set(tags))
    ids = [pr.find(w("id")).get(w("val")) for *_, pr in sdts]
    assert len(ids) == len(set(ids))
    for tag, alias, lock, pr in sdts:
        assert alias
        prefilled = tag.split(".")[0] in ("pep", "child", "setting", "sw", "arrangements")
        assert lock == ("sdtContentLocked" if prefilled else "sdtLocked"), tag
    assert "school.attendance_percent" in tags and "pep.check" in tags
    kinds = {tag: pr for tag, _, _, pr in sdts}
    assert kinds["school.completed_on"].find(w("date")) is not None
    assert kinds["school.sen_status"].find(w("dropDownList")) is not None
    assert kinds["school.reduced_timetable.yes"].find("{http://schemas.microsoft.com/office/word/2010/wordml}checkbox") is not None
    assert node_text(sdt_by_tag(root, "pep.check")) == form_check_value(REF, SECRET)
    assert node_text(sdt_by_tag(root, "child.name")) == "Alex Example"

    d = docx.Document(io.BytesIO(data))  # python-docx opens it
    cp = d.core_properties
    assert cp.identifier == REF and form_check_value(REF, SECRET) in cp.keywords
    assert "Alex" not in (cp.title + cp.subject + cp.keywords + cp.comments)  # no personal data in metadata
    sec = d.sections[0]
    assert round(sec.page_width.mm) == 210
    header = "".join(p.text for p in sec.header.paragraphs)
    assert "OFFICIAL-SENSITIVE" in header and COUNCIL in header
    zf = zipfile.ZipFile(io.BytesIO(data))
    footer = next(zf.read(n) for n in zf.namelist() if n.startswith("word/footer"))
    assert b"OFFICIAL-SENSITIVE" in footer and b"PAGE" in footer and b"NUMPAGES" in footer


def test_labels_are_unique_within_each_variant():
    for variant in VARIANTS:
        root = document_root(form(variant))
        labels = []
        for tc in root.iter(w("tc")):
            if next(tc.iter(w("sdt")), None) is None and tc.find(w("p")) is not None:
                labels.append(node_text(tc.find(w("p"))).strip())
        controlled_rows = [l for l in labels if l.startswith(("Target ", "Attendee ", "Action "))]
        assert len(controlled_rows) == len(set(controlled_rows))


@pytest.mark.parametrize(
    ("variant", "year", "present", "absent"),
    [
        ("early-years", None, {"school.eyfs_literacy", "school.attendance_percent"}, {"school.exclusions_count", "school.neet_risk.yes"}),
        ("school-age", "Year 7", {"school.attainment", "school.exclusions_count"}, {"school.transition_careers", "school.eyfs_literacy"}),
        ("school-age", "Year 9", {"school.transition_careers"}, {"school.course"}),
        ("post-16", None, {"school.neet_risk.yes", "school.course", "school.transition_careers", "school.bursary_applied.no"}, {"school.eyfs_literacy"}),
        ("early-years-no-setting", None, {"school.two_year_review_date", "school.eyfs_physical", "setting.health_visitor_name", "sw.development_knowledge"},
         {"school.attendance_percent", "setting.designated_teacher_name", "school.ppp_use"}),
    ],
)
def test_variant_sections(variant, year, present, absent):
    data = render_pep_form(identity(), content(variant, year_group=year), SECRET)
    tags = {t for t, *_ in _sdts(document_root(data))}
    assert present <= tags
    assert not (absent & tags)
    text = all_text(document_root(data))
    if variant == "early-years-no-setting":
        assert "Health Visitor" in text and "Designated teacher's part" not in text


def test_render_time_per_form():
    c, i = content("school-age"), identity()
    render_pep_form(i, c, SECRET)
    n = 20
    start = time.process_time()  # CPU time: robust to a busy machine
    for _ in range(n):
        render_pep_form(i, c, SECRET)
    per_form = (time.process_time() - start) / n
    assert per_form < 0.25, f"{per_form * 1000:.1f} ms per form"


# --------------------------------------------------------------------------- final PEP


@pytest.mark.parametrize("variant", VARIANTS)
def test_final_pep_contains_everything(variant):
    sr = school_return(variant)
    final = render_final_pep(identity(), content(variant), sr, MEETING, 3, council_name=COUNCIL,
                             finalised_on=date(2026, 10, 20), finalised_by="Priya Worker")
    document, core = open_word_document(final)
    text = node_text(document)
    for needle in ["Final", "Version 3", REF, "Alex Example", "Priya Worker", "Settled in placement.",
                   "I like art and my new friends.", TARGETS_TEXT, "Carer and class teacher", "18 December 2026",
                   "Reading tuition to continue.", "Mr D. Teacher", "Apply for PP+ funding", "3 February 2027",
                   "9 June 2027", "14 October 2026"]:
        assert needle in text, needle
    if variant != "early-years-no-setting":
        assert "92.5" in text and "£600.00" in text and "SEN Support" in text
    else:
        assert "1 July 2026" in text and "Uses short sentences." in text
    d = docx.Document(io.BytesIO(final))
    assert d.core_properties.content_status == "Final"
    assert d.core_properties.version == "3"
    assert d.settings.element.find(w("documentProtection")).get(w("edit")) == "readOnly"
    assert node_text(sdt_by_tag(document, "pep.status")) == "Final"


TARGETS_TEXT = "Read a chapter book with an adult three times a week."


def test_final_pep_with_empty_return_says_not_provided():
    final = render_final_pep(identity(), content("school-age"), SchoolReturn(), type(MEETING)(), 1)
    text = node_text(open_word_document(final)[0])
    assert "Not provided" in text and "No targets recorded." in text and "No attendees recorded." in text
    with pytest.raises(ValueError):
        render_final_pep(identity(), content("school-age"), SchoolReturn(), type(MEETING)(), 0)


def test_xml_namespace_is_word():
    assert W.endswith("/wordprocessingml/2006/main")
