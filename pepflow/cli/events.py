"""``pep event ...``: tell the process what happened to a child, through the council's
events (:class:`pepflow.events.CouncilEvents`, the same the web's ``/events`` uses)."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from .common import app, council_events, err, console, fail, with_app

event_app = typer.Typer(no_args_is_help=True, help="Tell the process what happened to a child.")
app.add_typer(event_app, name="event")

OnDate = Annotated[str | None, typer.Option("--on", help="the date (YYYY-MM-DD or DD/MM/YYYY; default today)")]
Actor = Annotated[str, typer.Option(help="who records it (audit)")]


def report(outcome) -> None:
    console.print(outcome.summary, highlight=False)
    for warning in outcome.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)


def day(value: str | None, what: str):
    from ..domain.dates import parse_day

    return parse_day(value, what) if value else None


@event_app.command("looked-after")
def event_looked_after(
    child_id: str,
    emergency: Annotated[bool, typer.Option("--emergency", help="1b: entered care in an emergency")] = False,
    on: OnDate = None,
    actor: Actor = "cli",
) -> None:
    """1a/1b: a child becomes looked after; the PEP starts."""
    with_app(lambda product: report(council_events(product).looked_after(
        child_id, day(on, "the date of entry into care"), emergency=emergency, actor=actor)))


@event_app.command("already-in-care")
def event_already_in_care(child_id: str, actor: Actor = "cli") -> None:
    """A child already in care when the council starts: the termly cycle begins."""
    with_app(lambda product: report(council_events(product).already_in_care(child_id, actor=actor)))


@event_app.command("left-care")
def event_left_care(
    child_id: str, on: OnDate = None,
    reason: Annotated[str, typer.Option(help="why (kept in the records, never in the process)")] = "left care",
    actor: Actor = "cli",
) -> None:
    """The child left care: the cycle ends wherever it is."""
    with_app(lambda product: report(council_events(product).left_care(
        child_id, day(on, "the date of leaving care"), reason=reason, actor=actor)))


@event_app.command("setting-changed")
def event_setting_changed(child_id: str, setting_id: str, on: OnDate = None, actor: Actor = "cli") -> None:
    """A change of education setting: a new PEP within 10 working days."""
    with_app(lambda product: report(council_events(product).setting_changed(
        child_id, setting_id, day(on, "the date of the change of school"), actor=actor)))


def rearranged_at(to: str):
    """``--to DD/MM/YYYY HH:MM`` as an instant (England's time), or the command fails
    saying how to write it."""
    from ..casework import at_local
    from ..domain.dates import InvalidDate

    parts = to.strip().split()
    if len(parts) != 2 or not re.fullmatch(r"\d{1,2}:\d{2}", parts[1]):
        fail(ValueError(f"--to {to!r}: write the new meeting as DD/MM/YYYY HH:MM, for example 03/12/2026 14:30"))
    hour, minute = (int(x) for x in parts[1].split(":"))
    if hour > 23 or minute > 59:
        fail(ValueError(f"--to {to!r}: {parts[1]} is not a time of day"))
    try:
        on = day(parts[0], "the date of the rearranged meeting")
    except InvalidDate as exc:
        fail(exc)
    return at_local(on, hour, minute)


@event_app.command("meeting-changed")
def event_meeting_changed(
    pep_id: str,
    change: Annotated[str, typer.Option("--change", help="moved, cancelled or not-held")],
    to: Annotated[str, typer.Option("--to", help="the rearranged meeting: DD/MM/YYYY HH:MM (or YYYY-MM-DD HH:MM)")],
    reason: Annotated[str, typer.Option(help="why (kept in the records, never in the process)")],
    actor: Actor = "cli",
) -> None:
    """A PEP meeting was moved, cancelled or not held: the process waits for the new time."""
    at = rearranged_at(to)
    with_app(lambda product: report(council_events(product).meeting_changed(pep_id, change, at, reason=reason, actor=actor)))
