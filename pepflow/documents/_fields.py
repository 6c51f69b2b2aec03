"""The fields of a PEP form: one registry shared by the renderer, the reader, the final
PEP and the web page.

The building blocks are in ``_spec``, the form's shape (phase, initial or termly, on a
roll or not, year-dependent parts) in ``_shape`` and the catalogue of sections in
``_sections`` (forms issued before it: ``_sections_v1``).
"""

from __future__ import annotations

from pepflow.documents._sections import SUBJECT_ROWS, meeting_sections, school_sections
from pepflow.documents._shape import LAYOUT_V1, LAYOUT_V2, FormShape, shape_of, year_group
from pepflow.documents._spec import (
    ACTION_ROWS,
    ATTENDEE_ROWS,
    NEXT_MEETING_ROWS,
    NO_GLYPHS,
    TARGET_ROWS,
    YES_GLYPHS,
    FieldSpec,
    Grid,
    Kind,
    Row,
    Section,
    all_fields,
    grids,
)

__all__ = [
    "ACTION_ROWS", "ATTENDEE_ROWS", "LAYOUT_V1", "LAYOUT_V2", "NEXT_MEETING_ROWS", "NO_GLYPHS", "SUBJECT_ROWS",
    "TARGET_ROWS", "YES_GLYPHS", "FieldSpec", "FormShape", "Grid", "Kind", "Row", "Section", "all_fields", "grids",
    "meeting_sections", "school_sections", "shape_of", "year_group",
]
