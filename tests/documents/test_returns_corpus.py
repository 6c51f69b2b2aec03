"""Nothing a school writes is lost (issue 12): a corpus of realistic returns, read back field by field.

Every case starts from a form the product issued and is edited as schools do: in Word
(the XML Word writes for that edit) or in LibreOffice itself (``lo_typist.py``, one
LibreOffice for all cases). For every case each piece of typed text is either read into
its field exactly or flagged with a finding that holds it verbatim, and nothing else is
flagged. The tally is printed at the end of the run: "N cases, N read, N flagged, 0 lost".
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from pepflow.documents import read_school_return, render_pep_form

from . import corpus_tally
from .corpus import (
    Case,
    Typed,
    added_row,
    between_sections,
    comment,
    compose,
    footnote,
    header_text,
    in_label_cell,
    libreoffice_split_answer,
    para_below,
    paras,
    picture,
    replace_cell,
    run,
    text_box_between_sections,
    typed_in,
    xml,
)
from .helpers import COUNCIL, MEETING, SECRET, content, fill_form, identity, school_return, set_date

REF = "PEP-C-0001-2026-AUT"
LONG = "Reading age has improved. " * 13  # 338 characters: over the 300 a name-and-role line takes
VERY_LONG = "She talks about her week at length. " * 560  # 20,160 characters: over the 20,000 of an answer


def _issued(variant: str = "school-age") -> bytes:
    return render_pep_form(identity(), content(variant), SECRET, council_name=COUNCIL, issued_on=date(2026, 9, 20))


def _filled(variant: str):
    return lambda docx: fill_form(docx, school_return(variant), MEETING)


def _every_answer(variant: str) -> list[Typed]:
    sr = school_return(variant)
    out = [Typed(str(v), name, v) for name, v in sr if v is not None and name != "targets"]
    for i, t in enumerate(sr.targets, start=1):
        out.append(Typed(t.target, f"targets.{i}.target", t.target))
    out += [Typed(a.name, f"meeting.attendees.{i}.name", a.name) for i, a in enumerate(MEETING.attendees, 1)]
    out.append(Typed(MEETING.updates_agreed, "meeting.updates_agreed", MEETING.updates_agreed))
    return out


WORD_CASES = [
    *[Case(f"word-{v}-filled", _every_answer(v), word=_filled(v), variant=v)
      for v in ("early-years", "school-age", "post-16", "early-years-no-setting")],
    Case("word-enter-inside-an-answer",
         [Typed("First paragraph.\nSecond paragraph.", "wellbeing", "First paragraph.\nSecond paragraph.")],
         word=compose(typed_in("school.wellbeing", *paras("First paragraph.", "Second paragraph.")))),
    Case("word-free-text-answer-continued-below-its-box",
         [Typed("Settled.\nBelow the box.", "progress", "Settled.\nBelow the box.")],
         word=compose(typed_in("school.progress", *paras("Settled.")), para_below("school.progress", "Below the box."))),
    Case("word-text-below-a-number",
         [Typed("92.5", "attendance_percent", Decimal("92.5")), Typed("was 88% last term", None, flag="outside-answers")],
         word=compose(typed_in("school.attendance_percent", xml(run("92.5"))),
                      para_below("school.attendance_percent", "was 88% last term"))),
    Case("word-text-beside-a-question",
         [Typed("(see attached letter)", None, flag="outside-answers")],
         word=compose(in_label_cell("school.sessions_missed", "(see attached letter)"))),
    Case("word-text-between-sections",
         [Typed("Note: Alex moved school in September.", None, flag="outside-answers")],
         word=compose(between_sections("Attendance", "Note: Alex moved school in September."))),
    Case("word-sixth-target-in-an-added-row",
         [Typed("Join the school choir.", None, flag="outside-answers"), Typed("Music teacher", None, flag="outside-answers")],
         word=compose(added_row("SMART targets", ["", "Join the school choir.", "Music teacher", ""]))),
    Case("word-text-in-the-page-header", [Typed("Returned by Hilltop Academy", None, flag="outside-answers")],
         word=header_text("Returned by Hilltop Academy")),
    Case("word-comment-on-an-answer",
         [Typed("14", "sessions_missed", 14), Typed("Figure from SIMS on 30 Sept", None, flag="comment")],
         word=lambda d: comment("school.sessions_missed", "Figure from SIMS on 30 Sept")(
             compose(typed_in("school.sessions_missed", xml(run("14"))))(d))),
    Case("word-picture-pasted-into-an-answer",
         [Typed("I like drawing.", "child_views", "I like drawing."), Typed("Alex's drawing of a house", None, flag="picture")],
         word=compose(typed_in("school.child_views", *paras("I like drawing.")),
                      picture("school.child_views", "Alex's drawing of a house"))),
    Case("word-tracked-insertion-and-deletion",
         [Typed("Good progress in maths.", "progress", "Good progress in maths.")],
         word=compose(typed_in("school.progress", xml(
             f'<w:p>{run("Good progress")}<w:del w:id="1" w:author="DT"><w:r><w:delText> overall</w:delText></w:r></w:del>'
             f'<w:ins w:id="2" w:author="DT">{run(" in maths")}</w:ins>{run(".")}</w:p>')))),
    Case("word-tracked-move-read-once",
         [Typed("Enjoys art. Reads daily.", "carer_views", "Enjoys art. Reads daily.")],
         word=compose(typed_in("school.carer_views", xml(
             '<w:p><w:moveFromRangeStart w:id="3" w:name="move1" w:author="DT"/>'
             f'<w:moveFrom w:id="4" w:author="DT">{run("Reads daily. ")}</w:moveFrom>'
             '<w:moveFromRangeEnd w:id="3"/>'
             f'{run("Enjoys art.")}<w:moveToRangeStart w:id="5" w:name="move1" w:author="DT"/>'
             f'<w:moveTo w:id="6" w:author="DT">{run(" Reads daily.")}</w:moveTo><w:moveToRangeEnd w:id="5"/></w:p>')))),
    Case("word-tracked-move-with-its-new-place-missing",
         [Typed("Enjoys art.", "carer_views", "Enjoys art."), Typed("Reads daily.", None, flag="unresolved-change")],
         word=compose(typed_in("school.carer_views", xml(
             '<w:p><w:moveFromRangeStart w:id="3" w:name="move9" w:author="DT"/>'
             f'<w:moveFrom w:id="4" w:author="DT">{run("Reads daily.")}</w:moveFrom><w:moveFromRangeEnd w:id="3"/>'
             f'{run("Enjoys art.")}</w:p>')))),
    Case("word-number-with-words", [Typed("6 of which 4 unauthorised", "sessions_missed", flag="unparsed")],
         word=compose(typed_in("school.sessions_missed", xml(run("6 of which 4 unauthorised"))))),
    Case("word-money-with-words",
         [Typed("£1,200 per term (£3,600 a year)", "ppp_amount", flag="unparsed")],
         word=compose(typed_in("school.ppp_amount", xml(run("£1,200 per term (£3,600 a year)"))))),
    Case("word-decimal-comma", [Typed("94,5", "attendance_percent", flag="unparsed")],
         word=compose(typed_in("school.attendance_percent", xml(run("94,5"))))),
    Case("word-number-with-its-unit",
         [Typed("92.5%", "attendance_percent", Decimal("92.5")), Typed("£1,250.50", "ppp_amount", Decimal("1250.50")),
          Typed("12 sessions", "sessions_missed", 12)],
         word=compose(typed_in("school.attendance_percent", xml(run("92.5%"))),
                      typed_in("school.ppp_amount", xml(run("£1,250.50"))),
                      typed_in("school.sessions_missed", xml(run("12 sessions"))))),
    Case("word-negated-status-over-the-drop-down", [Typed("No EHCP - on SEN Support", "sen_status", flag="ambiguous")],
         word=compose(replace_cell("school.sen_status", "No EHCP - on SEN Support"))),
    Case("word-status-typed-as-its-name", [Typed("EHC plan", "sen_status", "ehcp")],
         word=compose(replace_cell("school.sen_status", "EHC plan"))),
    Case("word-yes-with-words-over-the-check-boxes",
         [Typed("Yes, mornings only until half term", "reduced_timetable", flag="ambiguous")],
         word=compose(replace_cell("school.reduced_timetable.yes", "Yes, mornings only until half term"))),
    Case("word-plain-no-over-the-check-boxes", [Typed("No", "reduced_timetable", False)],
         word=compose(replace_cell("school.reduced_timetable.yes", "No"))),
    Case("word-answer-over-the-length-limit",
         [Typed(LONG.strip(), "completed_by", flag="over-length"), Typed(VERY_LONG.strip(), "wellbeing", flag="over-length")],
         word=compose(typed_in("school.completed_by", xml(run(LONG.strip()))),
                      typed_in("school.wellbeing", *paras(VERY_LONG.strip())))),
    Case("word-text-box-between-sections", [Typed("Boxed note from the SENCo.", None, flag="outside-answers")],
         word=compose(text_box_between_sections("Health and well-being", "Boxed note from the SENCo."))),
    Case("libreoffice-style-second-empty-control",
         [Typed("First paragraph.\nSecond paragraph.", "child_views", "First paragraph.\nSecond paragraph.")],
         word=compose(libreoffice_split_answer("school.child_views", "First paragraph.", "Second paragraph."))),
    Case("word-words-typed-over-a-picked-date",
         [Typed("w/c 12 October, TBC", "completed_on", flag="ambiguous")],
         word=compose(lambda root: set_date(root, "school.completed_on", date(2026, 10, 12)),
                      typed_in("school.completed_on", xml(run("w/c 12 October, TBC"))))),
    Case("word-text-beside-a-prefilled-answer", [Typed("Placement ended 3 Oct", None, flag="outside-answers")],
         word=compose(para_below("child.placement_type", "Placement ended 3 Oct"))),
    Case("word-footnote-on-an-answer",
         [Typed("1.5", "exclusion_days", Decimal("1.5")), Typed("Half a day was a reduced-day trial.", None,
                                                             flag="outside-answers")],
         word=lambda d: footnote("school.exclusion_days", "Half a day was a reduced-day trial.")(
             compose(typed_in("school.exclusion_days", xml(run("1.5"))))(d))),
    Case("word-meeting-part-filled",
         [Typed("Priya Worker", "meeting.attendees.1.name", "Priya Worker"),
          Typed("Apply for PP+ funding", "meeting.actions.1.action", "Apply for PP+ funding")],
         word=lambda d: fill_form(d, type(school_return("school-age"))(), MEETING)),
]


# LibreOffice 7.4 shows our plain-text answers as input fields, the drop-down and check boxes as controls.
LO_CASES = [
    Case("libreoffice-typed-and-saved",
         [Typed("92.5", "attendance_percent", Decimal("92.5")), Typed("14", "sessions_missed", 14),
          Typed("Working at the expected standard.", "attainment", "Working at the expected standard."),
          Typed("SEN Support", "sen_status", "sen-support"), Typed("No", "reduced_timetable", False),
          Typed("Mr D. Teacher", "completed_by", "Mr D. Teacher"),
          Typed("Read every day.", "targets.1.target", "Read every day."), Typed("Carer", "targets.1.who", "Carer")],
         lo=[{"op": "type", "label": "Attendance this academic year (%)", "text": "92.5"},
             {"op": "type", "label": "Sessions missed this term", "text": "14"},
             {"op": "type", "label": "Current attainment overall", "text": "Working at the expected standard."},
             {"op": "choose", "label": "SEN/EHCP status", "text": "SEN Support"},
             {"op": "tick", "label": "Is the young person on a reduced (part-time) timetable?", "box": "No"},
             {"op": "type", "label": "Completed by (name and role)", "text": "Mr D. Teacher"},
             {"op": "type", "label": "Target 1", "text": "Read every day."},
             {"op": "type", "label": "Target 1", "col": 2, "text": "Carer"}]),
    Case("libreoffice-enter-inside-an-answer",
         [Typed("Line one.\nLine two.", "wellbeing", "Line one.\nLine two.")],
         lo=[{"op": "type", "label": "Health and well-being", "text": "Line one.\nLine two."}]),
    Case("libreoffice-enter-after-an-answer",
         [Typed("Good.\nMore progress below.", "progress", "Good.\nMore progress below.")],
         lo=[{"op": "type", "label": "Progress since the last PEP", "text": "Good."},
             {"op": "below", "label": "Progress since the last PEP", "text": "More progress below."}]),
    Case("libreoffice-text-below-a-number",
         # LibreOffice drops the name of the number's control: the cell is read by its label, and the
         # number with the line below it is flagged as typed, not cut down to the 3
         [Typed("3\none was a managed move", "exclusions_count", flag="unparsed")],
         lo=[{"op": "type", "label": "Suspensions and exclusions this term (number)", "text": "3"},
             {"op": "below", "label": "Suspensions and exclusions this term (number)", "text": "one was a managed move"}]),
    Case("libreoffice-text-between-sections", [Typed("Typed between sections.", None, flag="outside-answers")],
         lo=[{"op": "between", "title": "Attendance", "text": "Typed between sections."}]),
    Case("libreoffice-sixth-target-in-an-added-row",
         [Typed("A sixth target.", None, flag="outside-answers")],
         lo=[{"op": "add_row", "title": "SMART targets", "cells": ["", "A sixth target.", "", ""]}]),
    Case("libreoffice-number-with-words", [Typed("6 of which 4 unauthorised", "sessions_missed", flag="unparsed")],
         lo=[{"op": "type", "label": "Sessions missed this term", "text": "6 of which 4 unauthorised"}]),
    Case("libreoffice-answer-over-the-length-limit", [Typed(LONG.strip(), "completed_by", flag="over-length")],
         lo=[{"op": "type", "label": "Completed by (name and role)", "text": LONG.strip()}]),
    Case("libreoffice-negated-status-in-the-drop-down",
         [Typed("No EHCP - on SEN Support", "sen_status", flag="ambiguous")],
         lo=[{"op": "choose", "label": "SEN/EHCP status", "text": "No EHCP - on SEN Support"}]),
]


def _record(case: Case, result) -> None:
    from .corpus import check

    outcome, problems = check(case, result)
    corpus_tally.record(case.name, outcome)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("case", WORD_CASES, ids=lambda c: c.name)
def test_word_return(case: Case):
    result = read_school_return(case.word(_issued(case.variant)), REF, SECRET)
    _record(case, result)


def test_blank_return_is_flagged():
    result = read_school_return(_issued(), REF, SECRET)
    assert [f.kind for f in result.findings] == ["blank"]
    corpus_tally.record("word-blank-form", "flagged")


# --------------------------------------------------------------------------- LibreOffice

UNO_PYTHON = "/usr/bin/python3"
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


def _uno_available() -> bool:
    if SOFFICE is None or not Path(UNO_PYTHON).exists():
        return False
    return subprocess.run([UNO_PYTHON, "-c", "import uno"], capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def libreoffice():
    """One LibreOffice for every LibreOffice case (it takes ~20 s to start)."""
    if not _uno_available():
        pytest.skip("LibreOffice with Python UNO (Debian's python3-uno) is not installed")
    proc = subprocess.Popen([UNO_PYTHON, str(Path(__file__).with_name("lo_typist.py")), SOFFICE],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    ready = json.loads(proc.stdout.readline() or '{"error": "no answer"}')
    if "error" in ready:
        proc.kill()
        pytest.fail(f"LibreOffice did not start: {ready['error']}")

    def type_into(docx: bytes, edits: list[dict]) -> bytes:
        proc.stdin.write(json.dumps({"docx": base64.b64encode(docx).decode(), "edits": edits}) + "\n")
        proc.stdin.flush()
        answer = json.loads(proc.stdout.readline() or '{"error": "LibreOffice went away"}')
        if "error" in answer:
            raise AssertionError(answer["error"])
        return base64.b64decode(answer["docx"])

    yield type_into
    proc.stdin.close()
    proc.wait(60)
    proc.stdout.close()


@pytest.mark.libreoffice
@pytest.mark.slow
@pytest.mark.parametrize("case", LO_CASES, ids=lambda c: c.name)
def test_libreoffice_return(case: Case, libreoffice):
    result = read_school_return(libreoffice(_issued(case.variant), case.lo), REF, SECRET)
    _record(case, result)


# --------------------------------------------------------------------------- the form guides the school


@pytest.mark.parametrize("variant", ["school-age", "early-years-no-setting"])
def test_issued_form_lets_word_edit_only_the_answers(variant):
    """Word's restrict-editing with every answer control inside a range everyone may edit."""
    import io
    import zipfile

    from lxml import etree

    from .helpers import W, document_root

    data = _issued(variant)
    settings = etree.fromstring(zipfile.ZipFile(io.BytesIO(data)).read("word/settings.xml"))
    protection = settings.find(f"{{{W}}}documentProtection")
    assert protection is not None and protection.get(f"{{{W}}}edit") == "readOnly"
    assert protection.get(f"{{{W}}}enforcement") == "1"
    root = document_root(data)
    open_ranges: set[str] = set()
    inside: set[str] = set()
    for e in root.iter(f"{{{W}}}permStart", f"{{{W}}}permEnd", f"{{{W}}}t"):
        if e.tag == f"{{{W}}}permStart":
            assert e.get(f"{{{W}}}edGrp") == "everyone"
            open_ranges.add(e.get(f"{{{W}}}id"))
        elif e.tag == f"{{{W}}}permEnd":
            open_ranges.remove(e.get(f"{{{W}}}id"))
        elif open_ranges:  # text shown in an editable range: the control it is in
            sdt = next(e.iterancestors(f"{{{W}}}sdt"), None)
            if sdt is not None:
                inside.add(sdt.find(f"{{{W}}}sdtPr/{{{W}}}tag").get(f"{{{W}}}val"))
    answers = {t for t in (e.find(f"{{{W}}}sdtPr/{{{W}}}tag").get(f"{{{W}}}val") for e in root.iter(f"{{{W}}}sdt"))
               if t.startswith(("school.", "meeting."))}
    assert answers and answers <= inside
    assert not any(t.startswith(("pep.", "child.", "sw.", "setting.")) for t in inside)


def test_every_section_says_where_to_type_and_that_text_elsewhere_is_queried():
    from .helpers import all_text

    text = all_text(__import__("tests.documents.helpers", fromlist=["x"]).document_root(_issued()))
    assert "grey boxes" not in text
    assert "will be queried with you before the form is accepted" in text
    from pepflow.documents._fields import meeting_sections, school_sections, shape_of

    shape = shape_of(content("school-age"))
    assert text.count("will be queried with you.") == len(school_sections(shape) + meeting_sections(shape))
