"""The least CPU a simulated year's documents need, whatever the engine and records do.

``bench/simulate_bench.py`` prints it beside each run. Every Word form the council
sends must be made, every final PEP made in Word and set as a tagged PDF, and every
copy that leaves the council protected (AES-256 agile with Word's own 100,000
password-hash spins, which are slow on purpose and never lowered). This module times
one of each in this process, as CPU seconds (``time.process_time``: Typst's threads
included), from the benchmarks' own varied children and final PEPs, and multiplies by
the counts a run reports:

    floor = forms_made x form + final_documents x (final Word + final PDF)
            + protected_copies x protect

It is a floor, not an estimate of the run: it leaves out reading the returned forms,
encoding the messages, the engine, the records, the mail and the simulated people.
Divided by the machine's cores, it is the shortest the year could take here if those
cost nothing and every core were busy all the time.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: samples of each piece (after one unmeasured call), the median is used
SAMPLES = 7


@dataclass(frozen=True)
class UnitCosts:
    """CPU seconds of one piece of each kind, measured in this process."""

    form: float
    final_word: float
    final_pdf: float
    protect: float

    def floor(self, figures: dict[str, str]) -> float:
        """The year's floor in CPU seconds from a run's figures (``pep simulate``'s lines)."""
        forms = int(figures["forms_made"])
        finals = int(figures["final_documents"])
        protected = int(figures["protected_copies"])
        return forms * self.form + finals * (self.final_word + self.final_pdf) + protected * self.protect


def _cpu_of(call, samples: int = SAMPLES) -> float:
    call(0)  # imports, fonts and caches outside the figure
    costs = []
    for i in range(1, samples + 1):
        began = time.process_time()
        call(i)
        costs.append(time.process_time() - began)
    return statistics.median(costs)


def unit_costs() -> UnitCosts:
    """Time one form, one final PEP in Word and as PDF, and one protection."""
    from documents_bench import COUNCIL, FORM_SECRET, sample
    from pdf_bench import final_pep

    from pepflow.documents import render_final_pep, render_pep_form
    from pepflow.documents.final_pdf import FinalPdf
    from pepflow.documents.protection import protect

    forms = [render_pep_form(*sample(i)[:2], FORM_SECRET, council_name=COUNCIL) for i in range(SAMPLES + 1)]
    finals = [final_pep(i) for i in range(SAMPLES + 1)]
    pdf = FinalPdf(compilers=1)
    return UnitCosts(
        form=_cpu_of(lambda i: render_pep_form(*sample(i)[:2], FORM_SECRET, council_name=COUNCIL)),
        final_word=_cpu_of(lambda i: render_final_pep(*finals[i][2], **finals[i][3])),
        final_pdf=_cpu_of(lambda i: pdf.render(*finals[i][2], **finals[i][3])),
        protect=_cpu_of(lambda i: protect(forms[i], f"floor-password-{i:04d}")),
    )
