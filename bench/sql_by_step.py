"""Where a simulated year's SQL statements come from (a development aid, not a test).

    PYTHONPATH=$PWD .venv/bin/python bench/sql_by_step.py 10 [--seed 1] [--sites 8]

Runs ``pep simulate`` for N children with a SQLAlchemy ``before_cursor_execute``
listener that charges each statement to a **step** and a **site**:

- the step is the job type whose handler was running (``job:<type>``; the engine calls
  it makes are charged to the engine operation), else the
  daily handover check (``handover:<function>``), else the engine operation
  (``engine:<function>``), else the outermost product function on the stack;
- the site is the innermost product line that issued it (``file:line function``), the
  caller the innermost one outside the records store (which store method it called).

Prints ``step_<step>: <count> statements`` (and per job of that type where the run
handled any), then the busiest sites of each busy step as ``site_<step>|<site>: <count>
statements``, and the busiest sites and callers over the whole run. Every figure is one ``name: value unit`` line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PRODUCT = (str(ROOT / "pepflow") + "/", str(ROOT / "workers") + "/")


JOB_TYPE: contextvars.ContextVar[str] = contextvars.ContextVar("job_type", default="")


def _classify(frame) -> tuple[str, str, str]:
    site = caller = ""
    job = handover = engine = outer = ""
    while frame is not None:
        path = frame.f_code.co_filename
        if path.startswith(PRODUCT):
            name = frame.f_code.co_name
            short = path[len(str(ROOT)) + 1:]
            if not site:
                site = f"{short}:{frame.f_lineno} {name}"
            if not caller and not short.startswith(("pepflow/store/", "pepflow/engine/store.py", "pepflow/mail/outbox")):
                caller = f"{short}:{frame.f_lineno} {name} <- {site.rsplit(' ', 1)[-1]}"
            if short.startswith("workers/") and not job and not name.startswith("_"):
                job = f"job:{name}"
            elif short == "pepflow/handover.py":
                handover = f"handover:{name}"
            elif short.startswith("pepflow/engine/") and short not in ("pepflow/engine/worker.py",
                                                                         "pepflow/engine/runtime.py"):
                engine = f"engine:{name}"
            outer = f"{short.rsplit('/', 1)[-1]}:{name}"
        frame = frame.f_back
    running = JOB_TYPE.get()
    return (f"job:{running}" if running and not engine else job or handover or engine or outer or "other"), site, caller


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("children", type=int, nargs="?", default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sites", type=int, default=6, help="sites shown per step")
    args = parser.parse_args()

    import sqlalchemy as sa
    from sqlalchemy import event

    from pepflow.simulate.run import Options, run_simulation

    from pepflow.engine.worker import EmbeddedWorker

    run = EmbeddedWorker._run

    async def _run(self, task, activated):  # the job type, seen by threads the handler starts too
        JOB_TYPE.set(activated.type)
        await run(self, task, activated)

    EmbeddedWorker._run = _run
    steps: Counter[str] = Counter()
    sites: Counter[tuple[str, str]] = Counter()
    callers: Counter[str] = Counter()

    @event.listens_for(sa.engine.Engine, "before_cursor_execute")
    def _count(*_args) -> None:
        step, site, caller = _classify(sys._getframe(1))
        callers[caller] += 1
        steps[step] += 1
        sites[(step, site)] += 1

    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(run_simulation(Options(children=args.children, data_dir=Path(tmp) / "run", seed=args.seed)))
    jobs = max(result.figures.jobs, 1)
    total = sum(steps.values())
    print(f"jobs: {result.figures.jobs} jobs")
    print(f"sql_statements: {total} statements")
    print(f"sql_per_job: {total / jobs:.1f} statements")
    for step, count in steps.most_common():
        print(f"step_{step}: {count} statements")
        print(f"step_{step}_per_job: {count / jobs:.2f} statements")
    by_site: Counter[str] = Counter()
    for (_step, site), n in sites.items():
        by_site[site] += n
    for site, n in by_site.most_common(args.sites * 4):
        print(f"site_all|{site}: {n} statements")
    for caller, n in callers.most_common(args.sites * 4):
        print(f"caller_all|{caller}: {n} statements")
    for step, _count in steps.most_common(12):
        mine = [(site, n) for (s, site), n in sites.items() if s == step]
        for site, n in sorted(mine, key=lambda item: -item[1])[:args.sites]:
            print(f"site_{step}|{site}: {n} statements")
    return 0


if __name__ == "__main__":
    sys.exit(main())
