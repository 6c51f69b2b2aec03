"""The pool of long-lived LibreOffice processes (pepflow.documents.pdf), which made final
PDFs until they were set directly by Typst (tests/documents/test_final_pdf.py); kept as
bench/pdf_bench.py's baseline.

Real LibreOffice and poppler (both from scripts/setup); skips only where LibreOffice
is not installed at all. The PDF must be tagged (PDF/UA structure) and carry every
paragraph of the final PEP, headings as headings; the pool must reuse one
LibreOffice, survive a crash or a hang, refuse a broken install with a clear error,
and leave no process or file behind when closed.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from pepflow.documents import render_final_pep
from pepflow.documents.pdf import PdfConversionFailed, PdfConverter

from .helpers import MEETING, W, content, identity, school_return

pytestmark = [pytest.mark.libreoffice, pytest.mark.slow]
needs_lo = pytest.mark.skipif(
    (shutil.which("soffice") or shutil.which("libreoffice")) is None, reason="LibreOffice is not installed"
)
VARIANTS = ["school-age", "early-years", "post-16", "early-years-no-setting"]


def final(variant: str = "school-age", version: int = 1) -> bytes:
    return render_final_pep(identity(), content(variant), school_return(variant), MEETING, version)


@pytest.fixture(scope="module")
def converter():
    with PdfConverter(size=2, timeout=60) as pool:
        yield pool


# --------------------------------------------------------------------------- reading a PDF


def docx_paragraphs(docx: bytes) -> list[tuple[str | None, str]]:
    """(style id, text) of every non-empty paragraph of the body, table cells included."""
    root = etree.fromstring(zipfile.ZipFile(io.BytesIO(docx)).read("word/document.xml"))
    found = []
    for p in root.iter(f"{{{W}}}p"):
        text = " ".join("".join(t.text or "" for t in p.iter(f"{{{W}}}t")).split())
        style = p.find(f"{{{W}}}pPr/{{{W}}}pStyle")
        if text:
            found.append((style.get(f"{{{W}}}val") if style is not None else None, text))
    return found


def structure(pdf_path: Path) -> tuple[list[tuple[str, str]], set[str]]:
    """(structure type, text) of every element of the PDF's tag tree that holds text,
    and the types of all its elements."""
    out = subprocess.run(["pdfinfo", "-struct-text", str(pdf_path)], capture_output=True, text=True, check=True).stdout
    items: list[list[str]] = []
    kinds: set[str] = set()
    kind, current = "", None
    for line in out.splitlines():
        stripped = line.strip()
        element = re.fullmatch(r"([A-Za-z][A-Za-z0-9]*)( \(\w+\))?:", stripped)
        if element:
            kind, current = element.group(1), None
            kinds.add(kind)
        elif stripped.startswith('"') and stripped.endswith('"'):
            if current is None:
                current = [kind, ""]
                items.append(current)
            current[1] += stripped[1:-1]  # one quoted line per line of text
    return [(k, " ".join(t.split())) for k, t in items], kinds


def pdfinfo(pdf_path: Path) -> dict[str, str]:
    out = subprocess.run(["pdfinfo", str(pdf_path)], capture_output=True, text=True, check=True).stdout
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}


def group_of(pid: int) -> list[tuple[int, str]]:
    """(pid, command) of every process in the process group ``pid`` leads."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pid and fields[0] != "Z":
            members.append((int(entry.name), command))
    return members


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (not gone, not a zombie waiting to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def gone(pid: int, within: float = 10.0) -> bool:
    """Whether ``pid`` ends within ``within`` seconds (a killed process takes a moment)."""
    deadline = time.monotonic() + within
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def group_gone(leader: int, within: float = 10.0) -> bool:
    """Whether every process of the group ``leader`` leads ends within ``within`` seconds."""
    deadline = time.monotonic() + within
    while group_of(leader):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def office_pid(pool: PdfConverter) -> int:
    """The soffice.bin of the pool's only running LibreOffice."""
    (office,) = [o for o in pool._offices if o.running]
    assert office.process is not None
    (pid,) = [p for p, command in group_of(office.process.pid) if "soffice.bin" in command]
    return pid


# --------------------------------------------------------------------------- the PDF


@needs_lo
@pytest.mark.parametrize("variant", VARIANTS)
def test_the_final_pep_pdf_is_tagged_and_carries_every_paragraph_in_order(converter, tmp_path, variant):
    docx = final(variant)
    pdf = converter.convert(docx, f"PEP-C-0001-2026-AUT-final-v1-{variant}")
    assert pdf is not None and pdf.startswith(b"%PDF-")
    path = tmp_path / "final.pdf"
    path.write_bytes(pdf)

    # tagged: a structure tree, marked content, and poppler agrees
    assert re.search(rb"/MarkInfo\s*<<\s*/Marked\s+true\s*>>", pdf)
    assert b"/StructTreeRoot" in pdf
    info = pdfinfo(path)
    assert info["Tagged"] == "yes"
    assert info["Page size"].startswith("595.") and "841.89" in info["Page size"]  # A4, as the .docx

    tags, kinds = structure(path)
    tagged_text = " ".join(text for _, text in tags)
    position = 0
    for style, text in docx_paragraphs(docx):
        found = tagged_text.find(text, position)
        assert found >= 0, f"{text!r} (style {style}) is not in the PDF's tag tree after position {position}"
        position = found + len(text)
        if style and style.startswith("Heading"):
            level = style.removeprefix("Heading")
            assert (f"H{level}", text) in tags, f"heading {text!r} is not tagged as a level-{level} heading"
    assert {"H1", "Table", "TR", "TH", "TD", "P"} <= kinds  # tables keep header and data cells


@needs_lo
def test_the_pdf_keeps_the_word_layout_fonts(converter, tmp_path):
    """Arial in the .docx is set in its metric twin (Liberation Sans), every font embedded,
    so lines and pages break where Word breaks them."""
    path = tmp_path / "final.pdf"
    path.write_bytes(converter.convert(final(), "fonts"))
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    assert any("LiberationSans" in line for line in fonts), fonts
    assert all(line.split()[-5] == "yes" for line in fonts), "every font is embedded"


# --------------------------------------------------------------------------- the pool


@needs_lo
def test_one_libreoffice_serves_document_after_document():
    with PdfConverter(size=2) as pool:
        for version in (1, 2, 3):
            assert pool.convert(final(version=version), f"v{version}").startswith(b"%PDF-")
        assert (pool.starts, pool.running) == (1, 1)


@needs_lo
def test_concurrent_callers_share_the_pool_and_each_gets_its_own_pdf():
    results: dict[int, bytes] = {}
    errors: list[BaseException] = []
    documents = {n: render_final_pep(identity(f"PEP-C-{n:04d}-2026-AUT", f"C-{n:04d}"), content("school-age"),
                                     school_return("school-age"), MEETING, 1) for n in range(6)}

    with PdfConverter(size=2) as pool:
        def work(n: int) -> None:
            try:
                results[n] = pool.convert(documents[n], f"doc-{n}")
            except BaseException as exc:  # noqa: BLE001 - collected and failed below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in documents]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert pool.starts <= 2 and pool.running <= 2
    for n, pdf in results.items():
        text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
        assert f"PEP-C-{n:04d}-2026-AUT" in text  # its own document, not a neighbour's
        assert [f"PEP-C-{m:04d}-2026-AUT" in text for m in documents].count(True) == 1


@needs_lo
def test_a_libreoffice_that_crashed_is_started_again_for_the_next_document():
    with PdfConverter(size=1) as pool:
        assert pool.convert(final(), "before") is not None
        os.kill(office_pid(pool), signal.SIGKILL)
        time.sleep(0.2)
        assert pool.convert(final(), "after the crash").startswith(b"%PDF-")
        assert pool.starts == 2 and pool.running == 1


@needs_lo
def test_a_hung_libreoffice_times_out_with_a_clear_error_and_is_replaced():
    with PdfConverter(size=1) as pool:
        assert pool.convert(final(), "warm") is not None  # started within the default timeout
        pool.timeout = 4
        hung = office_pid(pool)
        os.kill(hung, signal.SIGSTOP)  # LibreOffice stops answering, as a hang does
        try:
            with pytest.raises(PdfConversionFailed, match=r"took longer than 4 s to convert stuck"):
                pool.convert(final(), "stuck")
            assert gone(hung), "killed, not left stopped"
        finally:
            if alive(hung):
                os.kill(hung, signal.SIGKILL)
        pool.timeout = 60
        assert pool.convert(final(), "next").startswith(b"%PDF-")
        assert pool.starts == 2


@needs_lo
def test_a_document_libreoffice_cannot_open_fails_by_name_and_the_pool_carries_on():
    with PdfConverter(size=1) as pool:
        with pytest.raises(PdfConversionFailed, match="could not convert PEP-C-0001-2026-AUT-final-v1"):
            pool.convert(b"PK\x03\x04 this is not a Word document", "PEP-C-0001-2026-AUT-final-v1")
        assert pool.convert(final(), "next").startswith(b"%PDF-")
        assert pool.starts == 1


@needs_lo
def test_libreoffice_without_a_uno_bridge_is_a_clear_error_not_a_missing_pdf():
    """The product's own Python has no ``uno``: installed but unusable must say so."""
    with PdfConverter(size=1, python=sys.executable) as pool:
        with pytest.raises(PdfConversionFailed, match="python3-uno"):
            pool.convert(final(), "x")


@needs_lo
def test_an_office_that_never_starts_is_a_clear_error(tmp_path):
    fake = tmp_path / "soffice"
    fake.write_text("#!/bin/sh\necho 'not really LibreOffice' >&2\nexit 7\n")
    fake.chmod(0o755)
    with PdfConverter(size=1, soffice=str(fake)) as pool:
        with pytest.raises(PdfConversionFailed, match="exited with code 7"):
            pool.convert(final(), "x")


@needs_lo
def test_closing_stops_every_libreoffice_and_removes_its_files():
    pool = PdfConverter(size=2)
    pool.convert(final(), "one")
    office = pool._offices[0]
    assert office.process is not None
    host = office.process.pid
    pipe = Path("/tmp", f"OSL_PIPE_{os.getuid()}_{office.pipe_name}")
    folder = pool._folder
    assert group_of(host) and folder is not None and folder.exists()
    pool.close()
    assert group_gone(host) and pool.running == 0
    assert not folder.exists() and not pipe.exists()
    with pytest.raises(PdfConversionFailed, match="closed"):
        pool.convert(final(), "late")


def test_without_libreoffice_there_is_simply_no_pdf(monkeypatch):
    from pepflow.documents import pdf as pdf_module

    monkeypatch.setattr(pdf_module.shutil, "which", lambda name: None)
    with PdfConverter() as pool:
        assert not pool.available
        assert pool.convert(b"not even read", "x") is None


@needs_lo
def test_docx_to_pdf_keeps_one_shared_libreoffice_for_callers_that_own_no_converter():
    from pepflow.documents.pdf import default_converter, docx_to_pdf

    first = docx_to_pdf(final(), "shared-1")
    starts = default_converter().starts
    second = docx_to_pdf(final(version=2), "shared-2")
    assert first is not None and second is not None and second.startswith(b"%PDF-")
    assert default_converter().starts == starts  # no new LibreOffice for the second


@needs_lo
def test_the_default_uno_python_can_drive_this_libreoffice():
    """What the pool relies on: Debian's python3 with python3-uno."""
    from pepflow.documents.pdf import libreoffice, uno_python

    python = uno_python(libreoffice())
    probe = subprocess.run([python, "-c", "import uno"], capture_output=True, text=True)
    assert probe.returncode == 0, f"{python} cannot import uno: {probe.stderr}"


@needs_lo
def test_libreoffice_never_sees_the_products_secrets(monkeypatch):
    monkeypatch.setenv("PEP_DOCUMENT_SECRET", "a-council-secret-0123456789")
    monkeypatch.setenv("PEP_SMTP_PASSWORD", "relay-password")
    with PdfConverter(size=1) as pool:
        pool.convert(final(), "env")
        office = pool._offices[0]
        assert office.process is not None
        for pid, _command in group_of(office.process.pid):
            environment = Path(f"/proc/{pid}/environ").read_bytes()
            assert b"a-council-secret" not in environment and b"relay-password" not in environment


@needs_lo
def test_a_product_that_dies_without_closing_leaves_no_libreoffice_behind(tmp_path):
    """Killed (no close, no atexit): the host sees its input close, stops LibreOffice
    and removes its pipe and profile."""
    script = tmp_path / "owner.py"
    script.write_text(
        "import os, sys\n"
        "from pepflow.documents.pdf import PdfConverter\n"
        "pool = PdfConverter(size=1)\n"
        "pool.convert(open(sys.argv[1], 'rb').read(), 'dying')\n"
        "office = pool._offices[0]\n"
        "print(office.process.pid, office.pipe_name, office.folder, flush=True)\n"
        "os._exit(0)\n"
    )
    docx = tmp_path / "final.docx"
    docx.write_bytes(final())
    out = subprocess.run([sys.executable, str(script), str(docx)], capture_output=True, text=True, timeout=120, check=True)
    host, pipe_name, folder = out.stdout.split()
    assert group_gone(int(host), within=30)
    assert not Path("/tmp", f"OSL_PIPE_{os.getuid()}_{pipe_name}").exists()
    assert not (Path(folder) / "profile").exists()
    shutil.rmtree(Path(folder).parent, ignore_errors=True)
