"""``pep``: the command line over the engine interface.

Every command opens the engine named by ``PEP_DATABASE_URL`` (default: a SQLite file
under ``var/``), does one thing and prints the result; errors are one clear line
and a non-zero exit.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from .clock import SystemClock
from .engine.errors import EngineError
from .engine.runtime import Engine

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Personal Education Plans, run as a process.")
task_app = typer.Typer(no_args_is_help=True, help="Work one user task.")
app.add_typer(task_app, name="task")
console = Console()
err = Console(stderr=True)

DEFAULT_DATABASE_URL = "sqlite:///var/pep.sqlite3"


def _engine() -> Engine:
    url = os.environ.get("PEP_DATABASE_URL", DEFAULT_DATABASE_URL)
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return Engine(url, SystemClock())


def _parse_vars(pairs: list[str] | None, file: Path | None) -> dict[str, Any]:
    variables: dict[str, Any] = {}
    if file is not None:
        variables.update(json.loads(file.read_text()))
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
def deploy(paths: Annotated[list[Path], typer.Argument(help=".bpmn/.form files or folders")]) -> None:
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
        deployment = _engine().deploy(resources)
    except EngineError as exc:
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
    except EngineError as exc:
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
    except EngineError as exc:
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
    except EngineError as exc:
        _fail(exc)
    console.print_json(json.dumps({**task.__dict__}, default=str))


@task_app.command("claim")
def task_claim(key: int, assignee: str) -> None:
    try:
        _engine().claim(key, assignee)
    except EngineError as exc:
        _fail(exc)
    console.print(f"task {key} claimed by {assignee}")


@task_app.command("unclaim")
def task_unclaim(key: int) -> None:
    try:
        _engine().unclaim(key)
    except EngineError as exc:
        _fail(exc)
    console.print(f"task {key} unclaimed")


@task_app.command("complete")
def task_complete(key: int, var: Vars = None, vars_file: VarsFile = None, actor: str | None = None) -> None:
    try:
        _engine().complete_user_task(key, _parse_vars(var, vars_file), actor=actor)
    except EngineError as exc:
        _fail(exc)
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
    except EngineError as exc:
        _fail(exc)
    console.print(f"incident {incident_key} resolved")


@app.command()
def cancel(instance_key: int) -> None:
    """Cancel a process instance."""
    try:
        _engine().cancel_instance(instance_key)
    except EngineError as exc:
        _fail(exc)
    console.print(f"instance {instance_key} canceled")


def main() -> None:  # pragma: no cover - console entry
    app()
