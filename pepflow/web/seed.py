"""Development helpers: accounts for the sample staff (username = staff id in lower
case, one shared password printed once), for ``pep users seed-sample``, the tests and
the benchmark. Never for a council's real staff."""

from __future__ import annotations

from .accounts import AccountError, Accounts


def seed_sample_accounts(accounts: Accounts, store, password: str) -> list[str]:
    made = []
    for staff in store.all_staff():
        username = staff.id.lower()
        if accounts.by_username(username) is not None:
            continue
        try:
            accounts.add(username, password=password, staff_id=staff.id)
        except AccountError:
            continue
        made.append(username)
    return made
