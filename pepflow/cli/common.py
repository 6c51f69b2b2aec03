"""What every ``pep`` command shares: the app, settings, the clock, the engine, the
product, how a failure is printed. The commands (the package's other modules) import
from here, and the package's ``__init__`` registers them, so no module imports its
own package back."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ..calendar import MissingTermDates
from ..clock import SystemClock
from ..config import AppSettings
from ..documents import DocumentRejected
from ..engine.errors import EngineError
from ..store.errors import RecordsError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Personal Education Plans, run as a process.")
console = Console()
err = Console(stderr=True)

# What a command may fail with that a user can act on: one line, exit code 1.
USER_ERRORS = (EngineError, RecordsError, DocumentRejected, MissingTermDates, ValueError, LookupError, OSError)


def settings() -> AppSettings:
    return AppSettings()


def clock() -> SystemClock:
    """The clock of every command (looked up here at each call, so one place replaces it)."""
    return SystemClock()


def zeebe_mode() -> bool:
    """PEP_ENGINE=zeebe: the same commands drive a Camunda 8 cluster."""
    from ..zeebe.settings import engine_mode

    return engine_mode() == "zeebe"


def engine():
    if zeebe_mode():
        from ..zeebe.client import ZeebeEngine

        return ZeebeEngine()
    from ..app import open_engine

    return open_engine(settings(), clock(), deploy=False)


def records():
    """The records store (migrated) of this deployment."""
    from ..app import open_records

    return open_records(settings(), clock())


def parse_vars(pairs: list[str] | None, file: Path | None) -> dict[str, Any]:
    variables: dict[str, Any] = {}
    if file is not None:
        from ..limits import read_limited

        variables.update(json.loads(read_limited(file, 256 * 1024, "a variables file")))
    for pair in pairs or []:
        if "=" not in pair:
            raise typer.BadParameter(f"'{pair}' is not key=value")
        key, raw = pair.split("=", 1)
        try:
            variables[key] = json.loads(raw)
        except ValueError:
            variables[key] = raw
    return variables


def fail(exc: Exception) -> None:
    err.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(code=1)


def with_app(work) -> None:
    """Open the product, do ``work(app)``, then (embedded) run every job and timer that
    became due, so a command leaves the process where it should be. With
    PEP_ENGINE=zeebe the messages go to Camunda 8, whose workers run the process."""
    if zeebe_mode():
        from ..zeebe.client import open_zeebe_app as opener
    else:
        from ..app import open_app as opener

    async def main() -> None:
        async with opener(settings(), clock()) as product:
            work(product)
            await product.runtime.run_until_idle()

    try:
        asyncio.run(main())
    except USER_ERRORS as exc:
        fail(exc)


def council_events(product):
    """The council's events on the product this command opened (embedded or Camunda 8)."""
    from ..events import CouncilEvents

    return CouncilEvents(product.store, product.engine, product.casework, product.clock, zeebe=zeebe_mode())


Vars = Annotated[list[str] | None, typer.Option("--var", "-v", help="key=value (value read as JSON if it parses)")]
VarsFile = Annotated[Path | None, typer.Option("--vars-file", help="a JSON object of variables")]
