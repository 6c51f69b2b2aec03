"""Hostile or broken files are refused with the right exception, before anything big is inflated."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest

from pepflow.documents import (
    DocumentRejected,
    Encrypted,
    MacroEnabled,
    NotAWordFile,
    ReadLimits,
    TooLarge,
    UnsafeXml,
    read_school_return,
    render_pep_form,
)

from .helpers import SECRET, content, edit_part, identity

REF = "PEP-C-0001-2026-AUT"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@pytest.fixture(scope="module")
def good() -> bytes:
    return render_pep_form(identity(), content("school-age"), SECRET)


def read(data: bytes, **limits):
    return read_school_return(data, REF, SECRET, limits=ReadLimits(**limits) if limits else ReadLimits())


def test_the_good_file_is_accepted(good):
    assert read(good).identity.pep_reference == REF


@pytest.mark.parametrize("data", [b"", b"hello, this is not a document", b"%PDF-1.7\n", b"PK\x03\x04garbage"])
def test_not_a_zip(data):
    with pytest.raises(NotAWordFile):
        read(data)


def test_truncated_file(good):
    for cut in (len(good) // 2, len(good) - 10, 100):
        with pytest.raises(NotAWordFile, match="damaged or truncated"):
            read(good[:cut])


def test_zip_that_is_not_a_word_document():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(NotAWordFile):
        read(buf.getvalue())


def test_spreadsheet_is_not_a_word_document(good):
    def retype(data: bytes) -> bytes:
        return data.replace(b"wordprocessingml.document.main+xml", b"spreadsheetml.sheet.main+xml")

    with pytest.raises(NotAWordFile, match="not a Word document"):
        read(edit_part(good, "[Content_Types].xml", retype, raw=True))


def test_whole_file_too_large(good):
    with pytest.raises(TooLarge):
        read(good, max_file_bytes=len(good) - 1)


def _bomb(inflated: int) -> bytes:
    """A zip whose word/document.xml is ``inflated`` bytes of one repeated byte (~1 KB per MB)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                   b'<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
        z.writestr("word/document.xml", b" " * inflated)
    return buf.getvalue()


def test_zip_bomb_entry_over_the_limit_is_refused_from_the_directory():
    bomb = _bomb(1024 * 1024)
    info = zipfile.ZipFile(io.BytesIO(bomb)).getinfo("word/document.xml")
    assert info.compress_size < 1100  # a 1 KB entry ...
    with pytest.raises(TooLarge):  # ... that inflates past a 512 KiB limit
        read(bomb, max_part_bytes=512 * 1024)


def test_zip_bomb_by_total_claimed_size():
    with pytest.raises(TooLarge):
        read(_bomb(1024 * 1024), max_total_uncompressed=256 * 1024)


def test_zip_bomb_by_compression_ratio():
    with pytest.raises(TooLarge, match="compressed suspiciously well"):
        read(_bomb(8 * 1024 * 1024))


def _patch_sizes(data: bytes, name: bytes, size: int) -> bytes:
    """Make the zip directory (and local header) claim ``size`` bytes for entry ``name``."""
    out = bytearray(data)
    i = out.find(b"PK\x03\x04")
    while i != -1:
        n = struct.unpack_from("<H", out, i + 26)[0]
        if bytes(out[i + 30 : i + 30 + n]) == name:
            struct.pack_into("<I", out, i + 22, size)
        i = out.find(b"PK\x03\x04", i + 4)
    i = out.find(b"PK\x01\x02")
    while i != -1:
        n = struct.unpack_from("<H", out, i + 28)[0]
        if bytes(out[i + 46 : i + 46 + n]) == name:
            struct.pack_into("<I", out, i + 24, size)
        i = out.find(b"PK\x01\x02", i + 4)
    return bytes(out)


def test_entry_claiming_to_be_small_but_inflating_further_stops_at_the_claim():
    lying = _patch_sizes(_bomb(1024 * 1024), b"word/document.xml", 1000)
    assert zipfile.ZipFile(io.BytesIO(lying)).getinfo("word/document.xml").file_size == 1000
    with pytest.raises(DocumentRejected):  # inflation stops at 1000 bytes; the CRC then fails
        read(lying, max_part_bytes=512 * 1024)


def test_entry_claiming_to_be_huge_is_refused_before_inflating(good):
    with pytest.raises(TooLarge):
        read(_patch_sizes(good, b"word/document.xml", 3_000_000_000))


def test_too_many_entries(good):
    with pytest.raises(TooLarge):
        read(good, max_entries=3)


def test_docm_content_type_is_refused(good):
    def macro(data: bytes) -> bytes:
        return data.replace(
            b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
            b"application/vnd.ms-word.document.macroEnabled.main+xml",
        )

    with pytest.raises(MacroEnabled, match=r"\.docm"):
        read(edit_part(good, "[Content_Types].xml", macro, raw=True))


def test_vba_project_is_refused(good):
    buf = io.BytesIO()
    src = zipfile.ZipFile(io.BytesIO(good))
    with zipfile.ZipFile(buf, "w") as z:
        for info in src.infolist():
            z.writestr(info, src.read(info))
        z.writestr("word/vbaProject.bin", OLE_MAGIC + b"\0" * 100)
    with pytest.raises(MacroEnabled):
        read(buf.getvalue())


def test_old_doc_ole_file_is_refused():
    with pytest.raises(NotAWordFile, match="97-2003"):
        read(OLE_MAGIC + b"\0" * 4000)


def test_encrypted_ooxml_ole_file_is_refused():
    fake = OLE_MAGIC + b"\0" * 500 + "EncryptionInfo".encode("utf-16-le") + b"\0" * 500
    with pytest.raises(Encrypted, match="password"):
        read(fake)


def test_zip_level_encryption_is_refused(good):
    data = bytearray(good)
    i = data.find(b"PK\x01\x02")
    struct.pack_into("<H", data, i + 8, struct.unpack_from("<H", data, i + 8)[0] | 1)
    with pytest.raises(Encrypted):
        read(bytes(data))


@pytest.mark.parametrize(
    "prolog",
    [
        b'<!DOCTYPE w:document [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>',
        b'<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        b'<!DOCTYPE w:document SYSTEM "http://example.invalid/evil.dtd">',
    ],
)
def test_doctype_and_entities_in_the_document_are_refused(good, prolog):
    def inject(data: bytes) -> bytes:
        decl_end = data.index(b"?>") + 2
        return data[:decl_end] + prolog + data[decl_end:]

    with pytest.raises(UnsafeXml):
        read(edit_part(good, "word/document.xml", inject, raw=True))


def test_entities_in_content_types_are_refused(good):
    def inject(data: bytes) -> bytes:
        decl_end = data.index(b"?>") + 2
        return data[:decl_end] + b'<!DOCTYPE Types [<!ENTITY a "aaaaaaaaaa">]>' + data[decl_end:]

    with pytest.raises(UnsafeXml):
        read(edit_part(good, "[Content_Types].xml", inject, raw=True))


def test_utf16_doctype_is_refused(good):
    def inject(data: bytes) -> bytes:
        text = data.decode("utf-8").replace("encoding='UTF-8'", "encoding='UTF-16'")
        decl_end = text.index("?>") + 2
        text = text[:decl_end] + '<!DOCTYPE w:document [<!ENTITY a "b">]>' + text[decl_end:]
        return b"\xff\xfe" + text.encode("utf-16-le")

    with pytest.raises(UnsafeXml):
        read(edit_part(good, "word/document.xml", inject, raw=True))


def test_malformed_xml_is_refused(good):
    with pytest.raises(NotAWordFile, match="not well-formed"):
        read(edit_part(good, "word/document.xml", lambda d: d[: len(d) // 2], raw=True))


def test_corrupt_deflate_stream_is_refused(good):
    data = bytearray(good)
    info = zipfile.ZipFile(io.BytesIO(good)).getinfo("word/document.xml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for k in range(start + 10, start + 60):
        data[k] ^= 0x5A
    with pytest.raises(NotAWordFile):
        read(bytes(data))


def test_compression_helper_sanity():
    assert len(zlib.compress(b" " * 1024 * 1024, 9)) < 1100


# --------------------------------------------------------------------------- protected files


def test_real_password_protected_return_without_the_password_is_refused(good):
    from pepflow.documents import protect

    with pytest.raises(Encrypted, match="password-protected and no password was given"):
        read(protect(good, "k7mq-2xfp-9rtc-4hwn"))


def test_real_password_protected_return_with_the_password_is_read(good):
    from pepflow.documents import protect

    result = read_school_return(protect(good, "k7mq-2xfp-9rtc-4hwn"), REF, SECRET, password="k7mq-2xfp-9rtc-4hwn")
    assert result.identity.pep_reference == REF


def test_old_doc_ole_file_with_a_password_given_is_still_refused_as_doc():
    with pytest.raises(NotAWordFile, match="97-2003"):
        read_school_return(OLE_MAGIC + b"\0" * 4000, REF, SECRET, password="k7mq-2xfp-9rtc-4hwn")


# --------------------------------------------------------------------------- embedded images

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png(width: int, height: int, idat: bytes) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return PNG_SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _with_image(good: bytes, image: bytes, *, name: str = "word/media/image1.png") -> bytes:
    """The form with one more part, a picture (the relationship is what Word adds too)."""
    buf = io.BytesIO()
    src = zipfile.ZipFile(io.BytesIO(good))
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "word/_rels/document.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdImg1" Type="http://schemas.'
                                    b'openxmlformats.org/officeDocument/2006/relationships/image" '
                                    b'Target="media/image1.png"/></Relationships>')
            if info.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", b'<Default Extension="png" ContentType="image/png"/></Types>')
            z.writestr(info.filename, data)
        z.writestr(name, image)
    return buf.getvalue()


def test_picture_claiming_huge_dimensions_is_never_decoded(good):
    """A 'decompression bomb' picture (65535 x 65535 pixels in a few KB): we read no pictures."""
    bomb = _png(65535, 65535, zlib.compress(b"\0" * (4 * 1024 * 1024), 9))
    assert len(bomb) < 10_000
    result = read(_with_image(good, bomb))
    assert result.identity.pep_reference == REF


def test_huge_embedded_picture_is_refused_by_the_file_size_limit(good):
    big = PNG_SIGNATURE + bytes(random_bytes(3 * 1024 * 1024))  # incompressible, like a real photo
    data = _with_image(good, big)
    assert len(data) > 3 * 1024 * 1024
    with pytest.raises(TooLarge, match="KiB"):
        read(data, max_file_bytes=2 * 1024 * 1024)


def test_picture_claiming_a_huge_inflated_size_is_refused_from_the_directory(good):
    data = _with_image(good, _png(10, 10, zlib.compress(b"\0" * 300)))
    lying = _patch_sizes(data, b"word/media/image1.png", 3_000_000_000)
    with pytest.raises(TooLarge, match="would expand to"):
        read(lying)


def test_picture_that_is_a_zip_bomb_is_never_inflated(good, monkeypatch):
    """A picture part of 64 MiB of zeros (~64 KB compressed): its size is under the limits and
    the reader inflates only the XML parts it needs, never the picture."""
    bomb = b"\0" * (64 * 1024 * 1024)
    data = _with_image(good, bomb)
    assert len(data) < 1024 * 1024
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, *args, **kwargs):
        opened.append(getattr(name, "filename", name))
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    assert read(data).identity.pep_reference == REF
    assert "word/media/image1.png" not in opened
    assert "word/document.xml" in opened


def random_bytes(n: int) -> bytes:
    import random

    return random.Random(4).randbytes(n)
