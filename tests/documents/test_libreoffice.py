"""A real LibreOffice re-save (drops w:tag, keeps w:alias) still reads back; skips without LibreOffice.

Final PDFs (the pooled LibreOffice) are tested in test_pdf.py."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from pepflow.documents import read_school_return, render_pep_form

from .helpers import MEETING, SECRET, content, fill_form, identity, school_return

pytestmark = [pytest.mark.libreoffice, pytest.mark.slow]
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
needs_lo = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice is not installed")


def _convert(tmp_path, data: bytes, target: str) -> bytes:
    src = tmp_path / "in" / "form.docx"
    src.parent.mkdir()
    src.write_bytes(data)
    out = tmp_path / "out"
    subprocess.run(
        [SOFFICE, f"-env:UserInstallation=file://{tmp_path}/profile", "--headless", "--convert-to", target,
         "--outdir", str(out), str(src)],
        check=True, capture_output=True, timeout=180,
    )
    return next(out.iterdir()).read_bytes()


@needs_lo
@pytest.mark.parametrize("variant", ["school-age", "early-years-no-setting"])
def test_libreoffice_resaved_form_reads_back(tmp_path, variant):
    expected = school_return(variant)
    filled = fill_form(render_pep_form(identity(), content(variant), SECRET), expected, MEETING)
    resaved = _convert(tmp_path, filled, "docx:MS Word 2007 XML")
    result = read_school_return(resaved, "PEP-C-0001-2026-AUT", SECRET)
    assert result.missing_fields == []
    assert result.invalid_fields == {}
    assert result.values == expected
    assert result.meeting == MEETING


@needs_lo
def test_libreoffice_resaved_empty_form_reads_as_not_provided(tmp_path):
    from pepflow.documents import SchoolReturn

    resaved = _convert(tmp_path, render_pep_form(identity(), content("post-16"), SECRET), "docx:MS Word 2007 XML")
    result = read_school_return(resaved, "PEP-C-0001-2026-AUT", SECRET)
    assert (result.values, result.missing_fields, result.invalid_fields) == (SchoolReturn(), [], {})


@needs_lo
def test_real_word_97_doc_is_refused(tmp_path):
    """A genuine old binary .doc (saved by LibreOffice) is refused, with or without a password."""
    from pepflow.documents import NotAWordFile

    doc = _convert(tmp_path, render_pep_form(identity(), content("school-age"), SECRET), "doc:MS Word 97")
    assert doc[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    with pytest.raises(NotAWordFile, match="97-2003"):
        read_school_return(doc, "PEP-C-0001-2026-AUT", SECRET)
    with pytest.raises(NotAWordFile, match="97-2003"):
        read_school_return(doc, "PEP-C-0001-2026-AUT", SECRET, password="k7mq-2xfp-9rtc-4hwn")


@needs_lo
def test_libreoffice_shows_every_empty_field_as_a_placeholder_not_as_an_answer(tmp_path):
    """Opened in LibreOffice, an empty field is a content control showing its (grey,
    italic) placeholder, never an input field whose placeholder text reads like an answer."""
    import re

    fodt = _convert(tmp_path, render_pep_form(identity(), content("school-age"), SECRET), "fodt").decode()
    placeholders = ("Enter text.", "Click or tap here to enter text.", "Enter a date.", "Choose an item.")
    inputs = [re.sub(r"<[^>]+>|&#x0d;", "", i) for i in re.findall(r"<text:text-input[^>]*>(.*?)</text:text-input>", fodt)]
    assert not [i for i in inputs if i.strip() in placeholders]  # input fields hold only part 1 and 2's values
    shown = re.findall(r'<loext:content-control loext:showing-place-holder="true"[^>]*>(.*?)</loext:content-control>', fodt)
    assert len(shown) > 100
    assert all(re.sub(r"<[^>]+>", "", s) in placeholders for s in shown)
