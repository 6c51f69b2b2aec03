"""Sizes checked before anything is read: a file's size before its bytes."""

from __future__ import annotations

from pathlib import Path

MAX_RETURNED_FORM = 10 * 1024 * 1024  # a returned Word form (as the web's upload)


def read_limited(path: Path, limit: int, what: str) -> bytes:
    """The bytes of ``path``, refused (``ValueError``) before reading when it is larger
    than ``limit``; a file that grows while read is cut off at ``limit`` + 1 and refused."""
    size = path.stat().st_size
    if size > limit:
        raise ValueError(f"{path} is {size // 1024} KB; {what} can be at most {limit // 1024} KB")
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{path} is larger than {limit // 1024} KB, the most {what} can be")
    return data
