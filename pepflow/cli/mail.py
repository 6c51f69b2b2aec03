"""``pep mail status|retry`` and ``pep password``: secure mail, what went, what waits,
what failed, and the password of a protected document read out by phone."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from .common import USER_ERRORS, app, clock, console, fail, records, settings, with_app

mail_app = typer.Typer(no_args_is_help=True, help="Secure mail: what went, what waits, what failed.")
app.add_typer(mail_app, name="mail")


def _when(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        from datetime import datetime as datetime_

        value = datetime_.fromisoformat(value)
    return value.isoformat(timespec="seconds")


@mail_app.command("status")
def mail_status(
    pep_id: Annotated[str | None, typer.Argument(help="a PEP reference; without it, every message that is not sent")] = None,
    all_: Annotated[bool, typer.Option("--all", help="without a PEP: list sent messages too")] = False,
) -> None:
    """Each message's status and history: failed ones (business support must act) first."""
    from ..domain.enums import MailStatus

    try:
        store = records()
        if pep_id is not None:
            store.pep(pep_id)
        summaries = store.mail_summaries(pep_id)
    except USER_ERRORS as exc:
        fail(exc)
    counts = {status: sum(1 for m in summaries if m.status == status) for status in MailStatus}
    console.print(
        f"[bold]{pep_id or 'all PEPs'}[/bold]: "
        + ", ".join(f"{n} {status.value}" for status, n in counts.items() if n) if summaries else "no e-mails"
    )
    failed = [m for m in summaries if m.status == MailStatus.FAILED]
    if failed:
        table = Table("id", "PEP", "kind", "to", "attempts", "reason", title="[red]FAILED: needs business support[/red] (fix the address in the records, then `pep mail retry ID`)")
        for m in failed:
            table.add_row(str(m.mail_id), m.pep_id or "-", m.kind, m.recipient, str(m.attempts), m.last_error or "-")
        console.print(table)
    shown = summaries if (pep_id is not None or all_) else [m for m in summaries if m.status != MailStatus.SENT]
    table = Table("id", "PEP", "kind", "to", "status", "attempts", "next attempt", "Message-ID")
    for m in shown:
        table.add_row(
            str(m.mail_id), m.pep_id or "-", m.kind, m.recipient, m.status.value, str(m.attempts),
            _when(m.next_attempt_at), m.message_id or "-",
        )
    if shown:
        console.print(table)
    for m in shown:
        console.print(f"[bold]mail {m.mail_id}[/bold] {m.kind} to {m.recipient} ({m.idempotency_key})")
        for event in m.status_history:
            label = event.get("event") or event.get("status")
            extra = f", next attempt {_when(event['next_attempt_at'])}" if event.get("next_attempt_at") else ""
            console.print(f"  {_when(event.get('at'))}  {event.get('status')}  {label}: {event.get('detail') or ''}{extra}", highlight=False)


@mail_app.command("retry")
def mail_retry(
    mail_id: Annotated[int, typer.Argument(help="the id `pep mail status` shows")],
    actor: Annotated[str, typer.Option(help="who asks for the retry (audit)")] = "business-support",
) -> None:
    """Queue a failed message again (to the address the records give now) and send it."""

    def work(embedded) -> None:
        summary = embedded.casework.retry_mail(mail_id, actor=actor)
        console.print(f"mail {mail_id} queued again for {summary.recipient}")

    with_app(work)
    summary = records().mail_summary(mail_id)
    last = summary.status_history[-1]
    console.print(f"mail {mail_id}: {summary.status.value} ({last.get('detail') or ''})")
    if summary.status.value == "failed":
        raise typer.Exit(code=1)


@app.command()
def password(
    pep_id: str,
    to: Annotated[str, typer.Option(help="who it is given to, for the audit log (e.g. the DT's name, call-back number)")],
    kind: Annotated[str, typer.Option(help="form, final or returned")] = "form",
    version: Annotated[int | None, typer.Option(help="document version (default: the latest)")] = None,
) -> None:
    """The password of a protected PEP document, to read out by phone (audited as the
    operating-system user who asked). Each version has its own password; the versions
    are listed."""
    from ..casework import LONDON, Casework, casework_config
    from ..domain.meeting_dates import long_date
    from .access import os_actor

    actor = os_actor()
    config = settings()
    try:
        store = records()
        casework = Casework(store, None, clock(), casework_config(config))
        secret, spelled, found = casework.give_password(pep_id, kind, version, actor=actor, to=to)
    except USER_ERRORS as exc:
        fail(exc)
    console.print(f"{pep_id} {kind} v{found}: [bold]{secret}[/bold]")
    console.print(spelled)
    # every version opens with its own password: a school may return an earlier one
    versions = store.documents(pep_id, kind)
    if len(versions) > 1:
        console.print(f"versions of the {kind} (give another with --version N):")
        for document in reversed(versions):
            made = document.created_at.astimezone(LONDON).date()
            console.print(f"  v{document.version}: made on {long_date(made)}{' (latest)' if document is versions[-1] else ''}")
