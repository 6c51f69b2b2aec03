"""``pep import``: the council's CSV exports into the records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import USER_ERRORS, app, console, err, fail, records


@app.command("import")
def import_(
    kind: Annotated[str, typer.Argument(help="children, settings, staff, contacts, term-dates, or 'all' for a folder")],
    path: Path,
    actor: Annotated[str | None, typer.Option(help="who is importing (audit; default: the operating-system user)")] = None,
) -> None:
    """Import the council's CSV exports; a file with a bad row imports nothing."""
    from ..importer import import_csv, import_directory
    from .access import follow_allocations, os_actor

    actor = f"{os_actor()} for {actor}"[:40] if actor else os_actor()
    try:
        store = records()
        summaries = import_directory(store, path, actor) if kind == "all" else [import_csv(store, kind, path, actor)]
    except USER_ERRORS as exc:
        fail(exc)
    failed = False
    for summary in summaries:
        if summary.errors:
            failed = True
            for error in summary.errors:
                err.print(f"[red]{error}[/red]")
        else:
            console.print(f"{summary}")
    changed = sorted({c for s in summaries if s.ok for c in s.changed_children})
    if changed:  # a change of allocation: the children's open tasks follow (audited)
        try:
            follow_allocations(changed, "allocation changed by an import")
        except USER_ERRORS as exc:
            fail(exc)
    if failed:
        raise typer.Exit(code=1)
