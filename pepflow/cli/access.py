"""``pep`` commands for who is allocated and who may act: allocations (open tasks
follow, audited), web account lifecycle (disable, enable, reset password, end
sessions; audited). Registered on the main app by :mod:`pepflow.cli`.

The CLI runs on the server as an operating-system user; every change it makes is
audited as that user (``os:<name>``), never as a name typed on the command line.
"""

from __future__ import annotations

import getpass
from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from .common import console, fail as _fail


def os_actor() -> str:
    """Who runs the command, for the audit log: the operating-system user."""
    try:
        return f"os:{getpass.getuser()}"[:40]
    except Exception:  # noqa: BLE001 - no user name (a container without passwd): the uid
        import os

        return f"os:uid-{os.getuid()}"



def follow_allocations(child_ids, reason: str) -> int:
    """Open tasks of these children follow their allocation now (embedded engine)."""
    if not child_ids:
        return 0
    from ..app import open_engine, open_records
    from ..clock import SystemClock
    from ..config import AppSettings
    from ..handover import Handover

    settings = AppSettings()
    clock = SystemClock()
    store = open_records(settings, clock)
    engine = open_engine(settings, clock, deploy=False)
    try:
        moves = Handover(store, engine, clock).follow(child_ids, actor=os_actor(), reason=reason)
    finally:
        engine.close()
        store.close()
    for move in moves:
        console.print(f"{move.child_id}: task {move.user_task_key} ({move.element_id}) now with "
                      f"{move.assignee[1] or ', '.join(move.candidate_groups[1])}")
    return len(moves)


def register(app: typer.Typer, user_app: typer.Typer, user_errors: tuple) -> None:
    @app.command()
    def allocate(
        child_id: str,
        staff_id: Annotated[str | None, typer.Argument(help="the staff member; leave out with --end")] = None,
        role: Annotated[str, typer.Option(help="social-worker, leaving-care-worker or personal-adviser")] = "social-worker",
        starts_on: Annotated[str | None, typer.Option("--from", help="YYYY-MM-DD (default today); a later date plans a handover")] = None,
        end: Annotated[bool, typer.Option("--end", help="nobody in the role from --from (tasks go to the team manager)")] = False,
    ) -> None:
        """Allocate a worker to a child (or end the role); open PEP tasks follow, audited."""
        from ..app import open_records
        from ..casework import local_date
        from ..clock import SystemClock
        from ..config import AppSettings
        from ..handover import change_allocation

        try:
            clock = SystemClock()
            store = open_records(AppSettings(), clock)
            day = date.fromisoformat(starts_on) if starts_on else local_date(clock.now())
            if not end and not staff_id:
                raise ValueError("name the staff member, or --end the role")
            change_allocation(store, child_id, role, None if end else staff_id, on=day, actor=os_actor(),
                              reason="pep allocate --end" if end else "pep allocate")
            store.close()
            moved = follow_allocations([child_id], "allocation changed (pep allocate)")
        except user_errors as exc:
            _fail(exc)
        console.print(f"{child_id}: {role} {'ended' if end else staff_id} from {day}; {moved} open task(s) moved")

    @app.command()
    def allocations(child_id: str) -> None:
        """A child's allocated workers over time, and who owns the PEP today."""
        from ..app import open_records
        from ..casework import local_date
        from ..clock import SystemClock
        from ..config import AppSettings
        from ..ownership import assignment_for

        try:
            clock = SystemClock()
            store = open_records(AppSettings(), clock)
            rows = store.allocations.for_child(child_id)
            assignment = assignment_for(store, child_id, local_date(clock.now()))
        except user_errors as exc:
            _fail(exc)
        table = Table("role", "staff", "from", "to")
        for a in rows:
            table.add_row(a.role.value, a.staff_id, a.starts_on.isoformat(), a.ends_on.isoformat() if a.ends_on else "-")
        console.print(table)
        console.print(f"PEP owner today: {assignment.role.value} "
                      f"{assignment.staff_id or '(nobody: with ' + ', '.join(assignment.candidate_groups) + ')'}")
        if assignment.note:
            console.print(f"[yellow]{assignment.note}[/yellow]")

    def _account(accounts, username: str):
        account = accounts.by_username(username)
        if account is None:
            raise LookupError(f"no account {username}")
        return account

    def _audit(store, username: str, action: str, diff: dict | None = None) -> None:
        store.record_event("account", username, action, actor=os_actor(), details=diff or {})

    def _accounts():
        from ..app import open_records
        from ..clock import SystemClock
        from ..config import AppSettings
        from ..web.accounts import Accounts

        settings = AppSettings()
        return Accounts(settings.resolved_database_url, SystemClock()), open_records(settings, SystemClock())

    @user_app.command("disable")
    def user_disable(username: str) -> None:
        """Disable an account: no sign-in, every session ends now."""
        accounts, store = _accounts()
        try:
            account = _account(accounts, username)
            accounts.set_active(account.id, False)
            _audit(store, account.username, "disable", {"active": [True, False]})
        except user_errors as exc:
            _fail(exc)
        finally:
            accounts.close()
            store.close()
        console.print(f"{username} disabled; its sessions have ended")

    @user_app.command("enable")
    def user_enable(username: str) -> None:
        """Enable a disabled account again."""
        accounts, store = _accounts()
        try:
            account = _account(accounts, username)
            accounts.set_active(account.id, True)
            _audit(store, account.username, "enable", {"active": [account.active, True]})
        except user_errors as exc:
            _fail(exc)
        finally:
            accounts.close()
            store.close()
        console.print(f"{username} enabled")

    @user_app.command("end-sessions")
    def user_end_sessions(username: str) -> None:
        """End every session of an account (a lost laptop, a shared screen)."""
        accounts, store = _accounts()
        try:
            account = _account(accounts, username)
            accounts.end_sessions(account.id)
            _audit(store, account.username, "revoke-sessions")
        except user_errors as exc:
            _fail(exc)
        finally:
            accounts.close()
            store.close()
        console.print(f"every session of {username} has ended")

    @user_app.command("reset-password")
    def user_reset_password(username: str) -> None:
        """A one-time reset code (24 hours) to give the person by phone or in person; they
        set a new password at /reset-password. Earlier codes stop working."""
        from ..web.accounts import AccountError

        accounts, store = _accounts()
        try:
            account = _account(accounts, username)
            code = accounts.issue_reset(account.id, created_by=os_actor())
            _audit(store, account.username, "password-reset-issued")
        except (AccountError, *user_errors) as exc:
            _fail(exc)
        finally:
            accounts.close()
            store.close()
        console.print(f"one-time reset code for {username} (24 hours; give it by phone or in person, never by e-mail):")
        console.print(f"[bold]{code}[/bold]  - or the link <address>/reset-password#{code}")
