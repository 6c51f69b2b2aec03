"""What accounting for every piece of text costs when a returned form is read (issue 12).

Not a timed test: run it by hand on a quiet machine.

    .venv/bin/python bench/readback_bench.py            # 50 reads of each form
    .venv/bin/python bench/readback_bench.py --reads 10

Reads a filled school-age form, and the same form with text typed outside the answers,
a comment and a picture, with the whole read-back (fields, values and the completeness
walk of ``pepflow/documents/_completeness.py``), and as the baseline in the same process
the same read with the completeness walk left out. CPU time per read, best of 3 runs.
Every figure is printed as ``name: value unit``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pepflow.documents import read_school_return, render_pep_form  # noqa: E402
from pepflow.documents import readback  # noqa: E402
from tests.documents.corpus import between_sections, comment, compose, para_below, picture  # noqa: E402
from tests.documents.helpers import COUNCIL, MEETING, SECRET, content, fill_form, identity, school_return  # noqa: E402

REF = "PEP-C-0001-2026-AUT"


def per_read(data: bytes, reads: int) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for _ in range(reads):
            read_school_return(data, REF, SECRET)
        best = min(best, (time.process_time() - start) / reads)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reads", type=int, default=50)
    args = parser.parse_args()
    filled = fill_form(render_pep_form(identity(), content("school-age"), SECRET, council_name=COUNCIL),
                       school_return("school-age"), MEETING)
    edited = comment("school.sessions_missed", "Figure from SIMS")(compose(
        para_below("school.attendance_percent", "was 88% last term"),
        between_sections("Attendance", "Alex moved school in September."),
        picture("school.child_views", "Alex's drawing"))(filled))
    assert len(read_school_return(edited, REF, SECRET).findings) == 4
    for name, data in (("filled", filled), ("filled_with_findings", edited)):
        read_school_return(data, REF, SECRET)  # warm the rendered "our text" cache
        full = per_read(data, args.reads)
        walk = readback.Completeness.run
        readback.Completeness.run = lambda self: []  # the baseline: fields and values only
        try:
            base = per_read(data, args.reads)
        finally:
            readback.Completeness.run = walk
        print(f"read_back_{name}: {full * 1000:.1f} ms")
        print(f"read_back_{name}_without_completeness: {base * 1000:.1f} ms")
        print(f"read_back_{name}_ratio_to_baseline: {full / base:.2f} x")


if __name__ == "__main__":
    main()
