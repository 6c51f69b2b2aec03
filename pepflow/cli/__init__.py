"""``pep``: the command line over the engine interface and the product's services.

Every command opens the engine named by ``PEP_DATABASE_URL`` (default: a SQLite file
under ``var/``), does one thing and prints the result; errors are one clear line
and a non-zero exit.

The app and what every command shares are in :mod:`.common`; the commands live by concern:
:mod:`.process` (deploy, instances, messages, tasks, incidents), :mod:`.events` (the
council's events), :mod:`.peps` (a child's PEPs, corrections), :mod:`.imports`,
:mod:`.serve` (run, demo, simulate, up), :mod:`.mail` (mail, passwords),
:mod:`.accounts` (web accounts), :mod:`.access` (allocations, account lifecycle),
:mod:`.returns` (returned forms), :mod:`.quality` (quality review, PP+).
"""

from __future__ import annotations

from .common import (  # noqa: F401  (the package's names, as before the split)
    USER_ERRORS, Vars, VarsFile, app, clock, console, council_events, engine, err, fail, parse_vars,
    records, settings, with_app, zeebe_mode,
)


def main() -> None:  # pragma: no cover - console entry
    app()


# the commands, by concern (each module registers its own on ``app``)
from . import process, events, peps, imports, serve, mail, accounts, access, returns, quality  # noqa: E402,I001

access.register(app, accounts.user_app, USER_ERRORS)
returns.register(app)
app.add_typer(quality.quality_app, name="quality")
app.add_typer(quality.ppp_app, name="ppp")
