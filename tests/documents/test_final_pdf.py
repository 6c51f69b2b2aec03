"""The final PEP's tagged PDF, set directly by Typst (pepflow.documents.final_pdf).

The PDF says what the Word final PEP says, in the same order, with the same headings
and tables; it is PDF/UA-1 (tag tree, en-GB, title, header cells, page furniture as
artifacts), A4, with its fonts embedded; what a person typed is printed, never run;
and when no PDF can be made the reason is raised. Read with poppler (scripts/setup).
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from pepflow.documents import render_final_pep
from pepflow.documents.final_pdf import FinalPdf, FinalPdfFailed

from .helpers import COUNCIL, MEETING, W, content, identity, school_return

pytestmark = pytest.mark.skipif(shutil.which("pdfinfo") is None, reason="poppler-utils is not installed")
VARIANTS = ["school-age", "early-years", "post-16", "early-years-no-setting"]
CORRECTION = "Corrected on 3 November 2026: version 2 replaces version 1. Corrected: sen_status. Reason: typo"


def both(variant: str = "school-age", **changes) -> tuple[bytes, bytes]:
    """The Word final PEP and its PDF, from the same arguments (as casework makes them)."""
    args = (identity(), changes.pop("content", None) or content(variant), school_return(variant), MEETING, 2)
    kwargs = dict(council_name=COUNCIL, finalised_on=date(2026, 10, 21), finalised_by="Priya Worker, social worker",
                  correction_note=CORRECTION, **changes)
    return render_final_pep(*args, **kwargs), FinalPdf().render(*args, **kwargs)


def docx_paragraphs(docx: bytes) -> list[tuple[str | None, str]]:
    """(style id, text) of every non-empty paragraph of the Word body, table cells included."""
    root = etree.fromstring(zipfile.ZipFile(io.BytesIO(docx)).read("word/document.xml"))
    found = []
    for p in root.iter(f"{{{W}}}p"):
        text = " ".join("".join(t.text or "" for t in p.iter(f"{{{W}}}t")).split())
        style = p.find(f"{{{W}}}pPr/{{{W}}}pStyle")
        if text:
            found.append((style.get(f"{{{W}}}val") if style is not None else None, text))
    return found


def structure(pdf: bytes, tmp_path: Path) -> tuple[list[tuple[str, str]], str]:
    """(structure type, text) of each element of the tag tree that holds text, and the tree as poppler prints it."""
    path = tmp_path / "final.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfinfo", "-struct-text", str(path)], capture_output=True, text=True, check=True).stdout
    items: list[list[str]] = []
    kind, current = "", None
    for line in out.splitlines():
        stripped = line.strip()
        element = re.fullmatch(r"([A-Za-z][A-Za-z0-9]*)( \"[^\"]*\")?( \(\w+\))?:?", stripped)
        if element and not stripped.startswith('"'):
            kind, current = element.group(1), None
        elif stripped.startswith('"') and stripped.endswith('"'):
            if current is None:
                current = [kind, ""]
                items.append(current)
            current[1] += stripped[1:-1]
    return [(k, " ".join(t.split())) for k, t in items], out


def squeeze(text: str) -> str:
    return "".join(text.split())


def pdfinfo(pdf: bytes, tmp_path: Path, *options: str) -> str:
    path = tmp_path / "info.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdfinfo", *options, str(path)], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_pdf_says_every_word_of_the_word_final_pep_in_the_same_order(variant, tmp_path):
    docx, pdf = both(variant)
    tags, _ = structure(pdf, tmp_path)
    tagged = squeeze(" ".join(text for _, text in tags))
    at = 0
    for style, text in docx_paragraphs(docx):
        found = tagged.find(squeeze(text), at)
        assert found >= 0, f"{text!r} ({style}) is not in the PDF's tag tree after position {at}"
        at = found + len(squeeze(text))


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_word_heading_is_a_pdf_heading_of_the_same_level_and_every_table_has_header_cells(variant, tmp_path):
    docx, pdf = both(variant)
    tags, tree = structure(pdf, tmp_path)
    word = [(int(style[-1]), text) for style, text in docx_paragraphs(docx) if style and style.startswith("Heading")]
    pdf_headings = [(int(kind[1]), text) for kind, text in tags if re.fullmatch(r"H[1-6]", kind)]
    assert pdf_headings == word
    word_tables = len(etree.fromstring(zipfile.ZipFile(io.BytesIO(docx)).read("word/document.xml")).findall(
        f".//{{{W}}}tbl"))
    tables = tree.split("Table (block)")[1:]
    assert len(tables) == word_tables
    for table in tables:
        head = table.split("TBody")[0]
        assert "THead" in head and "TH " in head and "/Scope /Column" in head


def test_the_pdf_is_pdf_ua_tagged_british_english_a4_with_its_fonts_embedded(tmp_path):
    _, pdf = both()
    assert pdf.startswith(b"%PDF-") and b"/StructTreeRoot" in pdf
    assert re.search(rb"/MarkInfo\s*<<\s*/Marked\s+true", pdf)
    assert re.search(rb"/Lang\s*\(en-GB\)", pdf)
    assert re.search(rb"/DisplayDocTitle\s+true", pdf)
    assert re.search(rb"pdfuaid:part>1<", pdf)  # PDF/UA-1 claimed in the XMP metadata
    info = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in pdfinfo(pdf, tmp_path).splitlines())}
    assert info["Tagged"] == "yes"
    assert info["Title"] == "Personal Education Plan – Autumn 2026"
    assert info["Author"] == COUNCIL and info["Subject"] == "Final PEP, version 2"
    assert info["Page size"].startswith("595.") and "x 841.8" in info["Page size"]  # A4
    path = tmp_path / "fonts.pdf"
    path.write_bytes(pdf)
    listing = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    fonts = [line for line in listing if line.strip()]
    assert fonts and all("LiberationSans" in line for line in fonts)
    assert all(line.split()[-5] == "yes" for line in fonts), "every font embedded"


def test_the_page_furniture_is_printed_on_every_page_but_not_read_out(tmp_path):
    """The marking and page numbers are artifacts: on the page, not in the tag tree."""
    _, pdf = both()
    path = tmp_path / "final.pdf"
    path.write_bytes(pdf)
    pages = int(re.search(r"Pages:\s+(\d+)", pdfinfo(pdf, tmp_path)).group(1))
    assert pages > 1
    for page in range(1, pages + 1):
        text = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), str(path), "-"],
                              capture_output=True, text=True, check=True).stdout
        assert "OFFICIAL-SENSITIVE" in text and f"Page {page} of {pages}" in text and COUNCIL in text
    tags, _ = structure(pdf, tmp_path)
    assert not any(text.startswith("Page ") for _, text in tags)


def test_what_a_person_typed_is_printed_as_typed_never_run(tmp_path):
    hostile = '#read("/etc/passwd") *bold* $x^2$ ] ) } \\ @ref <label> // not a comment #import "@preview/x:1.0.0"'
    mine = content("school-age")
    mine = mine.model_copy(update={"child": mine.child.model_copy(update={"name": hostile})})
    docx, pdf = both(content=mine)
    tags, _ = structure(pdf, tmp_path)
    assert any(squeeze(hostile) in squeeze(text) for _, text in tags)
    assert b"root:" not in pdf


def test_without_the_documents_font_there_is_no_pdf_and_the_reason_says_what_to_install(monkeypatch):
    import typst

    renderer = FinalPdf(compilers=1)
    renderer._give_back(typst.Compiler(ignore_system_fonts=True))  # as on a machine without fonts-liberation2
    renderer._made = 1
    with pytest.raises(FinalPdfFailed, match="fonts-liberation2"):
        renderer.render(identity(), content("school-age"), school_return("school-age"), MEETING, 1)
    assert renderer.rendered == 0


def test_without_typst_the_reason_is_raised_not_a_missing_pdf(monkeypatch):
    monkeypatch.setitem(sys.modules, "typst", None)
    with pytest.raises(FinalPdfFailed, match="Typst is not installed"):
        FinalPdf().render(identity(), content("school-age"), school_return("school-age"), MEETING, 1)


def test_a_version_that_is_not_a_positive_whole_number_is_refused():
    with pytest.raises(ValueError, match="positive whole number"):
        FinalPdf().render(identity(), content("school-age"), school_return("school-age"), MEETING, 0)


def test_the_renderer_counts_what_it_made_for_the_simulations_figures():
    renderer = FinalPdf()
    for version in (1, 2):
        renderer.render(identity(), content("post-16"), school_return("post-16"), MEETING, version)
    assert renderer.rendered == 2 and renderer.render_seconds > 0


def test_the_renderer_counts_the_time_a_pdf_waited_for_a_compiler():
    """A compiler sets one PDF at a time: what a PDF waits while others use every
    compiler is part of its time, and counted apart (the simulation's
    final_pdf_wait_mean)."""
    renderer = FinalPdf(compilers=1)
    renderer.render(identity(), content("post-16"), school_return("post-16"), MEETING, 1)
    assert renderer.wait_seconds < 0.05  # nobody else was compiling
    busy = renderer._take()  # another PDF is being set with the only compiler
    waiting = threading.Thread(
        target=renderer.render, args=(identity(), content("post-16"), school_return("post-16"), MEETING, 2))
    waiting.start()
    time.sleep(0.3)
    renderer._give_back(busy)
    waiting.join()
    assert renderer.rendered == 2
    assert 0.3 <= renderer.wait_seconds < renderer.render_seconds


def test_pdfs_asked_for_together_are_set_side_by_side_up_to_the_compilers_allowed():
    renderer = FinalPdf(compilers=2)
    busy = renderer._take()  # one PDF is being set: the next gets a second compiler
    renderer.render(identity(), content("post-16"), school_return("post-16"), MEETING, 1)
    assert renderer.wait_seconds < 0.05
    renderer._give_back(busy)
    pdfs: list[bytes] = []
    threads = [
        threading.Thread(target=lambda v=v: pdfs.append(
            renderer.render(identity(), content("school-age"), school_return("school-age"), MEETING, v)))
        for v in range(2, 8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(pdfs) == 6 and all(pdf.startswith(b"%PDF-") for pdf in pdfs)
    assert renderer.rendered == 7 and renderer._made == 2  # never more compilers than allowed
    with pytest.raises(ValueError, match="at least one compiler"):
        FinalPdf(compilers=0)


def test_the_worker_image_installs_what_final_pdfs_need():
    """The Camunda 8 worker service makes final PDFs too: Typst comes with the Python
    packages; the image adds only the Arial-metric fonts, nothing recommended, no apt lists."""
    dockerfile = (Path(__file__).resolve().parents[2] / "Dockerfile").read_text()
    install = next(line for line in dockerfile.splitlines() if "apt-get install" in line)
    assert "fonts-liberation2" in install.split() and "libreoffice-writer-nogui" not in install
    assert "--no-install-recommends" in install
    assert "rm -rf /var/lib/apt/lists/*" in dockerfile


@pytest.mark.slow
async def test_the_embedded_product_keeps_a_tagged_pdf_beside_every_final_pep(tmp_path):
    """End to end: the demo's first weeks on the embedded engine, workers and store; the
    app's own renderer sets the PDFs, which say what the Word final PEPs say."""
    from pepflow.demo import run_demo

    result = await run_demo(tmp_path / "demo", until=date(2026, 10, 9))
    finals = sorted(result.documents.glob("PEP-*/*-final-v*.docx"))
    assert finals, "the demo's first weeks finalise PEPs"
    for docx_path in finals:
        pdf_path = docx_path.with_suffix(".pdf")
        assert pdf_path.exists(), f"no PDF beside {docx_path.name}"
        pdf = pdf_path.read_bytes()
        assert "Tagged:          yes" in pdfinfo(pdf, tmp_path)
        tags, _ = structure(pdf, tmp_path)
        tagged = squeeze(" ".join(text for _, text in tags))
        assert all(squeeze(text) in tagged for _, text in docx_paragraphs(docx_path.read_bytes()))
