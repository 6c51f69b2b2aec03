"""Type into a PEP form with LibreOffice itself, as a school using LibreOffice does, and save it.

Run by the tests with the Python that has LibreOffice's UNO bridge (Debian's
``/usr/bin/python3`` with ``python3-uno``), like ``bench/libreoffice_host.py``:
it starts one headless ``soffice`` on a private pipe and profile, then answers requests on
standard input, one JSON line each, ``{"docx": <base64>, "edits": [...]}``, with one JSON
line ``{"docx": <base64 of the re-saved .docx>}`` or ``{"error": "..."}``.

An edit is what a person does in LibreOffice Writer (7.4 shows our answers, drop-downs and
check boxes as content controls; a plain-text control would be an input field):

- ``{"op": "type", "label": L, "col": 1, "text": T}``: fill the answer right of label L
  (``col`` cells to the right); a newline in T is Enter pressed inside the answer.
- ``{"op": "choose", "label": L, "text": T}``: pick T in the drop-down right of L.
- ``{"op": "tick", "label": L, "box": "Yes"|"No"}``: tick a check box right of L.
- ``{"op": "below", "label": L, "col": 1, "text": T}``: press Enter after the answer and type T
  in the same cell.
- ``{"op": "between", "title": S, "text": T}``: type a paragraph T after the table titled S.
- ``{"op": "add_row", "title": S, "cells": [...]}``: add a row at the end of table S and type
  each cell.

Comments are not made here: LibreOffice 7.4 (headless) crashes exporting a comment to
.docx; the Word-style cases of the corpus cover comments.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


def main() -> None:
    import uno
    from com.sun.star.beans import PropertyValue
    from com.sun.star.connection import NoConnectException

    def prop(name, value):
        return PropertyValue(Name=name, Value=value)

    soffice = sys.argv[1]
    profile = tempfile.mkdtemp(prefix="pep-lo-typist-")
    pipe = f"pep-lo-typist-{os.getpid()}"
    office = subprocess.Popen(
        [soffice, "--headless", "--invisible", "--nocrashreport", "--nodefault", "--nologo", "--norestore",
         "--nolockcheck", f"-env:UserInstallation=file://{profile}",
         f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
        deadline = time.monotonic() + 120
        while True:
            try:
                ctx = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
                break
            except NoConnectException:
                if office.poll() is not None or time.monotonic() > deadline:
                    print(json.dumps({"error": "soffice did not start"}), flush=True)
                    return
                time.sleep(0.05)
        desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        print(json.dumps({"ready": True}), flush=True)
        for line in sys.stdin:
            request = json.loads(line)
            try:
                out = _edit(desktop, prop, profile, base64.b64decode(request["docx"]), request["edits"])
                print(json.dumps({"docx": base64.b64encode(out).decode()}), flush=True)
            except Exception as exc:  # noqa: BLE001 - answered, the test fails with it
                import traceback

                print(json.dumps({"error": f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"}), flush=True)
    finally:
        try:
            desktop.terminate()
        except Exception:  # noqa: BLE001
            pass
        if office.poll() is None:
            office.terminate()
            office.wait(20)
        shutil.rmtree(profile, ignore_errors=True)


def _cells(doc):
    tables = doc.getTextTables()
    for i in range(tables.getCount()):
        table = tables.getByIndex(i)
        for name in table.getCellNames():
            yield table, name, table.getCellByName(name)


def _title(table) -> str:
    return table.getCellByName("A1").getString().strip()


def _right_of(doc, label: str, col: int = 1):
    for table, name, cell in _cells(doc):
        first = cell.getText().createEnumeration().nextElement().getString().strip()
        if first == label and name[0] == "A":
            target = table.getCellByName(chr(ord("A") + col) + name[1:])
            if target is not None:
                return target
    raise LookupError(f"no cell right of {label!r}")


def _portions(cell):
    paras = cell.getText().createEnumeration()
    while paras.hasMoreElements():
        para = paras.nextElement()
        if not para.supportsService("com.sun.star.text.Paragraph"):
            continue
        portions = para.createEnumeration()
        while portions.hasMoreElements():
            yield portions.nextElement()


def _set_control(cc, shown: str) -> None:
    """Replace what a content control shows (its placeholder) with ``shown``."""
    portions = cc.createEnumeration()
    while portions.hasMoreElements():
        portions.nextElement().setString(shown)
        shown = ""
    cc.ShowingPlaceHolder = False


def _fill(cell, typed: str) -> None:
    """Type an answer into the control in ``cell``; a newline is Enter pressed inside it."""
    portions = list(_portions(cell))
    field = next((p.TextField for p in portions if p.TextPortionType == "TextField"), None)
    if field is not None:  # a plain-text control, which LibreOffice 7.4 shows as an input field
        field.Content = typed
        return
    cc = next(p.ContentControl for p in portions if p.TextPortionType == "ContentControl")
    _set_control(cc, typed)  # Writer turns a newline typed into text into a new paragraph


def ctx_dispatcher(doc):
    import uno

    ctx = uno.getComponentContext()
    return ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.DispatchHelper", ctx)


def _sections(doc):
    """(title, table, the element after it) for each table, its title the heading before it."""
    enum = doc.getText().createEnumeration()
    heading, pending = None, None
    while enum.hasMoreElements():
        el = enum.nextElement()
        if pending is not None:
            yield pending[0], pending[1], el
            pending = None
        if el.supportsService("com.sun.star.text.TextTable"):
            pending = (heading, el)
        elif (el.ParaStyleName or "").lower().startswith("heading"):
            heading = el.getString().strip()
    if pending is not None:
        yield pending[0], pending[1], None


def _table(doc, title: str):
    for name, table, _after in _sections(doc):
        if name == title:
            return table
    raise LookupError(f"no table titled {title!r}")


def _edit(desktop, prop, profile: str, data: bytes, edits: list[dict]) -> bytes:
    from com.sun.star.text.ControlCharacter import PARAGRAPH_BREAK

    src = os.path.join(profile, "in.docx")
    dst = os.path.join(profile, "out.docx")
    with open(src, "wb") as fh:
        fh.write(data)
    # the form is protected for Word: LibreOffice opens it read-only, and the school clicks Edit Document
    doc = desktop.loadComponentFromURL("file://" + src, "_blank", 0, (prop("Hidden", True),))
    if doc.isReadonly():
        frame = doc.getCurrentController().getFrame()
        ctx_dispatcher(doc).executeDispatch(frame, ".uno:EditDoc", "", 0, ())
        doc = frame.getController().getModel()  # Edit Document reloads it, editable
        if doc.isReadonly():
            raise RuntimeError("LibreOffice opened the form read-only and Edit Document did not make it editable")
    try:
        for e in edits:
            op = e["op"]
            if op in ("type", "choose", "tick", "below"):
                cell = _right_of(doc, e["label"], e.get("col", 1))
            if op == "type":
                _fill(cell, e["text"])
            elif op in ("choose", "tick"):
                controls = [p.ContentControl for p in _portions(cell) if p.TextPortionType == "ContentControl"]
                cc = controls[0] if op == "choose" else controls[0 if e["box"] == "Yes" else 1]
                if op == "tick":
                    cc.Checked = True
                _set_control(cc, e["text"] if op == "choose" else cc.CheckedState)
            elif op == "below":
                text = cell.getText()
                cursor = text.createTextCursorByRange(text.getEnd())
                text.insertControlCharacter(cursor, PARAGRAPH_BREAK, False)
                text.insertString(cursor, e["text"], False)
            elif op == "between":
                # a click below the table and typing: a new paragraph before the next section's heading
                after = next((a for name, _t, a in _sections(doc) if name == e["title"]), None)
                if after is None or not after.supportsService("com.sun.star.text.Paragraph"):
                    raise LookupError(f"no line after the table titled {e['title']!r}")
                text = after.getText()
                cursor = text.createTextCursorByRange(after.getStart())
                text.insertString(cursor, e["text"], False)
                text.insertControlCharacter(cursor, PARAGRAPH_BREAK, False)
            elif op == "add_row":
                # as a person does: cursor in the last row, Table > Insert > Rows Below, type
                table = _table(doc, e["title"])
                last = table.getCellNames()[-1]
                row = int("".join(c for c in last if c.isdigit()))
                controller = doc.getCurrentController()
                controller.select(table.getCellByName(f"A{row}").getText().getStart())
                dispatcher = ctx_dispatcher(doc)
                dispatcher.executeDispatch(controller.getFrame(), ".uno:InsertRowsAfter", "", 0, ())
                for i, value in enumerate(e["cells"]):
                    table.getCellByName(f"{chr(ord('A') + i)}{row + 1}").setString(value)
            else:
                raise ValueError(f"unknown edit {op!r}")
        doc.storeToURL("file://" + dst, (prop("FilterName", "MS Word 2007 XML"),))
    finally:
        doc.close(True)
    with open(dst, "rb") as fh:
        return fh.read()


if __name__ == "__main__":
    main()
