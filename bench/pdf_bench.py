"""Final PDFs: set directly by Typst, against the LibreOffice pool and a LibreOffice start per document.

Not a timed test: run it by hand, on a machine as quiet as you can get.

    .venv/bin/python bench/pdf_bench.py                      # 60 final PEPs, 2 converters
    .venv/bin/python bench/pdf_bench.py --documents 200 --baseline 8

The final PEPs are rendered by the product's own ``render_final_pep`` from varied
content (every phase variant, one to five SMART targets, up to seven attendees and
four agreed actions, paragraphs of views and well-being notes), as casework renders
them. Then, in this one run:

- ``pdf_direct_*``: the product's way, :class:`FinalPdf` setting the PDF from the
  same arguments (``first_call`` includes reading the system's fonts once;
  ``sequential`` one caller; ``two_callers`` wall time / PDFs with two threads, as the
  workers call it; ``cpu_per_pdf`` the process's CPU time, Typst's threads included);
- ``pdf_cold_first_call``: a new converter's first PDF (LibreOffice start included);
- ``pdf_sequential_*``: one caller, one warm LibreOffice, PDF after PDF (latency);
- ``pdf_pool_*``: ``--converters`` callers on as many LibreOffice processes, the
  way the workers call it (``pdf_pool_mean`` is wall time / PDFs: the cost of a PDF
  when the pool is kept busy);
- ``pdf_baseline_*``: the way final PDFs were made before the pool, one
  ``soffice --convert-to`` (with a throwaway profile) per document, same tagged
  export; the ratios divide it by the pool's figures;
- ``*_cpu_per_pdf``: CPU time (user + system) LibreOffice spent per PDF, pool (its
  hosts included) and baseline: what a PDF costs whatever else the machine is doing,
  and on a machine of N cores at most N of them run at once;
- ``pdf_direct_speedup_*``, ``pdf_direct_cpu_ratio``: the pool's figures divided by
  the direct renderer's (how many times cheaper the product's way is).

Every figure is one ``name: value unit`` line.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from documents_bench import FIRST, LAST, sample  # noqa: E402 - the same varied children and forms

from pepflow.documents import (  # noqa: E402
    AgreedAction,
    Attendee,
    MeetingRecord,
    SchoolReturn,
    SmartTarget,
    render_final_pep,
)
from pepflow.documents.final_pdf import FinalPdf  # noqa: E402
from libreoffice_pool import PdfConverter, libreoffice  # noqa: E402  (bench/: the pool final PDFs came from before)

COUNCIL = "Anyshire County Council"
SENTENCES = [
    "Settled well after the move and has made two close friends in class.",
    "Finds unstructured times such as lunch harder and has a key adult to check in with.",
    "Reading age is about eighteen months behind; daily phonics catch-up is helping.",
    "Enjoys art and PE and asked to join the lunchtime art club.",
    "Carers report homework is a struggle on contact days; school will offer homework club.",
    "Attendance dipped in October after a placement move and has since recovered.",
]
ROLES = ["Social worker", "Designated teacher", "Carer", "Virtual School adviser", "SENCO",
         "Independent Reviewing Officer", "Child"]


def paragraph(i: int, sentences: int) -> str:
    return " ".join(SENTENCES[(i + k) % len(SENTENCES)] for k in range(sentences))


def final_pep(i: int) -> tuple[str, bytes, tuple, dict]:
    """One realistic final PEP, rendered as casework renders it, and the arguments it was rendered from."""
    identity, content, _ = sample(i)
    variant = content.variant
    held = content.meeting.date or date(2026, 10, 14)
    targets = [
        SmartTarget(target=f"{paragraph(i + t, 1)} Measured by the class teacher each half term.",
                    who=["Class teacher", "Carer and class teacher", "Learning mentor"][t % 3],
                    by_when=held + timedelta(days=42 + 7 * t) if t % 4 else None)
        for t in range(1 + i % 5)
    ]
    common = dict(
        completed_by=f"DT {i % 120}, designated teacher", completed_on=held - timedelta(days=10),
        wellbeing=paragraph(i, 3), child_views=paragraph(i + 1, 2), carer_views=paragraph(i + 2, 2),
        targets=targets, sdq_score=(i * 7) % 30,
    )
    eyfs = {f"eyfs_{area}": paragraph(i + n, 1) for n, area in enumerate(
        ["communication_language", "physical", "personal_social_emotional", "literacy", "mathematics",
         "understanding_world", "expressive_arts"])}
    if variant == "early-years-no-setting":
        common.pop("sdq_score")
        school = SchoolReturn(**common, **eyfs, two_year_review_date=held - timedelta(days=90),
                              early_years_place_sought=bool(i % 2))
    else:
        base = dict(common, attendance_percent=Decimal("88.5") + i % 11, sessions_missed=i % 23,
                    ppp_use=paragraph(i + 3, 1), ppp_amount=Decimal(300 + 100 * (i % 7)),
                    progress=paragraph(i + 4, 2), sen_status=["none", "sen-support", "ehcp"][i % 3])
        if variant == "early-years":
            school = SchoolReturn(**base, **eyfs)
        else:
            base.update(exclusions_count=i % 3, exclusion_days=Decimal(i % 3), reduced_timetable=i % 9 == 0,
                        attainment=paragraph(i + 5, 2), transition_careers=paragraph(i + 2, 1))
            if variant == "post-16":
                school = SchoolReturn(**base, course="Level 3 BTEC, Anyshire College", neet_risk=i % 5 == 0,
                                      bursary_applied=True)
            else:
                school = SchoolReturn(**base)
    meeting = MeetingRecord(
        held_on=held,
        attendees=[Attendee(name=f"{FIRST[(i + a) % len(FIRST)]} {LAST[(i + 2 * a) % len(LAST)]}",
                            role=ROLES[a % len(ROLES)]) for a in range(3 + i % 5)],
        updates_agreed=paragraph(i + 3, 2),
        actions=[AgreedAction(action=paragraph(i + a, 1), who=ROLES[a % 3], by_when=held + timedelta(days=21 * (a + 1)))
                 for a in range(i % 5)],
        next_meeting_dates=[held + timedelta(days=120), held + timedelta(days=240)],
    )
    args, kwargs = (identity, content, school, meeting, 1 + i % 2), dict(council_name=COUNCIL, finalised_on=held)
    return f"{identity.pep_reference}-final-v1", render_final_pep(*args, **kwargs), args, kwargs


BASELINE_EXPORT = 'pdf:writer_pdf_Export:{"UseTaggedPDF":{"type":"boolean","value":"true"}}'


def per_document_start(soffice: str, docx: bytes, name: str) -> bytes:
    """The way before the pool: one LibreOffice start per document, throwaway profile."""
    with tempfile.TemporaryDirectory(prefix="pep-pdf-bench-") as tmp:
        folder = Path(tmp)
        source = folder / f"{name}.docx"
        source.write_bytes(docx)
        subprocess.run(
            [soffice, f"-env:UserInstallation=file://{folder / 'profile'}", "--headless", "--norestore",
             "--convert-to", BASELINE_EXPORT, "--outdir", str(folder), str(source)],
            check=True, capture_output=True, timeout=180,
        )
        return (folder / f"{name}.pdf").read_bytes()


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def pool_processes() -> list[Path]:
    """/proc entries of this process's pooled LibreOffice processes and their hosts."""
    mine = f"pepflow-{os.getpid()}-"
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and mine in (entry / "cmdline").read_bytes().decode(errors="replace"):
                found.append(entry)
        except OSError:
            continue
    return found


def pool_cpu_s() -> float:
    """CPU seconds (user + system) the pool's LibreOffice processes and hosts have used."""
    ticks = 0
    for entry in pool_processes():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def libreoffice_rss_mib() -> float:
    """Resident memory of the pool's LibreOffice processes (soffice.bin), MiB in all."""
    total = 0
    for entry in pool_processes():
        try:
            if b"soffice.bin" not in (entry / "cmdline").read_bytes():
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def cpu_s() -> float:
    """CPU seconds (user + system) of this process, all its threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_in_threads(callers: int, work: list, call) -> tuple[float, list[float], list[bytes]]:
    """``call(item)`` for every item by ``callers`` threads: (wall seconds, latencies, results)."""
    latencies: list[float] = []
    results: list[bytes] = []
    lock = threading.Lock()
    todo = list(work)

    def caller() -> None:
        while True:
            with lock:
                if not todo:
                    return
                item = todo.pop()
            t = time.perf_counter()
            out = call(item)
            elapsed = time.perf_counter() - t
            with lock:
                latencies.append(elapsed)
                results.append(out or b"")

    threads = [threading.Thread(target=caller) for _ in range(callers)]
    t = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - t, latencies, results


def direct(documents: list, callers: int) -> dict[str, float]:
    """The product's way: the PDF set from the final PEP's arguments, in this process."""
    renderer = FinalPdf()
    _, _, args, kwargs = documents[0]
    t = time.perf_counter()
    first = renderer.render(*args, **kwargs)
    print(f"pdf_direct_first_call: {(time.perf_counter() - t) * 1000:.0f} ms")
    assert first.startswith(b"%PDF")
    latencies = []
    cpu = cpu_s()
    for _, _, args, kwargs in documents:
        t = time.perf_counter()
        renderer.render(*args, **kwargs)
        latencies.append(time.perf_counter() - t)
    figures = {"sequential": statistics.mean(latencies), "cpu": (cpu_s() - cpu) / len(documents)}
    print(f"pdf_direct_sequential_mean: {figures['sequential'] * 1000:.1f} ms")
    print(f"pdf_direct_sequential_p95: {p95(latencies) * 1000:.1f} ms")
    print(f"pdf_direct_cpu_per_pdf: {figures['cpu'] * 1000:.1f} ms")
    wall, latencies, pdfs = timed_in_threads(callers, documents, lambda d: renderer.render(*d[2], **d[3]))
    figures["busy"] = wall / len(documents)
    print(f"pdf_direct_two_callers_mean: {figures['busy'] * 1000:.1f} ms")
    print(f"pdf_direct_two_callers_latency_p95: {p95(latencies) * 1000:.1f} ms")
    print(f"pdf_direct_mean_size: {statistics.mean(len(p) for p in pdfs) / 1024:.1f} KiB")
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--documents", type=int, default=60, help="final PEPs set directly and through the pool")
    ap.add_argument("--converters", type=int, default=2, help="LibreOffice processes in the pool")
    ap.add_argument("--baseline", type=int, default=6, help="final PEPs with a LibreOffice start each")
    args = ap.parse_args()

    t0 = time.perf_counter()
    documents = [final_pep(i) for i in range(args.documents)]
    render_s = time.perf_counter() - t0
    print(f"pdf_documents: {len(documents)} count")
    print(f"pdf_docx_mean_size: {statistics.mean(len(d) for _, d, _, _ in documents) / 1024:.1f} KiB")
    print(f"pdf_render_docx_mean: {render_s / len(documents) * 1000:.1f} ms")
    made = direct(documents, args.converters)
    soffice = libreoffice()
    if soffice is None:
        sys.exit("pdf_bench: LibreOffice is not installed: no pool to compare with (scripts/setup installs it)")

    with PdfConverter(size=args.converters) as converter:
        name, docx, _, _ = documents[0]
        t = time.perf_counter()
        first = converter.convert(docx, name)
        cold = time.perf_counter() - t
        assert first is not None and first.startswith(b"%PDF")
        print(f"pdf_cold_first_call: {cold * 1000:.0f} ms")

        latencies = []
        cpu = pool_cpu_s()
        for name, docx, _, _ in documents:
            t = time.perf_counter()
            converter.convert(docx, name)
            latencies.append(time.perf_counter() - t)
        sequential = statistics.mean(latencies)
        print(f"pdf_sequential_mean: {sequential * 1000:.1f} ms")
        print(f"pdf_sequential_p95: {p95(latencies) * 1000:.1f} ms")
        pool_cpu = (pool_cpu_s() - cpu) / len(documents)
        print(f"pdf_pool_cpu_per_pdf: {pool_cpu * 1000:.1f} ms")

        pool_wall, pool_latencies, pdfs = timed_in_threads(
            args.converters, documents, lambda d: converter.convert(d[1], d[0]))
        sizes = [len(p) for p in pdfs]
        pool_mean = pool_wall / len(documents)
        print(f"pdf_pool_mean: {pool_mean * 1000:.1f} ms")
        print(f"pdf_pool_latency_p95: {p95(pool_latencies) * 1000:.1f} ms")
        print(f"pdf_pool_converters: {converter.running} count")
        print(f"pdf_pool_libreoffice_starts: {converter.starts} count")
        print(f"pdf_pool_libreoffice_rss: {libreoffice_rss_mib():.0f} MiB")
        print(f"pdf_mean_size: {statistics.mean(sizes) / 1024:.1f} KiB")

    baseline = []
    cpu = children_cpu_s()
    for name, docx, _, _ in documents[: args.baseline]:
        t = time.perf_counter()
        per_document_start(soffice, docx, name)
        baseline.append(time.perf_counter() - t)
    base = statistics.mean(baseline)
    base_cpu = (children_cpu_s() - cpu) / len(baseline)
    print(f"pdf_baseline_mean: {base * 1000:.0f} ms")
    print(f"pdf_baseline_cpu_per_pdf: {base_cpu * 1000:.0f} ms")
    print(f"pdf_baseline_documents: {len(baseline)} count")
    print(f"pdf_speedup_sequential: {base / sequential:.1f} x")
    print(f"pdf_speedup_pool: {base / pool_mean:.1f} x")
    print(f"pdf_cpu_ratio: {base_cpu / pool_cpu:.1f} x")
    print(f"pdf_direct_speedup_sequential: {sequential / made['sequential']:.1f} x")
    print(f"pdf_direct_speedup_busy: {pool_mean / made['busy']:.1f} x")
    print(f"pdf_direct_cpu_ratio: {pool_cpu / made['cpu']:.1f} x")
    print(f"pdf_direct_speedup_baseline: {base / made['sequential']:.0f} x")


if __name__ == "__main__":
    main()
