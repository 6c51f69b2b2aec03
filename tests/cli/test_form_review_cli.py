"""``pep form-returned`` and ``pep form-review`` as business support use them (issue 12):
the report of what was flagged, exit 2 unless accepted, and the review from the CLI."""

from __future__ import annotations

from pepflow.app import open_records
from pepflow.clock import SimulationClock
from pepflow.config import AppSettings
from pepflow.documents import SchoolReturn
from pepflow.documents.fill import edit_document, fill_form, set_text
from pepflow.domain.enums import DocumentKind, PepSection

from .test_cli import SAMPLES, TODAY, pep  # noqa: F401 - the fixture

PEP = "PEP-C-0001-2026-AUT"


def _store():
    return open_records(AppSettings(), SimulationClock(TODAY))


def _returned_form(tmp_path, name: str, attendance: str | None) -> str:
    store = _store()
    try:
        form = store.latest_document(PEP, DocumentKind.FORM)
        data = fill_form(store.document_content(form.id), SchoolReturn(sdq_score=12, wellbeing="Settled"))
    finally:
        store.close()
    if attendance is not None:
        data = edit_document(data, lambda root: set_text(root, "school.attendance_percent", attendance))
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_a_flagged_form_is_reported_and_waits_unless_accepted(pep, tmp_path):  # noqa: F811
    pep("import", "all", str(SAMPLES))
    pep("event", "looked-after", "C-0001", "--on", "2026-09-14")

    flagged = pep("form-returned", PEP, _returned_form(tmp_path, "first.docx", "ninety"))
    assert flagged.exit_code == 2, flagged.output
    assert 'FLAG Attendance' in flagged.output and '"ninety"' in flagged.output
    assert "waits for business support's review" in flagged.output
    store = _store()
    assert store.section(PEP, PepSection.SCHOOL_RETURN) is None  # nothing accepted yet
    [pending] = store.returns.pending()
    store.close()

    listed = pep("form-review", "list")
    assert listed.exit_code == 0 and f"{pending.id}  {PEP}" in listed.output and "1 flagged" in listed.output
    shown = pep("form-review", "show", str(pending.id))
    assert shown.exit_code == 0 and '"ninety"' in shown.output and "Health and well-being: Settled" in shown.output

    refused = pep("form-review", "accept", str(pending.id), "--set", "attendance_percent=ninety-one")
    assert refused.exit_code == 1 and "attendance_percent" in refused.output
    accepted = pep("form-review", "accept", str(pending.id), "--set", "attendance_percent=90.5")
    assert accepted.exit_code == 0, accepted.output
    store = _store()
    school = store.section(PEP, PepSection.SCHOOL_RETURN)
    assert (school["attendance_percent"], school["sdq_score"]) == ("90.5", 12)
    decided = store.returns.get(pending.id)
    assert decided.status == "accepted" and decided.decided_by.startswith("os:")
    store.close()

    # a later form that changes an answer: reported (before -> after); --accept takes it in
    again = pep("form-returned", PEP, _returned_form(tmp_path, "second.docx", "97"), "--accept")
    assert again.exit_code == 0, again.output
    assert "CHANGED Attendance" in again.output and "90.5 -> 97" in again.output
    store = _store()
    assert store.section(PEP, PepSection.SCHOOL_RETURN)["attendance_percent"] == "97"
    latest = store.returns.for_pep(PEP)[-1]
    assert latest.status == "accepted" and latest.decided_by.startswith("os:")
    store.close()

    asked = pep("form-review", "ask-again", str(latest.id), "--message", "Please check the attendance")
    assert asked.exit_code == 1 and "already accepted" in asked.output

    # each version has its own password: a version that was never made is refused, saying which exist
    unknown = pep("password", PEP, "--to", "DT by phone", "--version", "2")
    assert unknown.exit_code == 1 and "no version 2" in unknown.output and "versions: 1" in unknown.output
    assert pep("password", PEP, "--to", "DT by phone", "--version", "1").exit_code == 0
