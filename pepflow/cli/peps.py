"""``pep status``, ``pep correct``, ``pep return-comments``: a child's PEPs, and what
the council's PEP team does to one."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Table

from .common import USER_ERRORS, app, clock, console, fail, parse_vars, records, settings


@app.command()
def correct(
    pep_id: str,
    section: Annotated[str, typer.Option(help="school-return or meeting-record")],
    set_: Annotated[list[str], typer.Option("--set", help="field=value (value read as JSON if it parses)")],
    reason: Annotated[str, typer.Option(help="why (written on the corrected version and audited)")],
    actor: Annotated[str, typer.Option(help="who corrects it (audit)")] = "business-support",
) -> None:
    """Correct a final PEP: a new version of the final document, with its reason, sent
    to every attendee; the earlier versions stay as they were sent."""
    from ..corrections import correct_final_pep

    changes = parse_vars(set_, None)

    async def main() -> None:
        from ..app import open_app

        async with open_app(settings(), clock()) as product:
            version = await correct_final_pep(product.casework, pep_id, section, changes, reason=reason, actor=actor)
            await product.runtime.run_until_idle()
            console.print(f"{pep_id}: corrected as version {version} of the final PEP; sent to every attendee")

    try:
        asyncio.run(main())
    except USER_ERRORS as exc:
        fail(exc)


@app.command("return-comments")
def return_comments_(
    pep_id: str,
    text: Annotated[str, typer.Option(help="what business support should change (kept in the PEP record)")],
) -> None:
    """When sending a typed-up PEP back: say in words what to change (the task's form
    carries only the reason's code)."""
    from ..review_notes import record_return_comments
    from .access import os_actor

    try:
        store = records()
        record_return_comments(store, clock(), pep_id, text, actor=os_actor())
    except USER_ERRORS as exc:
        fail(exc)
    console.print(f"{pep_id}: comments kept for business support")


@app.command()
def status(child_id: str) -> None:
    """A child's PEPs, their status and dates, documents and e-mails."""
    try:
        store = records()
        child = store.child(child_id)
        peps = store.peps_for(child_id)
    except USER_ERRORS as exc:
        fail(exc)
    from ..domain.words import local_time, status_words

    console.print(f"[bold]{child.id}[/bold] ({child.given_name} {child.family_name})")
    table = Table("PEP", "status", "variant", "owner", "meeting (UK time)", "documents", "e-mails")
    for pep in peps:
        table.add_row(
            pep.id, status_words(pep.status), pep.variant.value, pep.owner_role.value,
            local_time(pep.meeting_at) if pep.meeting_at else "-",
            ", ".join(d.filename for d in store.documents(pep.id)) or "-",
            str(len(store.mail_log(pep.id))),
        )
    console.print(table)
    late = [e for pep in peps for e in store.escalations.for_pep(pep.id) if e.is_open]
    for escalation in late:
        console.print(
            f"[red]late:[/red] {escalation.pep_id} {escalation.kind} (told the PEP co-ordinator "
            f"{local_time(escalation.raised_at)})", highlight=False,
        )
