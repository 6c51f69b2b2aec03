"""Error text for places many people read: incidents (Operate, the operations view)
and logs. They carry codes and references - the exception's type, the element, record
ids, dates - never what someone submitted or typed: a quoted value in an exception's
message (Python and pydantic quote what they were given) is kept only when it is a
reference (an id with a digit, a date), otherwise replaced by ``'…'``.
"""

from __future__ import annotations

import re

_QUOTED = re.compile(r"'([^'\n]{0,2000})'|\"([^\"\n]{0,2000})\"")
_REFERENCE = re.compile(
    r"^(?=[^\s]*\d)[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$"  # C-0001, PEP-C-0001-2026-AUT, ES-0002, keys
    r"|^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$"  # dates and date-times
    r"|^[a-z0-9]+(-[a-z0-9]+)+$"  # codes: error codes, task types, kebab-case values
    r"|^[A-Za-z][A-Za-z0-9]*(Task|Event|Gateway|SubProcess)$"  # element ids
)
_PYDANTIC_INPUT = re.compile(r"input_value=(?:'[^']*'|\"[^\"]*\"|[^,\]\n]*)")
LIMIT = 500


def safe_text(text: str, limit: int = LIMIT) -> str:
    def keep(match: re.Match[str]) -> str:
        inner = match.group(1) if match.group(1) is not None else match.group(2)
        return match.group(0) if inner and _REFERENCE.match(inner) else "'…'"

    text = _PYDANTIC_INPUT.sub("input_value=…", str(text))
    text = _QUOTED.sub(keep, text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def safe_error(exc: BaseException) -> str:
    """``Type: message`` with anything submitted withheld."""
    return f"{type(exc).__name__}: {safe_text(str(exc))}"
