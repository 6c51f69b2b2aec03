"""Runs a simulated council's year and measures it.

The real product runs: the embedded engine and its workers, protected Word documents,
final PEPs with their tagged PDFs set by Typst, the password spins of protected
files in worker processes (``PEP_DOCUMENT_PROCESSES``), and every message through
the local STARTTLS outbox, all on a simulation clock from the first Monday of the
autumn term to 23 July. The council's records go in as CSV exports
(:mod:`pepflow.simulate.council`), its events through :mod:`pepflow.events`, its people
behave as :mod:`pepflow.simulate.people` says.

Afterwards the run is checked (:mod:`pepflow.simulate.invariants`) and its workload
forecast written beside the records (``forecast.csv``, ``forecast.png``), with
``simulation.json`` saying what was simulated.
"""

from __future__ import annotations

import json
import logging
import resource
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time as time_of_day, timezone
from pathlib import Path

from pepflow.app import open_app
from pepflow.casework import LONDON
from pepflow.clock import SimulationClock
from pepflow.config import AppSettings
from pepflow.council_year import Event, YearLoop
from pepflow.forecast import to_csv, to_png, weekly_workload
from pepflow.importer import import_directory
from pepflow.process_memory import PeakMemory
from pepflow.store.workload import WorkloadQueries

from .council import CouncilBuilder, CouncilPlan, Staffing
from .invariants import check_invariants
from .people import Behaviour, CouncilCaseworkers, CouncilSchools

log = logging.getLogger(__name__)

MARKER = "simulation.json"


class SimulationRefused(ValueError):
    """The options or the data directory do not allow a run; the message says why."""


@dataclass(frozen=True)
class Options:
    children: int
    academic_year: int = 2026
    seed: int = 1
    data_dir: Path = Path("var/simulate")
    database_url: str | None = None
    extra_children: int = 0
    extra_from: date | None = None
    behaviour: Behaviour = field(default_factory=Behaviour)
    staffing: Staffing = field(default_factory=Staffing)


@dataclass
class Figures:
    """What a run measured; :meth:`lines` prints them as ``name: value unit``."""

    children: int = 0
    children_arriving: int = 0
    children_leaving: int = 0
    school_moves: int = 0
    child_years: float = 0.0
    staff: int = 0
    settings: int = 0
    events_told: int = 0
    events_refused: int = 0
    tasks_completed: int = 0
    jobs: int = 0
    documents: int = 0
    final_peps: int = 0
    forms_made: int = 0  # Word forms made to send (first versions and corrections)
    final_documents: int = 0  # Word final PEPs made (each with its PDF)
    final_pdfs: int = 0
    final_pdf_ms: float = 0.0
    final_pdf_wait_ms: float = 0.0  # of final_pdf_ms, waiting while every compiler was in use
    forms_returned: int = 0
    returns_waiting: int = 0  # returned forms still waiting for review at the end (any PEP)
    mail_sent: int = 0
    eml_files: int = 0
    escalations: int = 0
    incidents: int = 0
    job_failures: int = 0  # failed attempts of jobs, retried or not (each is an invariant problem too)
    protected_copies: int = 0
    spins_in_workers: int = 0
    documents_in_workers: int = 0  # forms and final PEPs made, returns read and filled
    documents_here: int = 0
    messages_in_workers: int = 0  # messages with a protected file, encoded by a document worker
    messages_here: int = 0  # ... and those encoded in this process (no worker, or it died)
    workers_recycled: int = 0  # times the document workers were replaced by fresh ones
    setup_s: float = 0.0
    year_s: float = 0.0
    elapsed_s: float = 0.0
    peak_rss_mib: float = 0.0
    cpu_here_s: float = 0.0  # this process (engine, records, job steps, mail), user + system
    cpu_workers_s: float = 0.0  # the document workers (and the local outbox in its own process), ended with the app
    problems: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> dict[str, float]:
        s = max(self.year_s, 1e-9)
        return {"jobs": self.jobs / s, "documents": self.documents / s, "mail": self.mail_sent / s}

    @property
    def cost_per_child_year_ms(self) -> float:
        return 1000 * self.elapsed_s / max(self.child_years, 1e-9)

    def lines(self) -> list[str]:
        rates = self.per_second
        return [
            f"children: {self.children} children",
            f"children_arriving: {self.children_arriving} children",
            f"children_leaving: {self.children_leaving} children",
            f"school_moves: {self.school_moves} moves",
            f"child_years: {self.child_years:.1f} child-years",
            f"staff: {self.staff} people",
            f"settings: {self.settings} settings",
            f"events_told: {self.events_told} events",
            f"events_refused: {self.events_refused} events",
            f"tasks_completed: {self.tasks_completed} tasks",
            f"jobs: {self.jobs} jobs",
            f"documents: {self.documents} documents",
            f"final_peps: {self.final_peps} PEPs",
            f"forms_made: {self.forms_made} documents",
            f"final_documents: {self.final_documents} documents",
            f"final_pdfs: {self.final_pdfs} PDFs",
            f"final_pdf_mean: {self.final_pdf_ms:.0f} ms",
            f"final_pdf_wait_mean: {self.final_pdf_wait_ms:.0f} ms",
            f"forms_returned: {self.forms_returned} forms",
            f"returns_waiting_review: {self.returns_waiting} forms",
            f"mail_sent: {self.mail_sent} messages",
            f"outbox_eml_files: {self.eml_files} files",
            f"escalations: {self.escalations} escalations",
            f"incidents: {self.incidents} incidents",
            f"job_failures: {self.job_failures} attempts",
            f"protected_copies: {self.protected_copies} files",
            f"password_spins_in_worker_processes: {self.spins_in_workers} spins",
            f"documents_in_worker_processes: {self.documents_in_workers} documents",
            f"documents_in_this_process: {self.documents_here} documents",
            f"messages_encoded_in_worker_processes: {self.messages_in_workers} messages",
            f"messages_encoded_in_this_process: {self.messages_here} messages",
            f"document_workers_recycled: {self.workers_recycled} times",
            f"setup_time: {self.setup_s:.1f} s",
            f"year_time: {self.year_s:.1f} s",
            f"elapsed: {self.elapsed_s:.1f} s",
            f"jobs_per_second: {rates['jobs']:.1f} jobs/s",
            f"documents_per_second: {rates['documents']:.2f} documents/s",
            f"mail_per_second: {rates['mail']:.2f} messages/s",
            f"cost_per_child_year: {self.cost_per_child_year_ms:.0f} ms",
            f"cpu_this_process: {self.cpu_here_s:.1f} s",
            f"cpu_worker_processes: {self.cpu_workers_s:.1f} s",
            # how much of the run this process kept a core busy: near 100 %, it is what limits the year
            f"this_process_busy: {100 * self.cpu_here_s / max(self.elapsed_s, 1e-9):.0f} %",
            f"peak_memory: {self.peak_rss_mib:.0f} MiB",
            f"invariant_problems: {len(self.problems)} problems",
        ]


@dataclass
class Simulation:
    options: Options
    plan: CouncilPlan
    figures: Figures
    forecast_csv: Path
    forecast_png: Path


def prepare_data_dir(data_dir: Path) -> None:
    """A fresh directory: an earlier simulation's is replaced, anything else refused
    (a council's real records are never deleted by a simulation)."""
    if data_dir.exists() and any(data_dir.iterdir()):
        if not (data_dir / MARKER).exists():
            raise SimulationRefused(
                f"{data_dir} is not empty and holds no earlier simulation ({MARKER}): choose another "
                f"--data-dir; a simulation never replaces other records"
            )
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)


def child_years(plan: CouncilPlan) -> float:
    """Years in care within the simulated year, summed over the children."""
    span = (plan.end - plan.start).days
    total = 0.0
    for child in plan.children:
        first = max(child.entered_on, plan.start)
        last = min(child.leaves_on or plan.end, plan.end)
        total += max(0, (last - first).days) / span
    return total


async def run_simulation(options: Options, *, progress: Callable[[date, date], None] | None = None) -> Simulation:
    started = time.perf_counter()
    cpu_started = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    if options.children < 1:
        raise SimulationRefused("--children must be at least 1")
    prepare_data_dir(options.data_dir)
    plan = CouncilBuilder(
        options.children, options.academic_year, seed=options.seed, staffing=options.staffing,
        extra_children=options.extra_children, extra_from=options.extra_from,
    ).build()
    exports = plan.write_csv(options.data_dir / "council")
    (options.data_dir / MARKER).write_text(json.dumps(_describe(options, plan), indent=2, default=str))
    figures = Figures(
        children=options.children, children_arriving=sum(1 for c in plan.children if c.arrives),
        children_leaving=sum(1 for c in plan.children if c.leaves_on), school_moves=sum(len(c.moves) for c in plan.children),
        child_years=child_years(plan), staff=len(plan.rows["staff"]), settings=len(plan.rows["settings"]),
    )
    settings = AppSettings(
        data_dir=options.data_dir, database_url=options.database_url, smtp_host=None, environment="development",
    )
    clock = SimulationClock(datetime.combine(plan.start, time_of_day(8), tzinfo=LONDON).astimezone(timezone.utc))
    refused: list[tuple[Event, Exception]] = []
    completed: Counter[str] = Counter()

    def on_event(event: Event, error: Exception | None) -> None:
        if error is None:
            figures.events_told += 1
        else:
            refused.append((event, error))
            log.warning("event refused: %s %s on %s: %s", event.kind, event.child_id, event.on, error)

    memory = PeakMemory().start()  # the process tree as it is: workers come and go
    try:
        async with open_app(settings, clock) as app:
            for summary in import_directory(app.store, exports, actor="simulation"):
                if not summary.ok:
                    raise SimulationRefused(f"the simulated council's records did not import:\n{summary}")
            figures.setup_s = time.perf_counter() - started
            schools = CouncilSchools(app, options.behaviour, options.seed)
            caseworkers = CouncilCaseworkers(app, options.behaviour, options.seed)
            loop = YearLoop(
                app, plan.events, caseworkers, schools, review_returns=caseworkers.review_returns,
                actor="simulation", on_event=on_event, idle_after_each_task=False,
                on_completion=lambda c: completed.update([c.task.element_id]),
                progress=(lambda day: progress(day, plan.end)) if progress else None,
            )
            year_started = time.perf_counter()
            await loop.run(plan.end)
            await app.runtime.run_until_idle()
            figures.year_s = time.perf_counter() - year_started
            figures.tasks_completed = sum(completed.values())
            figures.jobs = app.runtime.worker.handled
            figures.forms_returned = schools.returned
            figures.returns_waiting = len(app.store.returns.pending())
            figures.events_refused = len(refused)
            counts = WorkloadQueries(app.store).counts()
            figures.documents, figures.final_peps = counts["documents"], counts["final_peps"]
            figures.forms_made, figures.final_documents = counts["form_documents"], counts["final_documents"]
            figures.mail_sent, figures.escalations = counts["mail_sent"], counts["escalations"]
            pdf = app.casework.pdf
            figures.final_pdfs = pdf.rendered
            figures.final_pdf_ms = 1000 * pdf.render_seconds / max(pdf.rendered, 1)
            figures.final_pdf_wait_ms = 1000 * pdf.wait_seconds / max(pdf.rendered, 1)
            figures.incidents = len(app.engine.incidents())
            figures.job_failures = sum(app.runtime.worker.failed.values())
            figures.protected_copies = app.casework.protected.made
            figures.spins_in_workers = app.casework.spins.spun_in_pool
            figures.documents_in_workers = app.casework.spins.documents_in_pool
            figures.documents_here = app.casework.spins.documents_here
            figures.messages_in_workers = app.casework.spins.messages_in_pool
            figures.messages_here = app.casework.spins.messages_here
            figures.workers_recycled = app.casework.spins.recycled
            figures.eml_files = sum(1 for _ in (options.data_dir / "outbox").rglob("*.eml"))
            figures.problems = check_invariants(app, plan, counts, figures.eml_files)
            figures.problems += [f"event refused: {e.kind} {e.child_id} on {e.on}: {err}" for e, err in refused]
            weeks = weekly_workload(app.store, app.engine, plan.start, plan.end)
    finally:
        peak_bytes = memory.stop()
    forecast_csv = options.data_dir / "forecast.csv"
    forecast_csv.write_text(to_csv(weeks))
    forecast_png = options.data_dir / "forecast.png"
    title = f"PEP workload by week: {options.children} children" + (f" + {options.extra_children} more" if options.extra_children else "")
    forecast_png.write_bytes(to_png(weeks, title))
    figures.elapsed_s = time.perf_counter() - started
    figures.cpu_here_s = _cpu(resource.RUSAGE_SELF) - cpu_started[0]
    figures.cpu_workers_s = _cpu(resource.RUSAGE_CHILDREN) - cpu_started[1]
    if peak_bytes is not None:
        figures.peak_rss_mib = peak_bytes / 2**20
    else:  # no /proc: this process and, on top, the largest of its children (ended with the app)
        figures.peak_rss_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    return Simulation(options, plan, figures, forecast_csv, forecast_png)


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _describe(options: Options, plan: CouncilPlan) -> dict:
    return {
        "what": "pep simulate: a fictional council's year (not real records)",
        "children": options.children, "academic_year": f"{plan.academic_year}/{(plan.academic_year + 1) % 100:02d}",
        "seed": options.seed, "extra_children": options.extra_children,
        "extra_from": options.extra_from, "from": plan.start, "to": plan.end,
        "behaviour": asdict(options.behaviour), "staffing": asdict(options.staffing),
    }
