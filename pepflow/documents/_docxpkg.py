"""Open a returned Word file safely: sizes, zip bombs, macros, encryption, DTDs.

Hostile input is refused before anything is parsed: the size of the file and of every
zip entry is checked in the zip directory before inflating, and inflation stops at the
limit; OLE compound files (old .doc, and password-encrypted .docx unless its password
is given: see ``protection.unprotect``), macro-enabled content and DTDs/entity
declarations are refused. XML is parsed with a parser that resolves no
entities, loads no DTD, touches no network and has huge_tree off.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass
from posixpath import dirname, join as posix_join, normpath

from lxml import etree

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W_STRICT = "http://purl.oclc.org/ooxml/wordprocessingml/main"
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CP_NS = "http://schemas.openxmlformats.org/package/2006/metadata/core-properties"
DC_NS = "http://purl.org/dc/elements/1.1/"

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
WORD_MAIN_TYPES = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
}

# --------------------------------------------------------------------------- errors


class DocumentRejected(Exception):
    """The file cannot be accepted as a return for this PEP. ``str(exc)`` is for people."""


class NotAWordFile(DocumentRejected):
    pass


class UnsafeXml(NotAWordFile):
    """An XML part declares a DOCTYPE or entities (never written by Word)."""


class MacroEnabled(DocumentRejected):
    pass


class Encrypted(DocumentRejected):
    """A password-protected file, read without its password."""


class WrongPassword(Encrypted):
    """A password-protected file the given password does not open."""


class TooLarge(DocumentRejected):
    pass


class NotAPepForm(DocumentRejected):
    """A Word file without the PEP details a form issued by us carries."""


class WrongPep(DocumentRejected):
    def __init__(self, message: str, *, expected_reference: str, found_reference: str | None) -> None:
        super().__init__(message)
        self.expected_reference = expected_reference
        self.found_reference = found_reference

    def __reduce__(self) -> tuple:
        # the default (``cls(*args)``) loses the keyword-only references: a read-back in a
        # document worker process (``DocumentPool``) must arrive as the same error
        return _wrong_pep, (str(self), self.expected_reference, self.found_reference), self.__dict__


def _wrong_pep(message: str, expected_reference: str, found_reference: str | None) -> WrongPep:
    return WrongPep(message, expected_reference=expected_reference, found_reference=found_reference)


@dataclass(frozen=True)
class ReadLimits:
    max_file_bytes: int = 25 * 1024 * 1024
    max_entries: int = 2000
    max_part_bytes: int = 20 * 1024 * 1024  # each XML part we inflate
    max_total_uncompressed: int = 500 * 1024 * 1024  # sum over the zip directory
    max_ratio: int = 200  # inflated/compressed, checked for entries over 1 MiB


DEFAULT_LIMITS = ReadLimits()


# --------------------------------------------------------------------------- package


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_pis=True,
        collect_ids=False,
    )


def _has_dtd(data: bytes) -> bool:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        return True
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or data[:4] in (b"<\x00?\x00", b"\x00<\x00?"):
        stripped = data.replace(b"\x00", b"")
        return b"<!DOCTYPE" in stripped or b"<!ENTITY" in stripped
    return False


def parse_xml(data: bytes, part: str) -> etree._Element:
    if _has_dtd(data):
        raise UnsafeXml(f"The file's {part} part declares a DOCTYPE or entities; Word never does. Refused.")
    try:
        tree = etree.fromstring(data, _safe_parser()).getroottree()
    except etree.XMLSyntaxError as exc:
        raise NotAWordFile(f"The file's {part} part is not well-formed XML ({exc.msg}).") from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise UnsafeXml(f"The file's {part} part declares a DOCTYPE. Refused.")
    return tree.getroot()


class _Package:
    """A zip opened with every size checked before and during inflation."""

    def __init__(self, data: bytes, limits: ReadLimits) -> None:
        self.limits = limits
        try:
            self.zf = zipfile.ZipFile(io.BytesIO(data))
            infos = self.zf.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError):
            raise NotAWordFile("The file is damaged or truncated: it is not a readable Word (.docx) file.") from None
        if len(infos) > limits.max_entries:
            raise TooLarge(f"The file has {len(infos)} parts; at most {limits.max_entries} are accepted.")
        total = 0
        self.infos: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            total += info.file_size
            name = info.filename
            lower = name.lower()
            if lower.endswith("vbaproject.bin") or lower.endswith("vbadata.xml"):
                raise MacroEnabled("The file contains macros (a VBA project). Please save it as a Word Document (.docx).")
            if info.flag_bits & 0x1:
                raise Encrypted("The file is password-protected. Please remove the password and return it.")
            self.infos.setdefault(name, info)
        if total > limits.max_total_uncompressed:
            raise TooLarge(
                f"The file would expand to {total // (1024 * 1024)} MiB; at most "
                f"{limits.max_total_uncompressed // (1024 * 1024)} MiB is accepted."
            )

    def has(self, name: str) -> bool:
        return name in self.infos

    def read(self, name: str) -> bytes:
        info = self.infos[name]
        limit = self.limits.max_part_bytes
        if info.file_size > limit:
            raise TooLarge(f"The part {name} is {info.file_size} bytes once inflated; at most {limit} are accepted.")
        if info.file_size > 1024 * 1024 and info.file_size > self.limits.max_ratio * max(info.compress_size, 1):
            raise TooLarge(f"The part {name} is compressed suspiciously well (a zip bomb?). Refused.")
        chunks: list[bytes] = []
        seen = 0
        try:
            with self.zf.open(info) as fh:
                while True:
                    chunk = fh.read(64 * 1024)
                    if not chunk:
                        break
                    seen += len(chunk)
                    if seen > limit:
                        raise TooLarge(f"The part {name} inflates past {limit} bytes. Refused.")
                    chunks.append(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
            raise NotAWordFile(f"The file is damaged: its part {name} cannot be read ({exc}).") from None
        return b"".join(chunks)

    def xml(self, name: str) -> etree._Element:
        return parse_xml(self.read(name), name)


def looks_like_protected_docx(data: bytes) -> bool:
    """An OLE file naming the streams of an encrypted OOXML package (not a .doc)."""
    return data[:8] == OLE_MAGIC and (
        "EncryptionInfo".encode("utf-16-le") in data or "EncryptedPackage".encode("utf-16-le") in data
    )


def open_word_document(data: bytes, limits: ReadLimits = DEFAULT_LIMITS) -> tuple[etree._Element, etree._Element | None]:
    """Check a file and return the parsed main document part and core properties (if any)."""
    opened = open_word_package(data, limits)
    return opened.document, opened.core


@dataclass(frozen=True)
class WordPackage:
    """A checked Word file: its body, core properties and the parts related to the body."""

    package: _Package
    main: str
    document: etree._Element
    core: etree._Element | None

    def related(self, kind: str) -> list[tuple[str, etree._Element]]:
        """The parts the body relates to by type (``comments``, ``header``, ``footer``, ``footnotes``...)."""
        rels_name = posix_join(dirname(self.main), "_rels", self.main.rsplit("/", 1)[-1] + ".rels")
        if not self.package.has(rels_name):
            return []
        found = []
        for rel in self.package.xml(rels_name).iter(f"{{{REL_NS}}}Relationship"):
            if rel.get("TargetMode") == "External" or not (rel.get("Type") or "").endswith("/" + kind):
                continue
            name = normpath(posix_join("/", dirname(self.main), rel.get("Target") or "")).lstrip("/")
            if self.package.has(name):
                found.append((name, self.package.xml(name)))
        return found


def open_word_package(data: bytes, limits: ReadLimits = DEFAULT_LIMITS) -> WordPackage:
    """Check a file (see the module) and open its main document part."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("expected the file's bytes")
    data = bytes(data)
    if len(data) > limits.max_file_bytes:
        raise TooLarge(
            f"The file is {len(data) // 1024} KiB; at most {limits.max_file_bytes // 1024} KiB is accepted."
        )
    if data[:8] == OLE_MAGIC:
        if looks_like_protected_docx(data):
            raise Encrypted(
                "The file is password-protected and no password was given to open it. Give the document's "
                "password, or ask the school to remove the password and return it."
            )
        raise NotAWordFile(
            "The file is an old-style Word 97-2003 (.doc) or other OLE file. Please save it as a Word Document (.docx)."
        )
    if data[:4] != b"PK\x03\x04":
        raise NotAWordFile("The file is not a Word (.docx) document.")
    pkg = _Package(data, limits)
    if not pkg.has("[Content_Types].xml"):
        raise NotAWordFile("The file is a zip archive but not a Word document (no [Content_Types].xml).")
    types = pkg.xml("[Content_Types].xml")
    overrides: dict[str, str] = {}
    for node in types:
        ctype = (node.get("ContentType") or "").strip()
        if "macroenabled" in ctype.lower() or "vbaproject" in ctype.lower():
            raise MacroEnabled("The file is macro-enabled (.docm). Please save it as a Word Document (.docx).")
        if node.tag == f"{{{CT_NS}}}Override":
            overrides[(node.get("PartName") or "").lstrip("/")] = ctype

    main = _main_part_name(pkg)
    if main is None or not pkg.has(main):
        raise NotAWordFile("The file does not contain a Word document body.")
    ctype = overrides.get(main)
    if ctype not in WORD_MAIN_TYPES:
        raise NotAWordFile(f"The file is not a Word document (its main part is {ctype or 'untyped'}).")
    document = pkg.xml(main)
    if document.tag == f"{{{W_STRICT}}}document":
        raise NotAWordFile("The file is saved as Strict Open XML. Please save it as a Word Document (.docx).")
    if document.tag != f"{{{W}}}document":
        raise NotAWordFile("The file's main part is not a Word document body.")
    core = pkg.xml("docProps/core.xml") if pkg.has("docProps/core.xml") else None
    return WordPackage(pkg, main, document, core)


def _main_part_name(pkg: _Package) -> str | None:
    if not pkg.has("_rels/.rels"):
        return "word/document.xml"
    rels = pkg.xml("_rels/.rels")
    for rel in rels.iter(f"{{{REL_NS}}}Relationship"):
        if (rel.get("Type") or "").endswith("/officeDocument") and rel.get("TargetMode") != "External":
            target = rel.get("Target") or ""
            name = normpath(posix_join("/", target)).lstrip("/")
            return name
    return None


