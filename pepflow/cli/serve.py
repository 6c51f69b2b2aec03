"""``pep run``, ``pep up``, ``pep demo``, ``pep simulate``: the product running."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..simulate.cli import simulate as _simulate
from .common import USER_ERRORS, app, clock, console, err, fail, settings

app.command("simulate")(_simulate)


@app.command()
def run() -> None:
    """Run the embedded engine's workers and timers until interrupted (Ctrl-C)."""
    from ..app import open_app

    async def main() -> None:
        async with open_app(settings(), clock()) as embedded:
            where = embedded.outbox.outbox_dir if embedded.outbox else embedded.settings.smtp_host
            console.print(f"embedded engine running; mail to {where}. Ctrl-C stops.")
            stop = asyncio.Event()
            try:
                await embedded.runtime.serve(stop)
            except asyncio.CancelledError:
                stop.set()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        console.print("stopped")


@app.command()
def demo(
    data_dir: Annotated[Path, typer.Option(help="where the demo keeps its database, documents and e-mails")] = Path("var/demo"),
    until: Annotated[str | None, typer.Option(help="stop the simulation on this date (YYYY-MM-DD)")] = None,
) -> None:
    """Run a simulated academic year for fictional children and print the timeline."""
    from datetime import date as date_

    from rich.progress import Progress

    from ..demo import END, run_demo

    stop = date_.fromisoformat(until) if until else END
    with Progress(console=console, transient=True) as progress:
        bar = progress.add_task("simulating the academic year", total=(stop - date_(2026, 9, 7)).days + 1)
        result = asyncio.run(run_demo(data_dir, until=stop, progress=lambda _day: progress.advance(bar)))
    table = Table("date", "PEP / child", "step", "who", "documents, e-mails", title="A simulated year of PEPs")
    for entry in result.timeline:
        table.add_row(entry.at.strftime("%a %d %b %Y"), entry.reference, entry.step, entry.who, entry.detail)
    console.print(table)
    console.print(
        f"{result.final_peps} final PEPs, {result.documents_made} documents in {result.documents}, "
        f"{result.emails} e-mails in {result.outbox} (.eml)"
    )
    if result.incidents:
        for incident in result.incidents:
            err.print(f"[red]incident:[/red] {incident}")
        raise typer.Exit(code=1)


@app.command()
def up(
    host: Annotated[str | None, typer.Option(help="address to listen on (PEP_WEB_HOST, default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (PEP_WEB_PORT, default 8000)")] = None,
    zeebe_gateway: Annotated[bool, typer.Option("--zeebe-gateway", help="also expose the engine as a Camunda 8 gateway: gRPC (python -m workers, zbctl) and the REST API v2")] = False,
    zeebe_address: Annotated[str, typer.Option(help="the facade's gRPC host:port (loopback only)")] = "127.0.0.1:26500",
    zeebe_rest_address: Annotated[str, typer.Option(help="the facade's REST API v2 host:port (loopback only)")] = "127.0.0.1:8088",
    no_workers: Annotated[bool, typer.Option("--no-workers", help="leave the jobs to external workers (with --zeebe-gateway)")] = False,
) -> None:
    """Start everything: engine, workers and timers, mail outbox (unless a relay is set), web server."""
    from ..web.server import serve
    from ..web.settings import WebSettings

    web_settings = WebSettings()
    if host:
        web_settings.host = host
    if port:
        web_settings.port = port
    try:
        asyncio.run(serve(
            settings(), web_settings, announce=console.print,
            zeebe_gateway=zeebe_address if zeebe_gateway else None, zeebe_rest=zeebe_rest_address,
            in_process_workers=not no_workers,
        ))
    except KeyboardInterrupt:
        console.print("stopped")
    except USER_ERRORS as exc:
        fail(exc)
