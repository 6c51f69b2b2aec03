"""``pep simulate``: a fictional council's whole year, its figures and its workload forecast."""

from __future__ import annotations

import asyncio
import re
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()
err = Console(stderr=True)


def academic_year(value: str) -> int:
    """``2026/27`` (or ``2026``) -> 2026; anything else is refused with an example."""
    match = re.fullmatch(r"\s*(\d{4})(?:\s*/\s*(\d{2}|\d{4}))?\s*", value)
    if not match:
        raise typer.BadParameter(f"{value!r} is not an academic year like 2026/27")
    first = int(match.group(1))
    if match.group(2) is not None:
        second = int(match.group(2))
        if second % 100 != (first + 1) % 100 or (second >= 1000 and second != first + 1):
            raise typer.BadParameter(f"{value!r}: the second year must follow the first (like 2026/27)")
    if not 2000 <= first <= 2998:
        # the records store keeps term dates for 2000/01 to 2998/99: refused here, before
        # a council is written out, rather than by the import half way through
        raise typer.BadParameter(f"{value!r}: the academic year must be from 2000/01 to 2998/99")
    return first


def simulate(
    children: Annotated[int, typer.Option("--children", min=1, max=20_000, help="children in care at the start of the year")],
    year: Annotated[str, typer.Option("--year", help="academic year, like 2026/27")] = "2026/27",
    seed: Annotated[int, typer.Option(help="the same seed makes the same council and the same year")] = 1,
    data_dir: Annotated[Path, typer.Option(help="where the run keeps its records, documents, e-mails and forecast (an earlier simulation there is replaced; anything else is refused)")] = Path("var/simulate"),
    database_url: Annotated[str | None, typer.Option(help="PostgreSQL instead of SQLite: postgresql+psycopg://user@host/db (its tables must be empty)")] = None,
    extra_children: Annotated[int, typer.Option(min=0, max=20_000, help="what if this many more children arrive (spread over two months from --extra-from)")] = 0,
    extra_from: Annotated[str | None, typer.Option(help="when the extra children start arriving (YYYY-MM-DD; default the start of the year)")] = None,
    late_schools: Annotated[float, typer.Option(min=0.0, max=1.0, help="what if this share of settings return forms late (a third of them never)")] = 0.15,
    typing_per_day: Annotated[int, typer.Option(min=1, max=50, help="PEPs a business support officer types up a working day")] = 4,
) -> None:
    """A fictional council's whole academic year on the real engine, documents and outbox:
    figures as `name: value unit`, and a workload forecast by school week (CSV and PNG)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from .people import Behaviour
    from .run import Options, SimulationRefused, run_simulation

    start_year = academic_year(year)
    try:
        extra_on = date.fromisoformat(extra_from) if extra_from else None
    except ValueError:
        raise typer.BadParameter(f"--extra-from {extra_from!r} is not a date like 2027-01-04") from None
    if extra_on is not None and not date(start_year, 9, 1) <= extra_on <= date(start_year + 1, 6, 1):
        raise typer.BadParameter(f"--extra-from {extra_on} is outside {start_year}/{(start_year + 1) % 100:02d} (before June, so they have a term)")
    options = Options(
        children=children, academic_year=start_year, seed=seed, data_dir=data_dir, database_url=database_url,
        extra_children=extra_children, extra_from=extra_on,
        behaviour=Behaviour(late_share=late_schools, typing_per_day=typing_per_day),
    )
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[day]}"), TimeElapsedColumn(),
                  console=err, transient=True) as progress:
        bar = progress.add_task(f"simulating {children} children", total=None, day="")

        def advance(day: date, end: date) -> None:
            progress.update(bar, total=365, completed=365 - (end - day).days, day=day.isoformat())

        try:
            result = asyncio.run(run_simulation(options, progress=advance))
        except SimulationRefused as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(code=1) from None
    for line in result.figures.lines():
        console.print(line, highlight=False)
    console.print(f"forecast: {result.forecast_csv} and {result.forecast_png} (open /forecast in `PEP_DATA_DIR={data_dir} pep up`)", highlight=False)
    if result.figures.problems:
        for problem in result.figures.problems[:50]:
            err.print(f"[red]problem:[/red] {problem}")
        if len(result.figures.problems) > 50:
            err.print(f"... and {len(result.figures.problems) - 50} more")
        raise typer.Exit(code=1)
