"""Tagged PDF copies of Word documents, made by long-lived LibreOffice processes: how
final PDFs were made before they were set directly (``pepflow/documents/final_pdf.py``),
kept here as ``pdf_bench.py``'s baseline; the product does not use it.

No product path uses it any more: final PEPs' PDFs are set directly from their outline
by :mod:`pepflow.documents.final_pdf` (about ten times cheaper). It stays as
``bench/pdf_bench.py``'s baseline, the way final PDFs were made before.

Starting LibreOffice costs about 2 s, so a
:class:`PdfConverter` keeps a small pool of them running: each is started on first
use, reused for every later document, started again if it died or hung, and stopped
by :meth:`PdfConverter.close` (the composition roots close theirs with the app).

Each pooled LibreOffice is driven by ``libreoffice_host.py``, run with the Python that
has LibreOffice's UNO bridge (not the product's own Python, see
:func:`uno_python`). The PDF is tagged (PDF/UA structure, so screen readers get
headings, tables and reading order) and keeps the Word document's layout.

Where LibreOffice is not installed, there is simply no PDF (``None``). Where it is
installed but cannot convert (no UNO bridge, a crash, a hang past the timeout), the
call raises :class:`PdfConversionFailed` saying why: never a silent ``None``.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import selectors
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

HOST_SCRIPT = Path(__file__).with_name("libreoffice_host.py")
HEADER = struct.Struct(">I")
CONVERSION_TIMEOUT_S = 60.0  # one call, start included; inside the documents workers' 120 s job timeout
STOP_GRACE_S = 10.0
DEFAULT_SIZE = max(1, min(2, os.cpu_count() or 1))


class PdfConversionFailed(RuntimeError):
    """LibreOffice is there but could not convert the document."""


def libreoffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def uno_python(soffice: str) -> str:
    """The Python that can ``import uno`` for this LibreOffice.

    ``PEP_UNO_PYTHON`` if set; else the ``python`` LibreOffice ships beside
    ``soffice`` (The Document Foundation's own builds); else Debian's
    ``/usr/bin/python3`` (with ``python3-uno``)."""
    configured = os.environ.get("PEP_UNO_PYTHON")
    if configured:
        return configured
    bundled = Path(os.path.realpath(soffice)).parent / "python"
    if bundled.is_file() and os.access(bundled, os.X_OK):
        return str(bundled)
    return "/usr/bin/python3"


def host_environment() -> dict[str, str]:
    """The product's environment less its own settings (secrets among them: LibreOffice
    needs none) and less what points a Python at another Python's packages."""
    return {
        key: value for key, value in os.environ.items()
        if not key.startswith("PEP_") and key not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"}
    }


class _OfficeStopped(Exception):
    """The LibreOffice (or its host) stopped; a new one may do the work."""


class _Office:
    """One LibreOffice and the host script that drives it; used by one thread at a time."""

    def __init__(self, soffice: str, python: str, folder: Path) -> None:
        self.soffice = soffice
        self.python = python
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None
        self.pipe_name: str | None = None
        self.starts = 0

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def convert(self, docx: bytes, name: str, deadline: float, timeout: float) -> bytes:
        """The PDF; a LibreOffice that stopped is started again, once, for this document."""
        try:
            return self._convert_once(docx, name, deadline, timeout)
        except _OfficeStopped as stopped:
            log.warning("the LibreOffice for PDFs stopped (%s); starting it again for %s", stopped, name)
            try:
                return self._convert_once(docx, name, deadline, timeout)
            except _OfficeStopped as again:
                raise PdfConversionFailed(f"LibreOffice stopped twice while converting {name}: {again}") from None

    def _convert_once(self, docx: bytes, name: str, deadline: float, timeout: float) -> bytes:
        if not self.running:
            if self.process is not None:
                log.warning("the LibreOffice for PDFs had stopped (%s); starting it again", self._exit_reason())
                self.kill()
            self._start(deadline, timeout)
        assert self.process is not None and self.process.stdin is not None
        try:
            self.process.stdin.write(HEADER.pack(len(docx)) + docx)
            self.process.stdin.flush()
        except OSError:
            reason = self._exit_reason()
            self.kill()
            raise _OfficeStopped(reason) from None
        status, payload = self._answer(deadline, timeout, f"to convert {name}")
        if status == b"+":
            return payload
        message = payload.decode("utf-8", "replace")
        if status == b"-":
            raise PdfConversionFailed(f"LibreOffice could not convert {name}: {message}")
        self.kill()  # it said why and exits; the next attempt starts a new one
        raise _OfficeStopped(message)

    def _start(self, deadline: float, timeout: float) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        profile = (self.folder / "profile").as_uri()
        self.pipe_name = f"pepflow-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        began = time.monotonic()
        with open(self.folder / "host.log", "ab") as stderr:
            try:
                self.process = subprocess.Popen(
                    [self.python, str(HOST_SCRIPT), self.soffice, profile, self.pipe_name],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=host_environment(),
                    start_new_session=True,  # its own process group: LibreOffice goes with it
                )
            except OSError as exc:
                raise PdfConversionFailed(
                    f"cannot run {self.python} to drive LibreOffice ({exc}); install Debian's python3-uno "
                    "(scripts/setup does) or set PEP_UNO_PYTHON"
                ) from exc
        self.starts += 1
        try:
            status, message = self._answer(deadline, timeout, "to start")
        except _OfficeStopped as stopped:
            raise PdfConversionFailed(f"LibreOffice did not start: {stopped}") from None
        if status != b"+":
            self.kill()
            raise PdfConversionFailed(f"LibreOffice did not start: {message.decode('utf-8', 'replace')}")
        log.info("LibreOffice started for PDFs in %.1f s (pid %s)", time.monotonic() - began, self.process.pid)

    def _answer(self, deadline: float, timeout: float, doing: str) -> tuple[bytes, bytes]:
        (size,) = HEADER.unpack(self._read(HEADER.size, deadline, timeout, doing))
        body = self._read(size, deadline, timeout, doing)
        return body[:1], body[1:]

    def _read(self, count: int, deadline: float, timeout: float, doing: str) -> bytes:
        assert self.process is not None and self.process.stdout is not None
        fd = self.process.stdout.fileno()
        chunks: list[bytes] = []
        wanted = count
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while wanted > 0:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    self.kill()
                    raise PdfConversionFailed(
                        f"LibreOffice took longer than {timeout:g} s {doing}; it was stopped and the "
                        "next document starts a new one"
                    )
                chunk = os.read(fd, min(wanted, 1 << 20))
                if not chunk:
                    reason = self._exit_reason()
                    self.kill()
                    raise _OfficeStopped(f"it stopped while trying {doing}: {reason}")
                chunks.append(chunk)
                wanted -= len(chunk)
        return b"".join(chunks)

    def _exit_reason(self) -> str:
        code = self.process.poll() if self.process is not None else None
        tail = ""
        with_log = self.folder / "host.log"
        if with_log.exists():
            lines = with_log.read_text(errors="replace").strip().splitlines()
            tail = f"; last output: {lines[-1]}" if lines else ""
        return f"exit code {code}{tail}" if code is not None else f"still running{tail}"

    def stop(self, grace: float = STOP_GRACE_S) -> None:
        """Ask the host to stop LibreOffice (its input closes), then make sure."""
        if self.process is None:
            return
        if self.process.poll() is None and self.process.stdin is not None:
            try:
                self.process.stdin.close()
                self.process.wait(timeout=grace)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()

    def kill(self) -> None:
        """End the host and the LibreOffice it started (their own process group)."""
        process, self.process = self.process, None
        if process is None:
            return
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        if self.pipe_name is not None:
            # LibreOffice leaves its named pipe's socket behind (sal's osl/unx/pipe.cxx
            # puts it in /tmp, or /var/tmp where /tmp is not usable)
            for folder in ("/tmp", "/var/tmp"):
                Path(folder, f"OSL_PIPE_{os.getuid()}_{self.pipe_name}").unlink(missing_ok=True)


class PdfConverter:
    """A pool of long-lived LibreOffice processes making tagged PDFs; thread-safe.

    ``size`` LibreOffice processes at most, each started only when a document needs
    it. ``timeout`` bounds one call, from waiting for a free LibreOffice to the PDF
    (a start, when one is needed, included): past it the LibreOffice is stopped, the
    call fails and the next call starts a new one.
    """

    def __init__(
        self,
        *,
        size: int = DEFAULT_SIZE,
        timeout: float = CONVERSION_TIMEOUT_S,
        soffice: str | None = None,
        python: str | None = None,
    ) -> None:
        if size < 1:
            raise ValueError("a PDF converter needs at least one LibreOffice")
        self.size = size
        self.timeout = timeout
        self.soffice = soffice if soffice is not None else libreoffice()
        self._python = python
        self._lock = threading.Lock()
        self._idle: queue.LifoQueue[_Office] = queue.LifoQueue()
        self._offices: list[_Office] = []
        self._folder: Path | None = None
        self._closed = False
        #: PDFs made and the seconds callers waited for them (figures for benchmarks)
        self.converted = 0
        self.convert_seconds = 0.0

    @property
    def available(self) -> bool:
        """Whether LibreOffice is installed (a PDF is made, or a failure raised)."""
        return self.soffice is not None

    @property
    def running(self) -> int:
        """How many LibreOffice processes are running now."""
        return sum(1 for office in self._offices if office.running)

    @property
    def starts(self) -> int:
        """How many times a LibreOffice was started (restarts included)."""
        return sum(office.starts for office in self._offices)

    def __enter__(self) -> PdfConverter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def convert(self, docx: bytes, name: str = "document") -> bytes | None:
        """The tagged PDF of ``docx``, or ``None`` where LibreOffice is not installed."""
        if self.soffice is None:
            return None
        began = time.monotonic()
        deadline = began + self.timeout
        office = self._take(name, deadline)
        try:
            pdf = office.convert(docx, name, deadline, self.timeout)
        finally:
            self._idle.put(office)
        if not pdf.startswith(b"%PDF-"):
            raise PdfConversionFailed(f"LibreOffice returned something that is not a PDF for {name}")
        with self._lock:
            self.converted += 1
            self.convert_seconds += time.monotonic() - began
        return pdf

    def _take(self, name: str, deadline: float) -> _Office:
        with self._lock:
            if self._closed:
                raise PdfConversionFailed(f"the PDF converter is closed; {name} was not converted")
            try:
                return self._idle.get_nowait()
            except queue.Empty:
                pass
            if len(self._offices) < self.size:
                assert self.soffice is not None
                if self._folder is None:
                    self._folder = Path(tempfile.mkdtemp(prefix="pep-libreoffice-"))
                office = _Office(
                    self.soffice, self._python or uno_python(self.soffice),
                    self._folder / f"office-{len(self._offices) + 1}",
                )
                self._offices.append(office)
                return office
        try:
            office = self._idle.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise PdfConversionFailed(
                f"no LibreOffice was free within {self.timeout:g} s to convert {name} (all {self.size} busy)"
            ) from None
        if self._closed:
            self._idle.put(office)
            raise PdfConversionFailed(f"the PDF converter is closed; {name} was not converted")
        return office

    def close(self) -> None:
        """Stop every LibreOffice (waiting for conversions in hand) and remove their profiles."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            offices = list(self._offices)
        for _ in offices:
            try:
                office = self._idle.get(timeout=self.timeout + STOP_GRACE_S)
            except queue.Empty:
                break  # a conversion is stuck; kill below
            office.stop()
        for office in offices:
            office.kill()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)


_default: PdfConverter | None = None
_default_lock = threading.Lock()


def default_converter() -> PdfConverter:
    """The process's shared converter, for callers that own none; closed at exit."""
    global _default
    with _default_lock:
        if _default is None:
            _default = PdfConverter()
            atexit.register(_default.close)
        return _default


def docx_to_pdf(docx: bytes, name: str = "document") -> bytes | None:
    """The tagged PDF of ``docx`` by the shared converter, or ``None`` without LibreOffice."""
    return default_converter().convert(docx, name)
