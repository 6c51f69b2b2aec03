"""``pep`` commands over the engine interface: deploy, start, publish, instances, user
tasks, incidents, cancel."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .common import USER_ERRORS, Vars, VarsFile, app, console, engine, fail, parse_vars, with_app, zeebe_mode

task_app = typer.Typer(no_args_is_help=True, help="Work one user task.")
app.add_typer(task_app, name="task")


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
            fail(FileNotFoundError(f"{path} does not exist"))
    try:
        if zeebe:
            from ..zeebe.client import ZeebeEngine

            with ZeebeEngine() as cluster:
                deployment = cluster.deploy(resources)
        else:
            deployment = engine().deploy(resources)
    except USER_ERRORS as exc:
        fail(exc)
    for process in deployment.processes:
        console.print(f"process [bold]{process.bpmn_process_id}[/bold] version {process.version} ({process.resource_name})")
    for form in deployment.forms:
        console.print(f"form [bold]{form.form_id}[/bold] version {form.version}")


@app.command()
def start(process_id: str, var: Vars = None, vars_file: VarsFile = None) -> None:
    """Start an instance at a none start event."""
    try:
        key = engine().create_instance(process_id, parse_vars(var, vars_file))
    except USER_ERRORS as exc:
        fail(exc)
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
        result = engine().publish_message(
            name, correlation_key, parse_vars(var, vars_file),
            time_to_live=timedelta(seconds=ttl_seconds), message_id=message_id,
        )
    except USER_ERRORS as exc:
        fail(exc)
    console.print(
        f"message {result.message_key}: correlated to {result.correlated_instances or 'no instance'}"
        + (f", started {result.started_instances}" if result.started_instances else "")
    )


@app.command()
def instances(state: Annotated[str | None, typer.Option(help="ACTIVE, COMPLETED or CANCELED")] = None) -> None:
    """Process instances and the elements they wait in."""
    table = Table("key", "process", "version", "state", "active elements", "started")
    for instance in engine().instances(state=state):
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
    for task in engine().user_tasks(assignee=mine, candidate_group=group):
        table.add_row(
            str(task.user_task_key), task.name or task.element_id, str(task.process_instance_key),
            task.assignee or "-", ", ".join(task.candidate_groups),
            task.due_date.isoformat(timespec="minutes") if task.due_date else "-",
        )
    console.print(table)


@task_app.command("show")
def task_show(key: int) -> None:
    try:
        task = engine().user_task(key)
    except USER_ERRORS as exc:
        fail(exc)
    console.print_json(json.dumps({**task.__dict__}, default=str))


@task_app.command("claim")
def task_claim(key: int, assignee: str) -> None:
    try:
        engine().claim(key, assignee)
    except USER_ERRORS as exc:
        fail(exc)
    console.print(f"task {key} claimed by {assignee}")


@task_app.command("unclaim")
def task_unclaim(key: int) -> None:
    try:
        engine().unclaim(key)
    except USER_ERRORS as exc:
        fail(exc)
    console.print(f"task {key} unclaimed")


@task_app.command("complete")
def task_complete(key: int, var: Vars = None, vars_file: VarsFile = None) -> None:
    """Complete a user task with its form's values (checked against the form like any
    other completion; recorded as completed by the operating-system user); the steps
    that follow run before the command returns."""
    from .access import os_actor

    variables = parse_vars(var, vars_file)
    actor = os_actor()
    if zeebe_mode():
        try:
            engine().complete_user_task(key, variables, actor=actor)
        except USER_ERRORS as exc:
            fail(exc)
    else:
        with_app(lambda product: product.engine.complete_user_task(key, variables, actor=actor))
    console.print(f"task {key} completed")


@app.command()
def incidents() -> None:
    """Open incidents."""
    table = Table("key", "instance", "element", "type", "message")
    for incident in engine().incidents():
        table.add_row(
            str(incident.incident_key), str(incident.process_instance_key), incident.element_id,
            incident.error_type, incident.error_message,
        )
    console.print(table)


@app.command()
def retry(incident_key: int, retries: int = 1) -> None:
    """Resolve an incident after fixing its cause; a failed job gets ``retries``."""
    try:
        engine().resolve_incident(incident_key, retries=retries)
    except USER_ERRORS as exc:
        fail(exc)
    console.print(f"incident {incident_key} resolved")


@app.command()
def cancel(instance_key: int) -> None:
    """Cancel a process instance."""
    try:
        engine().cancel_instance(instance_key)
    except USER_ERRORS as exc:
        fail(exc)
    console.print(f"instance {instance_key} canceled")
