"""A PDF copy of a Word document, made by LibreOffice where it is installed.

The final PEP is kept as .docx and, where LibreOffice is present, as PDF too (what an
IRO or a carer opens most easily). LibreOffice runs headless in a throwaway profile so
that parallel conversions do not share state; a missing LibreOffice is not an error.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CONVERSION_TIMEOUT_S = 120


class PdfConversionFailed(RuntimeError):
    """LibreOffice is there but could not convert the document."""


def libreoffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def docx_to_pdf(docx: bytes, name: str = "document") -> bytes | None:
    """The PDF of ``docx``, or ``None`` where LibreOffice is not installed."""
    soffice = libreoffice()
    if soffice is None:
        return None
    with tempfile.TemporaryDirectory(prefix="pep-pdf-") as tmp:
        folder = Path(tmp)
        source = folder / f"{name}.docx"
        source.write_bytes(docx)
        try:
            subprocess.run(
                [soffice, f"-env:UserInstallation=file://{folder / 'profile'}", "--headless", "--norestore",
                 "--convert-to", "pdf", "--outdir", str(folder), str(source)],
                check=True, capture_output=True, timeout=CONVERSION_TIMEOUT_S,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise PdfConversionFailed(f"LibreOffice could not convert {name}: {exc}") from exc
        target = folder / f"{name}.pdf"
        if not target.exists():
            raise PdfConversionFailed(f"LibreOffice made no PDF of {name}")
        return target.read_bytes()
