"""Writing a .docx package fast: the council's unchanging parts are compressed once.

A PEP form is python-docx's template (styles alone are ~800 KB of XML) plus two parts
that change per child: ``word/document.xml`` and ``docProps/core.xml``. Opening the
template with python-docx and saving it again parses, serialises and deflates every
part for every form, which was most of the time a form took. Here the constant parts
are deflated once per council and copied into each package as they are; only the two
changing parts are serialised and compressed. The zip is a plain one (no zip64, no
data descriptors, no encryption), which is what Word itself writes.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from functools import lru_cache

from docx.opc.coreprops import CoreProperties
from docx.oxml.parser import parse_xml
from lxml import etree

DOCUMENT_PART = "word/document.xml"
CORE_PART = "docProps/core.xml"
_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01, 00:00: packages are reproducible
_DOS_TIME = 0
_UTF8_NAMES = 0x0800


@dataclass(frozen=True, slots=True)
class Entry:
    name: bytes
    crc: int
    size: int
    data: bytes  # raw deflate stream


def deflate(name: str, data: bytes, level: int = 6) -> Entry:
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return Entry(name.encode("utf-8"), zlib.crc32(data), len(data), c.compress(data) + c.flush())


def write_zip(entries: list[Entry]) -> bytes:
    out = io.BytesIO()
    central: list[bytes] = []
    for e in entries:
        if e.size >= 0xFFFFFFFF or len(e.data) >= 0xFFFFFFFF:  # pragma: no cover - forms are ~100 KB
            raise ValueError("part too large for a plain zip")
        offset = out.tell()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, _UTF8_NAMES, 8, _DOS_TIME, _DOS_DATE,
                              e.crc, len(e.data), e.size, len(e.name), 0))
        out.write(e.name)
        out.write(e.data)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, _UTF8_NAMES, 8, _DOS_TIME, _DOS_DATE,
                                   e.crc, len(e.data), e.size, len(e.name), 0, 0, 0, 0, 0, offset) + e.name)
    start = out.tell()
    for c in central:
        out.write(c)
    size = out.tell() - start
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), size, start, 0))
    return out.getvalue()


@dataclass(frozen=True)
class Template:
    """A python-docx package split into its constant parts and the two that change."""

    parts: tuple[Entry | str, ...]  # a str is a slot for a changing part, in package order
    document_xml: bytes
    core_xml: bytes


@lru_cache(maxsize=32)
def split_template(package: bytes) -> Template:
    zf = zipfile.ZipFile(io.BytesIO(package))
    parts: list[Entry | str] = []
    document_xml = core_xml = b""
    for info in zf.infolist():
        data = zf.read(info)
        if info.filename == DOCUMENT_PART:
            document_xml = data
            parts.append(DOCUMENT_PART)
        elif info.filename == CORE_PART:
            core_xml = data
            parts.append(CORE_PART)
        else:
            parts.append(deflate(info.filename, data))
    if not document_xml or not core_xml:  # pragma: no cover - python-docx's template has both
        raise RuntimeError("the template lacks a document or core properties part")
    return Template(tuple(parts), document_xml, core_xml)


class FastDocument:
    """Just enough of python-docx's ``Document`` for the form renderer.

    ``element`` is the ``w:document`` root (``element.body`` works), ``core_properties``
    python-docx's own core properties object; :meth:`save` writes the package.
    """

    def __init__(self, template: Template) -> None:
        self._template = template
        self.element = parse_xml(template.document_xml)
        self._core = parse_xml(template.core_xml)
        self.core_properties = CoreProperties(self._core)

    def save(self) -> bytes:
        changed = {
            DOCUMENT_PART: deflate(DOCUMENT_PART, _serialise(self.element)),
            CORE_PART: deflate(CORE_PART, _serialise(self._core)),
        }
        return write_zip([changed[p] if isinstance(p, str) else p for p in self._template.parts])


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, encoding="UTF-8", standalone=True)
