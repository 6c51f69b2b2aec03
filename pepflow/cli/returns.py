"""``pep form-returned`` and ``pep form-review``: returned forms from the command line
(issue 12). Registered on the main app by :mod:`pepflow.cli`.

``form-returned`` takes a school's Word form in and prints what was read back: every
flag with where it was and the school's own words, every change against an earlier
return. It exits 2 when anything is flagged (the form then waits for business
support's review) unless ``--accept`` is given: then the person running the command
accepts it as read, recorded as theirs (the operating-system user).

``form-review`` is business support's review from the CLI: ``list`` the returns
waiting, ``show`` one, ``accept`` it (``--set field=value`` edits, checked against the
school part of the form), or ``ask-again`` with a message in words (a secure mail to
the designated teacher; the process waits for the next return).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from .common import USER_ERRORS, clock, console, council_events, err, settings, zeebe_mode

review_app = typer.Typer(help="Returned forms waiting for business support's review.", no_args_is_help=True)

#: exit code of ``form-returned`` when the form was kept but waits for review
FLAGGED_EXIT = 2


def _print_report(report) -> None:
    for line in report.lines():
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def _open(work):
    """Open the product (embedded or Camunda 8), do ``async work(product)``, run what became due."""
    if zeebe_mode():
        from ..zeebe.client import open_zeebe_app as opener
    else:
        from ..app import open_app as opener

    async def main():
        async with opener(settings(), clock()) as product:
            result = await work(product)
            await product.runtime.run_until_idle()
            return result

    try:
        return asyncio.run(main())
    except USER_ERRORS as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(code=1) from None


def form_returned(
    pep_id: str,
    file: Path,
    accept: Annotated[bool, typer.Option("--accept", help="accept the form as read even when something is flagged (recorded as yours)")] = False,
) -> None:
    """Take in the Word form a school returned (it must be the form sent for that PEP)."""
    from ..limits import MAX_RETURNED_FORM, read_limited
    from .access import os_actor

    actor = os_actor()
    try:
        data = read_limited(file, MAX_RETURNED_FORM, "a returned form")
    except USER_ERRORS as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(code=1) from None

    async def work(product):
        outcome = council_events(product).form_returned(pep_id, data, actor=actor, accept=accept)
        return outcome, product.casework.returns.report(outcome.details["schoolReturnId"])

    outcome, report = _open(work)
    console.print(outcome.summary, highlight=False, markup=False, soft_wrap=True)
    _print_report(report)
    if report.status == "pending":
        err.print(
            f"flagged: the form waits for business support's review (`pep form-review show {report.return_id}`); "
            "run again with --accept to accept it as read", highlight=False, markup=False,
        )
        raise typer.Exit(code=FLAGGED_EXIT)


@review_app.command("list")
def review_list() -> None:
    """Returned forms waiting for review: return id, PEP, flags, changes."""
    async def work(product):
        return product.casework.returns.pending()

    reports = _open(work)
    if not reports:
        console.print("no returned form is waiting for review")
    for report in reports:
        console.print(
            f"{report.return_id}  {report.pep_id}  received {report.received_at}  "
            f"{report.flag_count} flagged, {len(report.changes)} changed", highlight=False, markup=False,
        )


@review_app.command("show")
def review_show(return_id: int) -> None:
    """What was read, what was flagged (where and the school's words) and what changes."""
    async def work(product):
        report = product.casework.returns.report(return_id)
        product.store.record_pep_view(report.pep_id, actor=_actor())
        return report

    report = _open(work)
    _print_report(report)
    console.print("read:", highlight=False)
    from ..school_returns import label

    for name, value in report.read.items():
        if value not in (None, "", []):
            console.print(f"  {label(name)}: {value}", highlight=False, markup=False, soft_wrap=True)


def _actor() -> str:
    from .access import os_actor

    return os_actor()


def _parse_edits(pairs: list[str] | None) -> dict:
    import json

    edits = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise typer.BadParameter(f"'{pair}' is not field=value")
        key, raw = pair.split("=", 1)
        try:
            edits[key] = json.loads(raw) if raw[:1] in "[{" else raw
        except ValueError:
            edits[key] = raw
    return edits


@review_app.command("accept")
def review_accept(
    return_id: int,
    set_: Annotated[list[str] | None, typer.Option("--set", help="field=value: correct an answer before accepting (checked against the form)")] = None,
) -> None:
    """Accept a returned form (with edits): merged into the PEP, the process goes on."""
    from ..return_review import decide

    edits = _parse_edits(set_)

    async def work(product):
        return await decide(product, return_id, "accept", actor=_actor(), edits=edits or None)

    # edits the form refuses (InvalidEdits, a ValueError) are printed by field, exit 1
    _print_report(_open(work))


@review_app.command("ask-again")
def review_ask_again(
    return_id: int,
    message: Annotated[str, typer.Option(help="what the school is asked, in words (sent to the designated teacher)")],
) -> None:
    """Ask the school again: a secure mail with the message; the process waits for the next return."""
    from ..return_review import decide

    async def work(product):
        return await decide(product, return_id, "ask-again", actor=_actor(), query=message)

    _print_report(_open(work))


def register(app: typer.Typer) -> None:
    app.command("form-returned")(form_returned)
    app.add_typer(review_app, name="form-review")
