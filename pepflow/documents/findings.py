"""What the read-back of a returned form found that is not simply an answer read.

Nothing a school writes may be lost without a word (issue 12): every piece of text in a
returned document is either read into a field or reported here, with where it was and
the text itself, verbatim. Business support reviews these before anything is accepted
(`ReviewReturnedFormTask`); the CLI prints them and exits non-zero unless told to accept.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

FindingKind = Literal[
    "outside-answers",    # text typed outside any answer box (below an answer, between sections, an added row)
    "comment",            # a Word/LibreOffice comment
    "picture",            # a pasted picture, chart or drawing
    "unresolved-change",  # a tracked change that could not be resolved (e.g. a move read twice)
    "unparsed",           # an answer that does not parse as its field's type ("ninety", "94,5")
    "ambiguous",          # an answer that could mean more than one thing ("No EHCP - on SEN Support" in a plan field)
    "over-length",        # an answer longer than the form allows: kept in full here, never cut
    "blank",              # the form came back with no answers at all
]


class ReadFinding(BaseModel):
    """One thing business support must look at before the return is accepted."""

    model_config = ConfigDict(frozen=True)

    kind: FindingKind
    where: str
    """Where it was, in the school's words: "Attendance, below the answer", "after section 5"."""
    text: str
    """What the school wrote, verbatim (never truncated)."""
    reason: str
    """Why it was not simply read: what a person needs to decide."""
    field: str | None = None
    """The field it belongs to or is nearest, when there is one (short field name)."""
