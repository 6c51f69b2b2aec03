"""``pep quality`` and ``pep ppp``: the Virtual School's quality review and Pupil
Premium Plus from the command line. Registered on the main app by :mod:`pepflow.cli`.

``pep quality request-due`` starts the quality review of every final PEP that has none
(the embedded runtime does it once a day; on Camunda 8 run it daily from cron).
``pep ppp ledger --year 2026 [--csv FILE]`` prints or exports a financial year's ledger.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .common import USER_ERRORS, clock, console, engine, fail as _fail, records

quality_app = typer.Typer(help="The Virtual School's quality review of final PEPs", no_args_is_help=True)
ppp_app = typer.Typer(help="Pupil Premium Plus", no_args_is_help=True)


@quality_app.command("request-due")
def request_due() -> None:
    """Start the quality review of every final PEP nobody has asked about yet."""
    from ..quality import QualityService

    try:
        store = records()
        try:
            asked = QualityService(store, engine(), clock()).request_due()
        finally:
            store.close()
    except USER_ERRORS as exc:
        _fail(exc)
    console.print(f"quality review requested for {len(asked)} final PEP(s)" + (f": {', '.join(asked)}" if asked else ""))


@ppp_app.command("ledger")
def ppp_ledger(
    year: Annotated[int, typer.Option(help="financial year by its first year: 2026 = 1 April 2026 - 31 March 2027")],
    csv_file: Annotated[Path | None, typer.Option("--csv", help="write the ledger as CSV to this file")] = None,
) -> None:
    """The Pupil Premium Plus approved in a financial year, by school."""
    from ..ppp import ledger, ledger_csv

    try:
        store = records()
        try:
            book = ledger(store, year)
            if csv_file is not None:
                csv_file.write_text(ledger_csv(store, year), encoding="utf-8")
        finally:
            store.close()
    except USER_ERRORS as exc:
        _fail(exc)
    table = Table("school", "approved", "requests approved", "refused", title=f"Pupil Premium Plus {book.label}")
    for _key, line in sorted(book.by_school.items()):
        table.add_row(line.name, f"£{line.approved:,.2f}", str(line.approved_count), str(line.refused_count))
    table.add_row("total", f"£{book.total:,.2f}", str(len(book.approved)), str(len(book.refused)))
    console.print(table)
    if csv_file is not None:
        console.print(f"written {csv_file}")
