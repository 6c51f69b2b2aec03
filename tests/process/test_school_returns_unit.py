"""The review's rules on their own (pepflow/school_returns.py): every finding of a
read-back is reported with where and the school's words - including kinds the read-back
does not produce yet - an unreadable answer is a finding once, and merging keeps what an
earlier return gave."""

from pepflow.documents import MeetingRecord, PepIdentity, ReadBackResult, SchoolReturn
from pepflow.documents.findings import ReadFinding
from pepflow.school_returns import ReturnReport, findings_of, merge

IDENTITY = PepIdentity(pep_reference="PEP-C-0001-2026-AUT", child_id="C-0001", term="Autumn 2026", academic_year="2026/27")


def _result(**kw) -> ReadBackResult:
    base = dict(identity=IDENTITY, variant="school-age", values=SchoolReturn(sdq_score=14), meeting=MeetingRecord(),
                missing_fields=[], invalid_fields={}, found_by={})
    return ReadBackResult(**{**base, **kw})


def test_each_finding_is_kept_and_an_unreadable_answer_is_reported_once():
    outside = ReadFinding(kind="outside-answers", where="after section 5", text="Target 6: swim 25 m by Easter",
                          reason="typed outside any answer box")
    comment = ReadFinding(kind="comment", where="Attendance", text="Figures from SIMS, 3 Oct", reason="a comment", field="attendance_percent")
    already = ReadFinding(kind="unparsed", where="Attendance (%)", text="94,5", reason="a comma", field="attendance_percent")
    result = _result(findings=[outside, comment, already],
                     invalid_fields={"attendance_percent": "94,5", "sessions_missed": "6 of which 4 unauthorised"},
                     missing_fields=["exclusion_days"])
    found = findings_of(result)
    assert found[:3] == [outside, comment, already]
    # sessions_missed has no finding yet: one is made with the school's words; attendance has one
    [sessions] = [f for f in found if f.field == "sessions_missed"]
    assert (sessions.kind, sessions.text) == ("unparsed", "6 of which 4 unauthorised")
    assert len([f for f in found if f.field == "attendance_percent" and f.kind == "unparsed"]) == 1
    [missing] = [f for f in found if f.field == "exclusion_days"]
    assert "not in the returned file" in missing.reason


def test_the_report_says_where_and_what_the_school_wrote_verbatim():
    long_text = "x" * 25_000  # over the form's limit: kept in full, never cut
    report = ReturnReport(
        return_id=7, pep_id="PEP-C-0001-2026-AUT", status="pending", read={},
        findings=[ReadFinding(kind="over-length", where="Progress", text=long_text, reason="longer than the form allows", field="progress"),
                  ReadFinding(kind="picture", where="section 3", text="", reason="a pasted picture")],
        changes=[{"field": "sdq_score", "before": 14, "after": 17}], kept=["wellbeing"],
        version_note="this is the form sent on Monday 14 September 2026 (version 1), not the latest (version 2, sent on Tuesday 15 September 2026)",
        received_at="Friday 18 September 2026", received_by="ES-0001 designated teacher", accepted={"wellbeing": "Settled"},
    )
    lines = report.lines()
    assert report.flag_count == 3 and report.needs_review
    assert f'  FLAG Progress: "{long_text}" - longer than the form allows' in lines
    assert "  FLAG section 3: (nothing) - a pasted picture" in lines
    assert any("CHANGED Latest SDQ score" in line and "14 -> 17" in line for line in lines)
    assert any("KEPT Health and well-being" in line and "(Settled)" in line for line in lines)
    assert lines[1].startswith("  FLAG this is the form sent on Monday 14 September 2026")


def test_a_partial_return_keeps_what_an_earlier_one_gave():
    before = {"sdq_score": 14, "wellbeing": "Settled", "attendance_percent": "96.2", "targets": [{"target": "Read"}]}
    after = {"sdq_score": None, "wellbeing": "", "attendance_percent": "97.5", "targets": [], "course": "Art"}
    merged, changes, kept = merge(before, after)
    assert merged == {"sdq_score": 14, "wellbeing": "Settled", "attendance_percent": "97.5", "targets": [{"target": "Read"}], "course": "Art"}
    assert changes == [{"field": "attendance_percent", "before": "96.2", "after": "97.5"}]
    assert kept == ["sdq_score", "targets", "wellbeing"]
