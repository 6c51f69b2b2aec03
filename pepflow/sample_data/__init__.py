"""Fictional sample records for demos and tests.

Every person, school and address here is invented; e-mail addresses use the reserved
``example.org`` / ``example.net`` domains. The files cover every PEP variant:

- C-0001 Poppy, Year 5, planned entry (1a), school-age, north
- C-0002 Toby, Year 9, emergency entry (1b), school-age, south
- C-0003 Maisie, 16, Year 12 at college, leaving care worker, post-16
- C-0004 Oscar, 18 on 3 Sep 2026, Year 13 at college, personal adviser, post-16
- C-0005 Wren, under 2, no early-years setting: health visitor, foster carers and one
  parent flagged to receive the PEP (the other parent is not)
- C-0006 Jasper, Year 3, changes school on 4 Jan 2027 (Oakridge -> Kestrel Park)
- C-0007 Ivy, 3, at a nursery, early-years
- C-0008 Rory, turns 16 on 20 Jan 2027: his social worker hands his PEP over to the
  leaving care worker allocated from that day (``allocations.csv``)

Each child's workers are allocations (social worker, leaving care worker, personal
adviser; ``pepflow.store.allocations``), each staff member has the login the council's
Identity knows them by (their e-mail here), and each locality has a team manager
(``team-managers-north``/``-south``) who gets a PEP's tasks while no worker of the
role the child's age needs is allocated.

Two localities (north, south) with business support teams ``business-support-north``
and ``business-support-south``, a Virtual School mailbox, a PEP co-ordinator, council
term dates for 2026/27 and 2027/28 and Riverbend College's own 2026/27 dates.
"""

from __future__ import annotations

from pathlib import Path

SAMPLE_DATA_DIR = Path(__file__).resolve().parent


def sample_file(kind: str) -> Path:
    """The sample CSV of an import kind (``staff``, ``settings``, ``term-dates``...)."""
    return SAMPLE_DATA_DIR / f"{kind}.csv"


def load_sample_data(store, actor: str = "sample-data"):
    """Import every sample file into ``store`` in dependency order; returns the summaries."""
    from pepflow.importer import import_directory

    return import_directory(store, SAMPLE_DATA_DIR, actor)
