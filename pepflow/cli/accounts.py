"""``pep user add|unlock`` and ``pep users seed-sample``: web accounts (the lifecycle
commands - disable, enable, sessions, reset - are in :mod:`.access`)."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import USER_ERRORS, app, clock, console, fail, settings

user_app = typer.Typer(no_args_is_help=True, help="Web accounts.")
app.add_typer(user_app, name="user")
users_app = typer.Typer(no_args_is_help=True, help="Web accounts in bulk (development).")
app.add_typer(users_app, name="users")


def _accounts():
    from ..app import open_records
    from ..web.accounts import Accounts

    config = settings()
    store = open_records(config, clock())
    return Accounts(config.resolved_database_url, clock()), store


@user_app.command("add")
def user_add(
    username: str,
    staff_id: Annotated[str | None, typer.Option(help="the staff record whose roles the account has")] = None,
    role: Annotated[list[str] | None, typer.Option(help="an extra role (e.g. administrator before staff are imported)")] = None,
    sso_only: Annotated[bool, typer.Option(help="no password: single sign-on only")] = False,
) -> None:
    """Add a web account (asks for the password)."""
    from ..domain.enums import StaffRole
    from ..web.accounts import AccountError

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
        fail(exc)
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
            fail(LookupError(f"no account {username}"))
        accounts.unlock(account.id)
        console.print(f"{account.username} unlocked")
    finally:
        accounts.close()
        store.close()


@users_app.command("seed-sample")
def users_seed_sample() -> None:
    """Development only: an account for every staff record (username = staff id in lower case)."""
    import secrets

    from ..web.seed import seed_sample_accounts

    if settings().environment == "production":
        fail(ValueError("seed-sample is for development only"))
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
