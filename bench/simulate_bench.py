"""A council's whole year at three sizes: does the cost per child-year stay flat?

Not a timed test: run it by hand, on a machine as quiet as you can get (the 2,000-child
year takes a while; run it when you need the figure).

    .venv/bin/python bench/simulate_bench.py                     # N = 100, 500, 2000 on SQLite
    .venv/bin/python bench/simulate_bench.py 100 500             # (or --sizes 100,500)
    .venv/bin/python bench/simulate_bench.py --postgres          # a fresh PostgreSQL database per run
    .venv/bin/python bench/simulate_bench.py 100 --baseline before.txt   # ratios to an earlier run's output

Each size runs ``pep simulate`` (the real engine, workers, protected documents with
their password spins in worker processes, final PDFs set by Typst, every message
through the local STARTTLS outbox) in a child process, whose process tree (the spin
workers included) is sampled for its peak memory. Before each run this process times a **floor**: a fixed piece of the same work
(ten protected PEP forms and a thousand SQL statements on SQLite), so a run's time can
be read as a number of floors whatever else the shared machine was doing. For each N:

- ``sN_time``, ``sN_time_in_floors``, ``sN_peak_memory`` (process tree), ``sN_jobs_per_s``,
  ``sN_documents_per_s``, ``sN_mail_per_s``, ``sN_final_pdf_mean`` (and ``sN_final_pdf_wait_mean``, the part spent waiting for a free compiler);
- ``sN_cost_per_child_year`` (time / child-years simulated) and ``sN_cost_ratio`` to the
  smallest N's (flat growth: close to 1.0), also in floors;
- ``sN_cpu_time`` and ``sN_cpu_per_child_year``: CPU seconds of the run's process tree
  (the spin workers included), steadier than the wall time on a shared machine;
- ``sN_cpu_this_process``, ``sN_cpu_worker_processes`` and ``sN_this_process_busy``: the
  product's own process against its document workers; when the product's process keeps
  its core busy all the run (near 100 %), that one interpreter is what limits the year
  (the worker processes' CPU includes the local outbox's own process);
- ``sN_spins_in_worker_processes`` and ``sN_document_workers_recycled`` (how many times the
  document workers were replaced by fresh ones, ``PEP_DOCUMENT_RECYCLE_AFTER``);
- ``sN_sql_per_job``: SQL statements per job (counted by a SQLAlchemy listener over
  the whole run, divided by the jobs), ``sN_invariant_problems`` (must be 0);
- ``sN_documents_floor_cpu``: the least CPU the run's documents need (``bench/year_floor.py``:
  its forms, final PEPs in Word and PDF, and protected copies, each timed once in this
  process as ``unit_*_cpu``), ``sN_documents_floor_on_all_cores`` (that over the cores:
  the shortest the year could take on this machine if nothing else cost anything) and
  ``sN_cpu_vs_documents_floor`` (the run's CPU over that floor).

With ``--baseline FILE`` (the saved output of an earlier run, say before a change, on
the same machine), each size also prints ``sN_time_vs_baseline`` and
``sN_cost_in_floors_vs_baseline`` (this run / that run; below 1.0 is faster).

Each run's data directory (records, documents, messages: some 9 GB at N = 2,000) is
removed when its figures are read; ``--keep-data`` keeps it and prints where it is.

With ``--spins-in-process``, each size first runs once more with
``PEP_DOCUMENT_PROCESSES=0`` (every password spin in the product's own process, as
before they had worker processes) and prints ``sN_in_process_time``,
``sN_in_process_cpu_time`` and ``sN_time_vs_in_process`` (below 1.0: the workers pay).

Every figure is one ``name: value unit`` line.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pepflow.clock import SystemClock  # noqa: E402 - after the repository is on the path
from pepflow.process_memory import PeakMemory  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from year_floor import unit_costs  # noqa: E402 - the least CPU a year's documents need


def floor_seconds() -> float:
    """A fixed slice of the product's own work, timed in this process."""
    import sqlalchemy as sa

    from pepflow.documents import render_pep_form
    from pepflow.documents.protection import protect

    sys.path.insert(0, str(ROOT / "bench"))
    from documents_bench import COUNCIL, FORM_SECRET, sample  # the benchmark's varied children and forms

    began = time.perf_counter()
    for i in range(10):
        identity, content, _setting = sample(i)
        protect(render_pep_form(identity, content, FORM_SECRET, council_name=COUNCIL), f"floor-password-{i}")
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(sa.text("create table t (id integer primary key, v text)"))
        for i in range(1000):
            conn.execute(sa.text("insert into t (v) values (:v)"), {"v": str(i)})
    engine.dispose()
    return time.perf_counter() - began


def run_size(n: int, database_url: str | None, seed: int, processes: int | None = None, *,
             keep_data: bool = False) -> tuple[dict[str, str], float, int]:
    """One simulation in a child process: its figures, wall time and peak tree memory
    (``processes``: its PEP_DOCUMENT_PROCESSES, else the environment's). Its data
    directory is removed afterwards unless ``keep_data`` (then its path is printed)."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"pep-simulate-{n}-"))
    command = [sys.executable, __file__, "--one", str(n), "--data-dir", str(data_dir / "run"), "--seed", str(seed)]
    if database_url:
        command += ["--database-url", database_url]
    began = time.perf_counter()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = dict(os.environ) if processes is None else {**os.environ, "PEP_DOCUMENT_PROCESSES": str(processes)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    memory = PeakMemory(process.pid).start()
    out, errors = process.communicate()
    peak = memory.stop() or 0
    elapsed = time.perf_counter() - began
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    if process.returncode not in (0, 3):
        raise SystemExit(f"the {n}-child run failed ({process.returncode}); its records and files are kept in "
                         f"{data_dir}:\n{errors[-4000:]}")
    figures = {}
    for line in out.splitlines():
        name, _, value = line.partition(": ")
        if value:
            figures[name] = value.split()[0]
    figures["cpu_seconds"] = f"{cpu:.1f}"
    if keep_data:
        print(f"# the {n}-child run's records and files: {data_dir}", file=sys.stderr)
    else:  # a 2,000-child year leaves some 9 GB of records, documents and messages
        shutil.rmtree(data_dir, ignore_errors=True)
    return figures, elapsed, peak


def one(args) -> int:
    """The child process: one ``pep simulate`` run with a statement counter."""
    import sqlalchemy as sa
    from sqlalchemy import event

    from pepflow.simulate.run import Options, run_simulation

    statements = [0]

    @event.listens_for(sa.engine.Engine, "before_cursor_execute")
    def _count(*_args) -> None:
        statements[0] += 1

    result = asyncio.run(run_simulation(Options(
        children=args.one, data_dir=Path(args.data_dir), database_url=args.database_url, seed=args.seed,
    )))
    for line in result.figures.lines():
        print(line)
    print(f"sql_statements: {statements[0]} statements")
    print(f"sql_per_job: {statements[0] / max(result.figures.jobs, 1):.1f} statements")
    for problem in result.figures.problems[:20]:
        print(f"problem: {problem}", file=sys.stderr)
    return 3 if result.figures.problems else 0


def postgres_url(server: str) -> str:
    """A new, empty database on the server ``server`` (a libpq URL), as a SQLAlchemy URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"pep_simulate_{uuid.uuid4().hex[:10]}"
    url = make_url(server)
    admin = url.set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)


def read_baseline(path: Path) -> dict[str, float]:
    """``name: value unit`` lines of an earlier run's output."""
    figures = {}
    for line in path.read_text().splitlines():
        name, _, value = line.partition(": ")
        try:
            figures[name.strip()] = float(value.split()[0])
        except (ValueError, IndexError):
            continue
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes_list", nargs="*", type=int, metavar="N", help="children in care at the start (default 100 500 2000)")
    parser.add_argument("--sizes", default=None, help="the same as a comma-separated list")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres", action="store_true", help="each run on a new PostgreSQL database (see --server)")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="the PostgreSQL server the --postgres runs create their databases on")
    parser.add_argument("--baseline", type=Path, help="an earlier run's output: print this run's ratios to it")
    parser.add_argument("--spins-in-process", action="store_true",
                        help="also run each size with every password spin in the product's own process, for the ratio")
    parser.add_argument("--keep-data", action="store_true",
                        help="keep each run's records and files (removed otherwise) and print where they are")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return one(args)
    sizes = args.sizes_list or [int(s) for s in (args.sizes or "100,500,2000").split(",") if s.strip()]
    if any(n < 1 for n in sizes):
        parser.error("every N must be at least 1")
    baseline = read_baseline(args.baseline) if args.baseline else {}
    base_cost = base_floors = None
    print(f"date: {SystemClock().now().date().isoformat()} -")  # when the benchmark ran (UTC)
    print(f"cpus: {os.cpu_count()} cores")
    units = unit_costs()
    for name in ("form", "final_word", "final_pdf", "protect"):
        print(f"unit_{name}_cpu: {1000 * getattr(units, name):.1f} ms")
    for n in sizes:
        in_process = None
        if args.spins_in_process:  # first, so that the machine's warm-up favours the other run
            url = postgres_url(args.server) if args.postgres else None
            in_process = run_size(n, url, args.seed, processes=0, keep_data=args.keep_data)
        floor = floor_seconds()
        url = postgres_url(args.server) if args.postgres else None
        figures, elapsed, peak = run_size(n, url, args.seed, keep_data=args.keep_data)
        child_years = float(figures["child_years"])
        cost = elapsed / child_years
        floors = cost / floor
        base_cost = base_cost or cost
        base_floors = base_floors or floors
        p = f"s{n}"
        print(f"{p}_floor: {floor:.2f} s")
        print(f"{p}_time: {elapsed:.1f} s")
        print(f"{p}_time_in_floors: {elapsed / floor:.0f} floors")
        # CPU seconds of the run's process tree (the spin workers included): on a shared machine
        # the steadier measure of work done than the wall time
        cpu = float(figures["cpu_seconds"])
        print(f"{p}_cpu_time: {cpu:.1f} s")
        print(f"{p}_cpu_per_child_year: {1000 * cpu / child_years:.0f} ms")
        print(f"{p}_child_years: {child_years:.1f} child-years")
        print(f"{p}_peak_memory: {peak / 2**20:.0f} MiB")
        print(f"{p}_peak_memory_python: {float(figures['peak_memory']):.0f} MiB")
        for name, unit in (("jobs_per_second", "jobs/s"), ("documents_per_second", "documents/s"),
                           ("mail_per_second", "messages/s"), ("final_pdf_mean", "ms"),
                           ("final_pdf_wait_mean", "ms"), ("sql_per_job", "statements"),
                           ("jobs", "jobs"), ("documents", "documents"), ("mail_sent", "messages"), ("final_pdfs", "PDFs"),
                           ("invariant_problems", "problems"), ("cpu_this_process", "s"),
                           ("cpu_worker_processes", "s"), ("this_process_busy", "%")):
            print(f"{p}_{name}: {figures.get(name, '-')} {unit}")
        print(f"{p}_cost_per_child_year: {1000 * cost:.0f} ms")
        print(f"{p}_cost_ratio: {cost / base_cost:.2f} x")
        print(f"{p}_cost_ratio_in_floors: {floors / base_floors:.2f} x")
        print(f"{p}_database: {'postgresql' if url else 'sqlite'} -")
        print(f"{p}_spins_in_worker_processes: {figures.get('password_spins_in_worker_processes', '-')} spins")
        print(f"{p}_document_workers_recycled: {figures.get('document_workers_recycled', '-')} times")
        documents_floor = units.floor(figures)
        print(f"{p}_documents_floor_cpu: {documents_floor:.1f} s")
        print(f"{p}_documents_floor_on_all_cores: {documents_floor / (os.cpu_count() or 1):.1f} s")
        print(f"{p}_cpu_vs_documents_floor: {cpu / documents_floor:.2f} x")
        if in_process is not None:
            figures0, elapsed0, peak0 = in_process
            print(f"{p}_in_process_time: {elapsed0:.1f} s")
            print(f"{p}_in_process_cpu_time: {float(figures0['cpu_seconds']):.1f} s")
            print(f"{p}_in_process_peak_memory: {peak0 / 2**20:.0f} MiB")
            print(f"{p}_time_vs_in_process: {elapsed / elapsed0:.2f} x")
            print(f"{p}_cpu_vs_in_process: {cpu / float(figures0['cpu_seconds']):.2f} x")
        if f"{p}_time" in baseline:
            print(f"{p}_time_vs_baseline: {elapsed / baseline[f'{p}_time']:.2f} x")
            before_floors = baseline[f"{p}_time_in_floors"] / baseline[f"{p}_child_years"]
            print(f"{p}_cost_in_floors_vs_baseline: {(elapsed / floor / child_years) / before_floors:.2f} x")
            if f"{p}_cpu_time" in baseline:
                print(f"{p}_cpu_time_vs_baseline: {cpu / baseline[f'{p}_cpu_time']:.2f} x")
            if f"{p}_sql_per_job" in baseline and figures.get("sql_per_job"):
                print(f"{p}_sql_per_job_vs_baseline: {float(figures['sql_per_job']) / baseline[f'{p}_sql_per_job']:.2f} x")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
