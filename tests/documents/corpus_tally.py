"""The returns corpus' tally, printed at the end of the test run (see conftest.py)."""

from __future__ import annotations

OUTCOMES: dict[str, str] = {}  # case -> "read" | "flagged" | "lost"


def record(case: str, outcome: str) -> None:
    OUTCOMES[case] = outcome


def summary() -> str | None:
    if not OUTCOMES:
        return None
    counts = {k: sum(1 for v in OUTCOMES.values() if v == k) for k in ("read", "flagged", "lost")}
    return f"{len(OUTCOMES)} cases, {counts['read']} read, {counts['flagged']} flagged, {counts['lost']} lost"
