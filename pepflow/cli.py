"""``pep``: the command line over the engine interface.

Every command opens the engine named by ``PEP_DATABASE_URL`` (default: a SQLite file
under ``var/``), does one thing and prints the result; errors are one clear line
and a non-zero exit.
"""

from __future__ import annotations

import re

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from .calendar import MissingTermDates
from .clock import SystemClock
from .config import AppSettings
from .documents import DocumentRejected
from .engine.errors import EngineError
from .store.errors import RecordsError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Personal Education Plans, run as a process.")
task_app = typer.Typer(no_args_is_help=True, help="Work one user task.")
app.add_typer(task_app, name="task")
console = Console()
err = Console(stderr=True)

def _settings() -> AppSettings:
    return AppSettings()


def _zeebe_mode() -> bool:
    """PEP_ENGINE=zeebe: the same commands drive a Camunda 8 cluster."""
    from .zeebe.settings import engine_mode

    return engine_mode() == "zeebe"


def _engine():
    if _zeebe_mode():
        from .zeebe.client import ZeebeEngine

        return ZeebeEngine()
    from .app import open_engine

    settings = _settings()
    return open_engine(settings, SystemClock(), deploy=False)


# What a command may fail with that a user can act on: one line, exit code 1.
USER_ERRORS = (EngineError, RecordsError, DocumentRejected, MissingTermDates, ValueError, LookupError, OSError)


def _parse_vars(pairs: list[str] | None, file: Path | None) -> dict[str, Any]:
    variables: dict[str, Any] = {}
    if file is not None:
        from .limits import read_limited

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


def _fail(exc: Exception) -> None:
    err.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(code=1)


Vars = Annotated[list[str] | None, typer.Option("--var", "-v", help="key=value (value read as JSON if it parses)")]
VarsFile = Annotated[Path | None, typer.Option("--vars-file", help="a JSON object of variables")]


@app.command()
def deploy(
    paths: Annotated[list[Path], typer.Argument(help=".bpmn/.form files or folders")],
    zeebe: Annotated[bool, typer.Option("--zeebe", help="deploy to the Camunda 8 cluster of PEP_ZEEBE_* (as PEP_ENGINE=zeebe does)")] = False,
) -> None:
    """Deploy diagrams and forms (all or nothing)."""
    resources: list[Path] = []
    for path in paths:
        if path.is_dir():
            resources.extend(sorted(p for p in path.iterdir() if p.suffix in {".bpmn", ".form"}))
        elif path.exists():
            resources.append(path)
        else:
            _fail(FileNotFoundError(f"{path} does not exist"))
    try:
        if zeebe:
            from .zeebe.client import ZeebeEngine

            with ZeebeEngine() as engine:
                deployment = engine.deploy(resources)
        else:
            deployment = _engine().deploy(resources)
    except USER_ERRORS as exc:
        _fail(exc)
    for process in deployment.processes:
        console.print(f"process [bold]{process.bpmn_process_id}[/bold] version {process.version} ({process.resource_name})")
    for form in deployment.forms:
        console.print(f"form [bold]{form.form_id}[/bold] version {form.version}")


@app.command()
def start(process_id: str, var: Vars = None, vars_file: VarsFile = None) -> None:
    """Start an instance at a none start event."""
    try:
        key = _engine().create_instance(process_id, _parse_vars(var, vars_file))
    except USER_ERRORS as exc:
        _fail(exc)
    console.print(f"started instance {key}")


@app.command()
def publish(
    name: str,
    correlation_key: Annotated[str, typer.Argument()] = "",
    var: Vars = None,
    vars_file: VarsFile = None,
    ttl_seconds: Annotated[int, typer.Option(help="how long the message waits for a subscriber")] = 3600,
    message_id: Annotated[str | None, typer.Option(help="makes publishing idempotent")] = None,
) -> None:
    """Publish a message (starts instances at message start events, or is caught)."""
    try:
        result = _engine().publish_message(
            name, correlation_key, _parse_vars(var, vars_file),
            time_to_live=timedelta(seconds=ttl_seconds), message_id=message_id,
        )
    except USER_ERRORS as exc:
        _fail(exc)
    console.print(
        f"message {result.message_key}: correlated to {result.correlated_instances or 'no instance'}"
        + (f", started {result.started_instances}" if result.started_instances else "")
    )


@app.command()
def instances(state: Annotated[str | None, typer.Option(help="ACTIVE, COMPLETED or CANCELED")] = None) -> None:
    """Process instances and the elements they wait in."""
    table = Table("key", "process", "version", "state", "active elements", "started")
    for instance in _engine().instances(state=state):
        table.add_row(
            str(instance.process_instance_key), instance.bpmn_process_id, str(instance.version), instance.state,
            ", ".join(instance.active_elements), instance.started_at.isoformat(timespec="minutes"),
        )
    console.print(table)


@app.command()
def tasks(
    mine: Annotated[str | None, typer.Option("--mine", help="assignee")] = None,
    group: Annotated[str | None, typer.Option("--group", help="candidate group")] = None,
) -> None:
    """Open user tasks, by due date."""
    table = Table("key", "task", "instance", "assignee", "groups", "due")
    for task in _engine().user_tasks(assignee=mine, candidate_group=group):
        table.add_row(
            str(task.user_task_key), task.name or task.element_id, str(task.process_instance_key),
            task.assignee or "-", ", ".join(task.candidate_groups),
            task.due_date.isoformat(timespec="minutes") if task.due_date else "-",
        )
    console.print(table)


@task_app.command("show")
def task_show(key: int) -> None:
    try:
        task = _engine().user_task(key)
    except USER_ERRORS as exc:
        _fail(exc)
    console.print_json(json.dumps({**task.__dict__}, default=str))


@task_app.command("claim")
def task_claim(key: int, assignee: str) -> None:
    try:
        _engine().claim(key, assignee)
    except USER_ERRORS as exc:
        _fail(exc)
    console.print(f"task {key} claimed by {assignee}")


@task_app.command("unclaim")
def task_unclaim(key: int) -> None:
    try:
        _engine().unclaim(key)
    except USER_ERRORS as exc:
        _fail(exc)
    console.print(f"task {key} unclaimed")


@task_app.command("complete")
def task_complete(key: int, var: Vars = None, vars_file: VarsFile = None) -> None:
    """Complete a user task with its form's values (checked against the form like any
    other completion; recorded as completed by the operating-system user); the steps
    that follow run before the command returns."""
    from .cli_access import os_actor

    variables = _parse_vars(var, vars_file)
    actor = os_actor()
    if _zeebe_mode():
        try:
            _engine().complete_user_task(key, variables, actor=actor)
        except USER_ERRORS as exc:
            _fail(exc)
    else:
        _with_app(lambda product: product.engine.complete_user_task(key, variables, actor=actor))
    console.print(f"task {key} completed")


@app.command()
def incidents() -> None:
    """Open incidents."""
    table = Table("key", "instance", "element", "type", "message")
    for incident in _engine().incidents():
        table.add_row(
            str(incident.incident_key), str(incident.process_instance_key), incident.element_id,
            incident.error_type, incident.error_message,
        )
    console.print(table)


@app.command()
def retry(incident_key: int, retries: int = 1) -> None:
    """Resolve an incident after fixing its cause; a failed job gets ``retries``."""
    try:
        _engine().resolve_incident(incident_key, retries=retries)
    except USER_ERRORS as exc:
        _fail(exc)
    console.print(f"incident {incident_key} resolved")


@app.command()
def cancel(instance_key: int) -> None:
    """Cancel a process instance."""
    try:
        _engine().cancel_instance(instance_key)
    except USER_ERRORS as exc:
        _fail(exc)
    console.print(f"instance {instance_key} canceled")


def main() -> None:  # pragma: no cover - console entry
    app()


# ------------------------------------------------------------------ the PEP commands
event_app = typer.Typer(no_args_is_help=True, help="Tell the process what happened to a child.")
app.add_typer(event_app, name="event")


def _with_app(work) -> None:
    """Open the product, do ``work(app)``, then (embedded) run every job and timer that
    became due, so a command leaves the process where it should be. With
    PEP_ENGINE=zeebe the messages go to Camunda 8, whose workers run the process."""
    if _zeebe_mode():
        from .zeebe.client import open_zeebe_app as opener
    else:
        from .app import open_app as opener

    async def main() -> None:
        async with opener(_settings(), SystemClock()) as product:
            work(product)
            await product.runtime.run_until_idle()

    try:
        asyncio.run(main())
    except USER_ERRORS as exc:
        _fail(exc)


def _started(result) -> str:
    if _zeebe_mode():
        return f"(message {result.message_key} published to Zeebe)"
    return str(result.started_instances or "(already running)")


@app.command("import")
def import_(
    kind: Annotated[str, typer.Argument(help="children, settings, staff, contacts, term-dates, or 'all' for a folder")],
    path: Path,
    actor: Annotated[str | None, typer.Option(help="who is importing (audit; default: the operating-system user)")] = None,
) -> None:
    """Import the council's CSV exports; a file with a bad row imports nothing."""
    from .cli_access import os_actor

    actor = f"{os_actor()} for {actor}"[:40] if actor else os_actor()
    from .app import open_records
    from .importer import import_csv, import_directory

    try:
        store = open_records(_settings(), SystemClock())
        summaries = import_directory(store, path, actor) if kind == "all" else [import_csv(store, kind, path, actor)]
    except USER_ERRORS as exc:
        _fail(exc)
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
        from .cli_access import follow_allocations

        try:
            follow_allocations(changed, "allocation changed by an import")
        except USER_ERRORS as exc:
            _fail(exc)
    if failed:
        raise typer.Exit(code=1)


def _events(product):
    """The council's events on the product this command opened (embedded or Camunda 8)."""
    from .events import CouncilEvents

    return CouncilEvents(product.store, product.engine, product.casework, product.clock, zeebe=_zeebe_mode())


def _report(outcome) -> None:
    console.print(outcome.summary, highlight=False)
    for warning in outcome.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)


def _day(value: str | None, what: str):
    from .domain.dates import parse_day

    return parse_day(value, what) if value else None


OnDate = Annotated[str | None, typer.Option("--on", help="the date (YYYY-MM-DD or DD/MM/YYYY; default today)")]


@event_app.command("looked-after")
def event_looked_after(
    child_id: str,
    emergency: Annotated[bool, typer.Option("--emergency", help="1b: entered care in an emergency")] = False,
    on: OnDate = None,
    actor: Annotated[str, typer.Option(help="who records it (audit)")] = "cli",
) -> None:
    """1a/1b: a child becomes looked after; the PEP starts."""
    _with_app(lambda product: _report(_events(product).looked_after(
        child_id, _day(on, "the date of entry into care"), emergency=emergency, actor=actor)))


@event_app.command("already-in-care")
def event_already_in_care(child_id: str, actor: Annotated[str, typer.Option(help="who records it (audit)")] = "cli") -> None:
    """A child already in care when the council starts: the termly cycle begins."""
    _with_app(lambda product: _report(_events(product).already_in_care(child_id, actor=actor)))


@event_app.command("left-care")
def event_left_care(
    child_id: str, on: OnDate = None,
    reason: Annotated[str, typer.Option(help="why (kept in the records, never in the process)")] = "left care",
    actor: Annotated[str, typer.Option(help="who records it (audit)")] = "cli",
) -> None:
    """The child left care: the cycle ends wherever it is."""
    _with_app(lambda product: _report(_events(product).left_care(
        child_id, _day(on, "the date of leaving care"), reason=reason, actor=actor)))


@event_app.command("setting-changed")
def event_setting_changed(
    child_id: str, setting_id: str, on: OnDate = None,
    actor: Annotated[str, typer.Option(help="who records it (audit)")] = "cli",
) -> None:
    """A change of education setting: a new PEP within 10 working days."""
    _with_app(lambda product: _report(_events(product).setting_changed(
        child_id, setting_id, _day(on, "the date of the change of school"), actor=actor)))


@event_app.command("meeting-changed")
def event_meeting_changed(
    pep_id: str,
    change: Annotated[str, typer.Option("--change", help="moved, cancelled or not-held")],
    to: Annotated[str, typer.Option("--to", help="the rearranged meeting: DD/MM/YYYY HH:MM (or YYYY-MM-DD HH:MM)")],
    reason: Annotated[str, typer.Option(help="why (kept in the records, never in the process)")],
    actor: Annotated[str, typer.Option(help="who records it (audit)")] = "cli",
) -> None:
    """A PEP meeting was moved, cancelled or not held: the process waits for the new time."""
    from .casework import at_local

    parts = to.strip().split()
    if len(parts) != 2 or not re.fullmatch(r"\d{1,2}:\d{2}", parts[1]):
        _fail(ValueError(f"--to {to!r}: write the new meeting as DD/MM/YYYY HH:MM, for example 03/12/2026 14:30"))
    hour, minute = (int(x) for x in parts[1].split(":"))
    if hour > 23 or minute > 59:
        _fail(ValueError(f"--to {to!r}: {parts[1]} is not a time of day"))
    from .domain.dates import InvalidDate

    try:
        day = _day(parts[0], "the date of the rearranged meeting")
    except InvalidDate as exc:
        _fail(exc)
    _with_app(lambda product: _report(_events(product).meeting_changed(
        pep_id, change, at_local(day, hour, minute), reason=reason, actor=actor)))


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
    from .corrections import correct_final_pep

    changes = _parse_vars(set_, None)

    async def main() -> None:
        from .app import open_app

        async with open_app(_settings(), SystemClock()) as product:
            version = await correct_final_pep(product.casework, pep_id, section, changes, reason=reason, actor=actor)
            await product.runtime.run_until_idle()
            console.print(f"{pep_id}: corrected as version {version} of the final PEP; sent to every attendee")

    try:
        asyncio.run(main())
    except USER_ERRORS as exc:
        _fail(exc)


@app.command("return-comments")
def return_comments_(
    pep_id: str,
    text: Annotated[str, typer.Option(help="what business support should change (kept in the PEP record)")],
) -> None:
    """When sending a typed-up PEP back: say in words what to change (the task's form
    carries only the reason's code)."""
    from .app import open_records
    from .cli_access import os_actor
    from .review_notes import record_return_comments

    try:
        store = open_records(_settings(), SystemClock())
        record_return_comments(store, SystemClock(), pep_id, text, actor=os_actor())
    except USER_ERRORS as exc:
        _fail(exc)
    console.print(f"{pep_id}: comments kept for business support")


@app.command()
def status(child_id: str) -> None:
    """A child's PEPs, their status and dates, documents and e-mails."""
    from .app import open_records

    try:
        store = open_records(_settings(), SystemClock())
        child = store.child(child_id)
        peps = store.peps_for(child_id)
    except USER_ERRORS as exc:
        _fail(exc)
    from .domain.words import local_time, status_words

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


@app.command()
def run() -> None:
    """Run the embedded engine's workers and timers until interrupted (Ctrl-C)."""
    from .app import open_app

    async def main() -> None:
        async with open_app(_settings(), SystemClock()) as embedded:
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

    from .demo import END, run_demo

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


from .simulate.cli import simulate as _simulate  # noqa: E402 - its own module (cli.py is full)

app.command("simulate")(_simulate)


# ------------------------------------------------------------------ mail
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
    from .app import open_records
    from .domain.enums import MailStatus

    try:
        store = open_records(_settings(), SystemClock())
        if pep_id is not None:
            store.pep(pep_id)
        summaries = store.mail_summaries(pep_id)
    except USER_ERRORS as exc:
        _fail(exc)
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

    _with_app(work)
    from .app import open_records

    summary = open_records(_settings(), SystemClock()).mail_summary(mail_id)
    last = summary.status_history[-1]
    console.print(f"mail {mail_id}: {summary.status.value} ({last.get('detail') or ''})")
    if summary.status.value == "failed":
        raise typer.Exit(code=1)


# ---------------------------------------------------------------- web (issue 6)
user_app = typer.Typer(no_args_is_help=True, help="Web accounts.")
app.add_typer(user_app, name="user")
from .cli_access import register as _register_access  # noqa: E402 - allocations, account lifecycle
from .cli_returns import register as _register_returns  # noqa: E402 - returned forms and their review

_register_access(app, user_app, USER_ERRORS)
_register_returns(app)
users_app = typer.Typer(no_args_is_help=True, help="Web accounts in bulk (development).")
app.add_typer(users_app, name="users")


def _accounts():
    from .app import open_records
    from .web.accounts import Accounts

    settings = _settings()
    store = open_records(settings, SystemClock())
    return Accounts(settings.resolved_database_url, SystemClock()), store


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
    from .web.server import serve
    from .web.settings import WebSettings

    web_settings = WebSettings()
    if host:
        web_settings.host = host
    if port:
        web_settings.port = port
    try:
        asyncio.run(serve(
            _settings(), web_settings, announce=console.print,
            zeebe_gateway=zeebe_address if zeebe_gateway else None, zeebe_rest=zeebe_rest_address,
            in_process_workers=not no_workers,
        ))
    except KeyboardInterrupt:
        console.print("stopped")
    except USER_ERRORS as exc:
        _fail(exc)


@user_app.command("add")
def user_add(
    username: str,
    staff_id: Annotated[str | None, typer.Option(help="the staff record whose roles the account has")] = None,
    role: Annotated[list[str] | None, typer.Option(help="an extra role (e.g. administrator before staff are imported)")] = None,
    sso_only: Annotated[bool, typer.Option(help="no password: single sign-on only")] = False,
) -> None:
    """Add a web account (asks for the password)."""
    from .domain.enums import StaffRole
    from .web.accounts import AccountError

    accounts, store = _accounts()
    try:
        for r in role or []:
            StaffRole(r)
        if staff_id:
            store.staff(staff_id)
        password = None if sso_only else typer.prompt("password (at least 12 characters)", hide_input=True, confirmation_prompt=True)
        account = accounts.add(username, password=password, staff_id=staff_id, extra_roles=tuple(role or ()))
        console.print(f"account {account.username} (id {account.id}) created")
    except (AccountError, *USER_ERRORS) as exc:
        _fail(exc)
    finally:
        accounts.close()
        store.close()


@user_app.command("unlock")
def user_unlock(username: str) -> None:
    """Unlock an account locked after repeated failed sign-ins."""
    accounts, store = _accounts()
    try:
        account = accounts.by_username(username)
        if account is None:
            _fail(LookupError(f"no account {username}"))
        accounts.unlock(account.id)
        console.print(f"{account.username} unlocked")
    finally:
        accounts.close()
        store.close()


@users_app.command("seed-sample")
def users_seed_sample() -> None:
    """Development only: an account for every staff record (username = staff id in lower case)."""
    import secrets

    from .web.seed import seed_sample_accounts

    if _settings().environment == "production":
        _fail(ValueError("seed-sample is for development only"))
    accounts, store = _accounts()
    try:
        password = secrets.token_urlsafe(12)
        made = seed_sample_accounts(accounts, store, password)
        console.print(f"{len(made)} accounts: {', '.join(made) or '(none new)'}")
        if made:
            console.print(f"development password for all of them: {password}")
    finally:
        accounts.close()
        store.close()


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
    from .casework import LONDON
    from .domain.meeting_dates import long_date

    from .cli_access import os_actor

    actor = os_actor()
    from .app import open_records
    from .casework import Casework, casework_config

    settings = _settings()
    try:
        store = open_records(settings, SystemClock())
        casework = Casework(store, None, SystemClock(), casework_config(settings))
        secret, spelled, found = casework.give_password(pep_id, kind, version, actor=actor, to=to)
    except USER_ERRORS as exc:
        _fail(exc)
    console.print(f"{pep_id} {kind} v{found}: [bold]{secret}[/bold]")
    console.print(spelled)
    # every version opens with its own password: a school may return an earlier one
    versions = store.documents(pep_id, kind)
    if len(versions) > 1:
        console.print(f"versions of the {kind} (give another with --version N):")
        for document in reversed(versions):
            made = document.created_at.astimezone(LONDON).date()
            console.print(f"  v{document.version}: made on {long_date(made)}{' (latest)' if document is versions[-1] else ''}")

from .quality_cli import ppp_app, quality_app  # noqa: E402 - their own module (cli.py is full)

app.add_typer(quality_app, name="quality")
app.add_typer(ppp_app, name="ppp")
