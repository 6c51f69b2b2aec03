"""CSV import: every row validated first; one bad row imports nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from pepflow.importer import ImportFailed, RowError, import_csv, import_directory
from pepflow.sample_data import SAMPLE_DATA_DIR, load_sample_data, sample_file
from pepflow.store import UnknownStaff

ADMIN = "ST-0030"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text.lstrip(), encoding="utf-8")
    return path


def test_sample_data_imports_and_covers_every_variant(store):
    summaries = load_sample_data(store, actor=ADMIN)
    assert [(s.kind, s.ok, s.created) for s in summaries] == [
        ("staff", True, 13),
        ("settings", True, 5),
        ("term-dates", True, 15),
        ("children", True, 8),
        ("contacts", True, 11),
        ("allocations", True, 1),
    ]
    assert str(summaries[0]).endswith("13 staff row(s): 13 created, 0 updated, 0 unchanged")
    variants = {
        store.create_pep(child.id, 2026, "autumn", actor=ADMIN).variant.value
        for child in store.children()
    }
    assert variants == {"early-years", "school-age", "post-16", "early-years-no-setting"}
    assert {c.id: store.current_care_episode(c.id).emergency for c in store.children()}["C-0002"]
    # every change of the import is audited under the importing actor
    assert {e.actor_id for e in store.audit_entries()} == {ADMIN}


def test_importing_the_same_files_again_changes_nothing(store):
    load_sample_data(store, actor=ADMIN)
    audit = len(store.audit_entries())
    again = load_sample_data(store, actor=ADMIN)
    assert all(s.ok and s.created == s.updated == 0 and s.unchanged == s.rows for s in again)
    assert len(store.audit_entries()) == audit


def test_one_bad_row_imports_nothing_and_names_line_and_column(store, tmp_path):
    path = _write(
        tmp_path,
        "staff.csv",
        """
id,name,email,roles,team,candidate_group
ST-0001,Amira Quillfeather,amira@council.example.org,social-worker,north,
ST-0002,Bartholomew Nettleby,bartholomew.at.council.example.org,social-worker,south,
ST-0003,Cressida Fairbrook,cressida@council.example.org,wizard,north,
ST-0004,Dorian Pemberwick,dorian@council.example.org,business-support,,
""",
    )
    summary = import_csv(store, "staff", path, actor=ADMIN)
    assert not summary.ok and summary.created == 0
    assert [(e.line, e.column) for e in summary.errors] == [
        (3, "email"),
        (4, "roles"),
        (5, "candidate_group"),
        (5, "team"),
    ]
    assert "exactly one '@'" in summary.errors[0].problem
    assert "'wizard'" in summary.errors[1].problem
    assert str(summary.errors[0]).startswith(f"{path}, line 3, column email: ")
    assert "nothing imported" in str(summary)
    with pytest.raises(UnknownStaff):
        store.staff("ST-0001")  # the good first row was not imported either
    assert store.audit_entries() == []
    with pytest.raises(ImportFailed, match="line 3, column email"):
        raise ImportFailed(summary)


def test_unknown_references_are_row_errors(store, tmp_path):
    import_csv(store, "staff", sample_file("staff"), actor=ADMIN)
    import_csv(store, "settings", sample_file("settings"), actor=ADMIN)
    path = _write(
        tmp_path,
        "children.csv",
        """
id,given_name,family_name,date_of_birth,social_worker_id,setting_id,setting_from
C-0001,Poppy,Examplewood,2016-05-14,ST-0001,ES-0001,2020-09-03
C-0002,Toby,Samplefield,2013-02-02,ST-0999,ES-0002,2024-09-04
C-0003,Maisie,Testbury,2010-03-10,ST-0003,ES-0999,2026-09-07
C-0004,Oscar,Demoford,2008-09-03,ST-0011,,
C-0001,Poppy,Again,2016-05-14,ST-0001,,
C-05,Bad,Id,2016-13-01,,,
""",
    )
    summary = import_csv(store, "children", path, actor=ADMIN)
    assert [(e.line, e.column) for e in summary.errors] == [
        (3, "social_worker_id"),
        (4, "setting_id"),
        (5, "social_worker_id"),
        (6, "id"),
        (7, "date_of_birth"),
        (7, "id"),
    ]
    problems = {(e.line, e.column): e.problem for e in summary.errors}
    assert problems[(3, "social_worker_id")] == "no staff member 'ST-0999': import staff first"
    assert problems[(4, "setting_id")] == "no education setting 'ES-0999': import settings first"
    assert "not a social worker" in problems[(5, "social_worker_id")]
    assert problems[(6, "id")] == "'C-0001' is already used on line 2"
    assert "like 'C-0001'" in problems[(7, "id")]
    assert store.children() == []

    contacts = _write(
        tmp_path,
        "contacts.csv",
        """
id,child_id,role,name,email
CT-0001,C-0404,health-visitor,Hazel Pretendton,
""",
    )
    summary = import_csv(store, "contacts", contacts, actor=ADMIN)
    assert [(e.line, e.column, e.problem) for e in summary.errors] == [
        (2, "child_id", "no child 'C-0404': import children first"),
        (2, "email", "an e-mail address is required for someone who receives the PEP"),
    ]


def test_header_problems_are_reported_on_line_1(store, tmp_path):
    path = _write(tmp_path, "settings.csv", "id,name,knd\nES-1,School,primary\n")
    summary = import_csv(store, "settings", path, actor=ADMIN)
    assert [(e.line, e.column) for e in summary.errors] == [(1, "kind"), (1, "knd")]
    assert {e.problem for e in summary.errors} >= {"required column is missing"}
    empty = _write(tmp_path, "empty.csv", "")
    assert (
        import_csv(store, "staff", empty, actor=ADMIN)
        .errors[0]
        .problem.startswith("the file is empty")
    )
    missing = import_csv(store, "staff", tmp_path / "nope.csv", actor=ADMIN)
    assert "cannot read the file" in missing.errors[0].problem
    with pytest.raises(ValueError, match="unknown import kind"):
        import_csv(store, "pets", path, actor=ADMIN)


def test_term_dates_are_checked_across_rows(store, tmp_path):
    import_csv(store, "settings", sample_file("settings"), actor=ADMIN)
    path = _write(
        tmp_path,
        "term-dates.csv",
        """
setting_id,academic_year,term,starts_on,ends_on,half_term_starts_on,half_term_ends_on
,2026,autumn,2026-09-03,2026-12-18,2026-10-26,2026-10-30
,2026,spring,2026-12-01,2027-03-25,2027-02-15,2027-02-19
,2026,summer,2027-04-12,2027-07-21,2027-07-25,2027-07-30
,2026,inset-day,2027-09-06,,,
ES-0999,2026,inset-day,2026-11-02,,,
""",
    )
    summary = import_csv(store, "term-dates", path, actor=ADMIN)
    assert [(e.line, e.column) for e in summary.errors] == [
        (4, "half_term_starts_on"),
        (5, "starts_on"),
        (6, "setting_id"),
    ]
    good = _write(
        tmp_path,
        "good.csv",
        """
setting_id,academic_year,term,starts_on,ends_on,half_term_starts_on,half_term_ends_on
,2026,autumn,2026-09-03,2026-12-18,2026-10-26,2026-10-30
,2026,spring,2026-12-01,2027-03-25,2027-02-15,2027-02-19
,2026,summer,2027-04-12,2027-07-21,2027-05-31,2027-06-04
""",
    )
    overlap = import_csv(store, "term-dates", good, actor=ADMIN)
    assert [(e.line, e.column) for e in overlap.errors] == [(4, "starts_on")]
    assert "spring term starts before autumn term ends" in overlap.errors[0].problem


def test_import_directory_stops_at_the_first_bad_file(store, tmp_path):
    for kind in ("staff", "settings"):
        (tmp_path / f"{kind}.csv").write_bytes(sample_file(kind).read_bytes())
    _write(tmp_path, "children.csv", "id,given_name,family_name,date_of_birth\nC-0001,A,B,never\n")
    _write(tmp_path, "contacts.csv", "id,child_id,role,name\nCT-1,C-0001,parent,P\n")
    summaries = import_directory(store, tmp_path, actor=ADMIN)
    assert [(s.kind, s.ok) for s in summaries] == [
        ("staff", True),
        ("settings", True),
        ("children", False),
    ]
    assert summaries[-1].errors == [
        RowError(
            file=str(tmp_path / "children.csv"),
            line=2,
            column="date_of_birth",
            problem=summaries[-1].errors[0].problem,
        )
    ]
    assert SAMPLE_DATA_DIR.is_dir()


def test_dates_as_excel_exports_them_in_england_are_read_and_others_refused(store, tmp_path):
    load_sample_data(store, actor=ADMIN)
    header = "id,given_name,family_name,date_of_birth,legal_status,locality,social_worker_id,setting_id,setting_from,next_setting_id,next_setting_from,entered_care_on,emergency\n"
    good = _write(tmp_path, "children.csv", header + "C-0100,Ada,Tester,03/09/2016,Section 20,north,ST-0001,ES-0001,3/9/2020,,,14/09/2026,no\n")
    summary = import_csv(store, "children", good, ADMIN)
    assert summary.ok, summary.errors
    child = store.child("C-0100")
    assert str(child.date_of_birth) == "2016-09-03"  # day first, never month first
    assert str(store.current_care_episode("C-0100").entered_care_on) == "2026-09-14"
    for bad in ("09/14/2026", "14/09/26", "2026/09/14", "14 Sept 2026"):
        path = _write(tmp_path, "children.csv", header + f"C-0101,Bo,Tester,03/09/2016,,north,ST-0001,,,,,{bad},no\n")
        summary = import_csv(store, "children", path, ADMIN)
        assert not summary.ok
        assert "YYYY-MM-DD (2026-09-03) or DD/MM/YYYY (03/09/2026)" in str(summary.errors[0])
