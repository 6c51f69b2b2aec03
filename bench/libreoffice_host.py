"""One long-lived LibreOffice that turns Word documents into tagged PDFs.

This file is not imported by pepflow: ``bench/libreoffice_pool.py`` runs it as a
script with the Python that has LibreOffice's UNO bridge (Debian's ``python3`` with
``python3-uno``, or the ``python`` LibreOffice ships beside ``soffice``), which is
usually not the product's own Python. So it uses the standard library and ``uno``
only.

It starts ``soffice`` headless with a private profile, listening on a named pipe
(never a TCP port: no other local user can drive it), connects to it, and then
answers requests on its standard input and output, one at a time:

    request:  <4-byte big-endian length> <the .docx bytes>
    answer:   <4-byte big-endian length> b"+" <the PDF bytes>
              <4-byte big-endian length> b"-" <why this document failed, a UTF-8 message>
              <4-byte big-endian length> b"!" <why it stopped, a UTF-8 message>, then it exits

Its first answer, before any request, says whether LibreOffice started ("+ready", or
"!" and why not). When LibreOffice dies under it, it answers "!" and exits; when its
standard input closes (the product closed the pool, or died), it stops LibreOffice,
removes its profile and pipe, and exits. The document goes to LibreOffice as a stream
and the PDF comes back as one: no copy of a child's PEP is written to disk here.

How it drives LibreOffice follows unoserver's ``converter.py`` (load read-only,
``storeToURL`` with the export filter and its FilterData), with two differences
measured on the final PEP: the document is loaded ``Hidden`` (no frame is laid out
for a window: about 100 ms less per document) and through a stream with the import
filter named (no temporary files, no type detection).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import urllib.parse

HEADER = struct.Struct(">I")
CONNECT_TIMEOUT_S = 120.0  # a backstop: the product gives up (and kills this) sooner
IMPORT_FILTER = "MS Word 2007 XML"
EXPORT_FILTER = "writer_pdf_Export"
# Tagged PDF (PDF/UA structure: headings, tables, reading order, alt text), the
# document's outline as bookmarks, and its title shown in the reader's title bar.
PDF_OPTIONS = {
    "UseTaggedPDF": True,
    "PDFUACompliance": True,
    "ExportBookmarks": True,
    "DisplayPDFDocumentTitle": True,
    "ExportFormFields": False,
}


def write_frame(out, status: bytes, payload: bytes) -> None:
    out.write(HEADER.pack(len(payload) + 1) + status + payload)
    out.flush()


def read_frame(stream) -> bytes | None:
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        return None
    return data


def fail_and_exit(out, message: str, code: int) -> None:
    write_frame(out, b"!", message.encode("utf-8", "replace"))
    sys.exit(code)


def main() -> None:
    soffice, profile_url, pipe_name = sys.argv[1:4]
    out = sys.stdout.buffer
    try:
        import uno
        import unohelper
        from com.sun.star.beans import PropertyValue
        from com.sun.star.connection import NoConnectException
        from com.sun.star.io import XOutputStream
        from com.sun.star.lang import DisposedException
    except ImportError as exc:
        fail_and_exit(
            out,
            f"{sys.executable} has no LibreOffice UNO bridge ({exc}); install Debian's python3-uno "
            "(scripts/setup does) or set PEP_UNO_PYTHON to a Python that can `import uno`",
            3,
        )

    office = subprocess.Popen(
        [soffice, "--headless", "--invisible", "--nocrashreport", "--nodefault", "--nologo",
         "--nofirststartwizard", "--norestore", "--nolockcheck", f"-env:UserInstallation={profile_url}",
         f"--accept=pipe,name={pipe_name};urp;StarOffice.ComponentContext"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )

    def stop_office(*_args) -> None:
        if office.poll() is None:
            office.terminate()
            try:
                office.wait(10)
            except subprocess.TimeoutExpired:
                office.kill()
                office.wait()

    def on_signal(signum, _frame) -> None:
        stop_office()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)

    def prop(name, value):
        return PropertyValue(Name=name, Value=value)

    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while True:
        try:
            context = resolver.resolve(f"uno:pipe,name={pipe_name};urp;StarOffice.ComponentContext")
            break
        except NoConnectException:
            if office.poll() is not None:
                fail_and_exit(out, f"{soffice} exited with code {office.returncode} before it accepted a connection", 4)
            if time.monotonic() > deadline:
                stop_office()
                fail_and_exit(out, f"{soffice} did not accept a connection within {CONNECT_TIMEOUT_S:.0f} s", 4)
            time.sleep(0.05)
    services = context.ServiceManager
    desktop = services.createInstanceWithContext("com.sun.star.frame.Desktop", context)

    class Collected(unohelper.Base, XOutputStream):
        def __init__(self) -> None:
            self.chunks: list[bytes] = []

        def writeBytes(self, data) -> None:  # noqa: N802 - UNO's name
            self.chunks.append(data.value)

        def flush(self) -> None:
            pass

        def closeOutput(self) -> None:  # noqa: N802 - UNO's name
            pass

    filter_data = uno.Any("[]com.sun.star.beans.PropertyValue", tuple(prop(k, v) for k, v in PDF_OPTIONS.items()))

    def convert(docx: bytes) -> bytes:
        stream = services.createInstanceWithArgumentsAndContext(
            "com.sun.star.io.SequenceInputStream", (uno.ByteSequence(docx),), context,
        )
        document = desktop.loadComponentFromURL(
            "private:stream", "_blank", 0,
            # never run a macro (NEVER_EXECUTE), never fetch a linked file (NO_UPDATE)
            (prop("InputStream", stream), prop("FilterName", IMPORT_FILTER), prop("ReadOnly", True),
             prop("Hidden", True), prop("MacroExecutionMode", 0), prop("UpdateDocMode", 0)),
        )
        if document is None:
            raise ValueError("it does not open as a Word document")
        try:
            collected = Collected()
            document.storeToURL(
                "private:stream",
                (prop("FilterName", EXPORT_FILTER), prop("FilterData", filter_data), prop("OutputStream", collected)),
            )
        finally:
            document.close(True)
        return b"".join(collected.chunks)

    write_frame(out, b"+", b"ready")
    source = sys.stdin.buffer
    try:
        while (request := read_frame(source)) is not None:
            try:
                pdf = convert(request)
            except Exception as exc:  # noqa: BLE001 - every failure is answered, none is swallowed
                if isinstance(exc, DisposedException) or office.poll() is not None:
                    stop_office()
                    fail_and_exit(out, f"LibreOffice stopped while converting: {type(exc).__name__}: {exc}", 5)
                reason = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
                write_frame(out, b"-", reason.encode("utf-8", "replace"))
                continue
            write_frame(out, b"+", pdf)
    except BrokenPipeError:
        pass  # the product went away
    finally:
        try:
            desktop.terminate()
        except Exception:  # noqa: BLE001 - it may be gone already
            pass
        stop_office()
        # what LibreOffice leaves behind, in case the product cannot clean up (it died)
        for folder in ("/tmp", "/var/tmp"):
            with contextlib.suppress(OSError):
                os.unlink(f"{folder}/OSL_PIPE_{os.getuid()}_{pipe_name}")
        if profile_url.startswith("file://"):
            shutil.rmtree(urllib.parse.unquote(profile_url.removeprefix("file://")), ignore_errors=True)


if __name__ == "__main__":
    main()
