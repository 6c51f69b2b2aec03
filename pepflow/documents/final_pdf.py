"""The final PEP as a tagged PDF, set directly from its outline (no office suite).

The outline the Word final PEP is written from (:func:`~pepflow.documents.outline.final_outline`)
goes as JSON data into ``templates/final_pep.typ`` and Typst sets it as PDF/UA-1: a
structure tree in reading order (``H1`` for the parts, ``H2`` for the sections,
``Table`` with ``THead``/``TH`` header cells and ``TD`` cells pointing at them, ``P``),
``/Lang (en-GB)``, the title shown in the viewer's title bar, the page furniture
(marking, page numbers) as artifacts, the fonts embedded (subsets). A4, 2 cm margins,
Liberation Sans (Arial's metrics), the Word document's headings, tables and fills.

Typst refuses to write a PDF/UA file that breaks the standard's machine-checkable
rules, so what comes back is tagged or nothing comes back. Never silent: whatever
stops a PDF (Typst missing, the fonts missing, a layout error) raises
:class:`FinalPdfFailed` with the reason, before the final PEP is recorded, so the
job fails and is retried by the engine.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import date, datetime, timezone
from functools import lru_cache
from importlib import resources
from typing import Any

from pepflow.documents.forms import DETAIL_HEADERS, GRID_COLS, QUESTION_HEADERS, TWO_COLS
from pepflow.documents.model import MeetingRecord, PepFormContent, PepIdentity, SchoolReturn
from pepflow.documents.outline import (
    DEFAULT_COUNCIL_NAME,
    MARKING,
    TITLE,
    DetailTable,
    FinalOutline,
    final_outline,
)
from pepflow.documents.view import SectionView

__all__ = ["FONT", "FinalPdf", "FinalPdfFailed", "outline_data", "render_final_pdf"]

FONT = "Liberation Sans"
PDF_STANDARD = "ua-1"


class FinalPdfFailed(RuntimeError):
    """No PDF of a final PEP, and why."""


def _block(title: str, headers: tuple[str, ...], widths: tuple[int, ...], rows: list[dict[str, Any]],
           empty: str = "", level: int = 2) -> dict[str, Any]:
    return {"kind": "section", "title": title, "level": level, "headers": list(headers),
            "widths": list(widths), "rows": rows, "empty": empty}


def _details(table: DetailTable, level: int = 2) -> dict[str, Any]:
    rows = [{"cells": [row.label, row.text], "bold": row.bold} for row in table.rows]
    return _block(table.title, DETAIL_HEADERS, TWO_COLS, rows, level=level)


def _section(view: SectionView) -> dict[str, Any]:
    if view.is_grid:
        headers = ("",) + view.columns
        rows = [{"cells": [str(n), *(cell or "" for cell in cells)], "bold": False}
                for n, cells in enumerate(view.rows, start=1)]
        return _block(view.title, headers, view.widths or GRID_COLS[len(headers)], rows, view.empty)
    rows = [{"cells": [label, value], "bold": False} for label, value in view.rows]
    return _block(view.title, QUESTION_HEADERS, TWO_COLS, rows)


def outline_data(outline: FinalOutline) -> dict[str, Any]:
    """The outline as the template's data: blocks in reading order, every word as text."""
    blocks = [_details(outline.details, level=1)]
    for part in outline.parts:
        blocks.append({"kind": "part", "title": part.title})
        blocks += [_details(b) if isinstance(b, DetailTable) else _section(b) for b in part.blocks]
    return {
        "title": TITLE, "subtitle": outline.subtitle, "correction_note": outline.correction_note,
        "document_title": outline.document_title, "subject": outline.subject, "council": outline.council_name,
        "reference": outline.reference, "marking": MARKING, "closing": outline.closing, "blocks": blocks,
    }


@lru_cache(maxsize=1)
def _template() -> bytes:
    return resources.files("pepflow.documents").joinpath("templates/final_pep.typ").read_bytes()


def _typst() -> Any:
    try:
        import typst
    except ImportError as exc:
        raise FinalPdfFailed(f"Typst is not installed ({exc}): install the product with its dependencies "
                             "(scripts/setup)") from exc
    return typst


class FinalPdf:
    """Makes final PEP PDFs for a composition root, and counts them and their time
    (``pep simulate``'s figures). Up to ``compilers`` Typst compilers (default: one per
    core), each made at first need (its font list read once) and used by one PDF at a
    time, so PDFs asked for together are set side by side rather than queueing for one;
    holds no process or file, so ``close`` has nothing to stop."""

    def __init__(self, compilers: int | None = None) -> None:
        self.compilers = compilers if compilers is not None else (os.cpu_count() or 1)
        if self.compilers < 1:
            raise ValueError("a final PDF needs at least one compiler")
        self._lock = threading.Lock()  # the counts and the list of compilers
        self._free: list[Any] = []
        self._made = 0
        self._turn = threading.Condition(self._lock)
        self.rendered = 0
        self.render_seconds = 0.0
        #: of render_seconds, the time spent waiting for a compiler other PDFs were using
        self.wait_seconds = 0.0

    def _take(self) -> Any:
        """A free compiler, a new one while fewer than ``compilers`` exist, or the next
        one given back; the wait is counted."""
        asked = time.perf_counter()
        with self._turn:
            while not self._free and self._made >= self.compilers:
                self._turn.wait()
            self.wait_seconds += time.perf_counter() - asked
            if self._free:
                return self._free.pop()
            self._made += 1
        try:
            return _typst().Compiler()  # reads the system's fonts once
        except BaseException:
            with self._turn:
                self._made -= 1
                self._turn.notify()
            raise

    def _give_back(self, compiler: Any) -> None:
        with self._turn:
            self._free.append(compiler)
            self._turn.notify()

    def _compile(self, data: dict[str, Any], stamp: date | None) -> bytes:
        moment = datetime(stamp.year, stamp.month, stamp.day, tzinfo=timezone.utc) if stamp else None
        compiler = self._take()
        try:
            pdf, warnings = compiler.compile_with_warnings(
                input=_template(), format="pdf", sys_inputs={"pep": json.dumps(data)},
                pdf_standards=[PDF_STANDARD], timestamp=moment,
            )
        finally:
            self._give_back(compiler)
        if warnings:  # a font Typst replaced with its own, above all: the layout would not be Word's
            said = "; ".join(getattr(w, "message", str(w)) for w in warnings)
            hint = " (install Debian's fonts-liberation2: scripts/setup does)" if FONT.lower() in said.lower() else ""
            raise FinalPdfFailed(f"Typst warned: {said}{hint}")
        return pdf

    def render(
        self,
        identity: PepIdentity,
        content: PepFormContent,
        school_return: SchoolReturn,
        meeting: MeetingRecord,
        version: int,
        *,
        council_name: str = DEFAULT_COUNCIL_NAME,
        finalised_on: date | None = None,
        finalised_by: str | None = None,
        correction_note: str | None = None,
    ) -> bytes:
        """The tagged PDF of the final PEP: the arguments of ``render_final_pep``, the same words.
        Raises :class:`FinalPdfFailed` saying why there is none."""
        started = time.perf_counter()
        outline = final_outline(identity, content, school_return, meeting, version, council_name=council_name,
                                finalised_on=finalised_on, finalised_by=finalised_by,
                                correction_note=correction_note)
        try:
            pdf = self._compile(outline_data(outline), finalised_on)
        except FinalPdfFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - Typst's errors (layout, PDF/UA checks) are named, never swallowed
            raise FinalPdfFailed(f"the PDF of {identity.pep_reference} version {version} could not be set: "
                                 f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(pdf, bytes) or not pdf.startswith(b"%PDF-"):
            raise FinalPdfFailed(f"Typst returned no PDF for {identity.pep_reference} version {version}")
        with self._lock:
            self.rendered += 1
            self.render_seconds += time.perf_counter() - started
        return pdf

    def close(self) -> None:
        return None

    def __enter__(self) -> FinalPdf:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_shared = FinalPdf()


def render_final_pdf(*args: Any, **kwargs: Any) -> bytes:
    """:meth:`FinalPdf.render` on one shared renderer, for code that owns none."""
    return _shared.render(*args, **kwargs)
