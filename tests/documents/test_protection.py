"""Password protection: AES-256 agile files that open with their password and only with it."""

from __future__ import annotations

import io
import re
import struct

import msoffcrypto
import pytest
from msoffcrypto.method.ecma376_agile import ECMA376Agile

from pepflow.documents import (
    DocumentRejected,
    Encrypted,
    NotAWordFile,
    TooLarge,
    UnsafeXml,
    WrongPassword,
    document_password,
    new_setting_secret,
    protect,
    protection_info,
    read_school_return,
    render_pep_form,
    spell_password,
    unprotect,
)
from pepflow.documents.protection import PASSWORD_ALPHABET, SPIN_COUNT, _spin

from .helpers import MEETING, SECRET, content, fill_form, identity, school_return

REF = "PEP-C-0001-2026-AUT"
SETTING_SECRET = bytes(range(32))
PASSWORD = document_password(SETTING_SECRET, REF, 1, kind="form")


@pytest.fixture(scope="module")
def form() -> bytes:
    return render_pep_form(identity(), content("school-age"), SECRET)


@pytest.fixture(scope="module")
def protected(form) -> bytes:
    return protect(form, PASSWORD)


def _msoffcrypto_open(data: bytes, password: str) -> bytes:
    """Decrypt with msoffcrypto-tool alone, checking the password and the integrity HMAC."""
    office = msoffcrypto.OfficeFile(io.BytesIO(data))
    office.load_key(password=password, verify_password=True)
    out = io.BytesIO()
    office.decrypt(out, verify_integrity=True)
    return out.getvalue()


# --------------------------------------------------------------------------- protect / unprotect


def test_protected_file_opens_with_the_password(form, protected):
    assert protected[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an OLE container, as Word writes
    assert unprotect(protected, PASSWORD) == form


def test_an_independent_implementation_opens_it(form, protected):
    assert _msoffcrypto_open(protected, PASSWORD) == form


def test_wrong_password_is_refused_clearly(protected):
    with pytest.raises(WrongPassword, match="password does not open this file") as exc:
        unprotect(protected, PASSWORD[:-1] + ("x" if PASSWORD[-1] != "x" else "y"))
    assert isinstance(exc.value, Encrypted) and isinstance(exc.value, DocumentRejected)
    with pytest.raises(msoffcrypto.exceptions.InvalidKeyError):
        _msoffcrypto_open(protected, "not-the-password")


def test_no_file_content_is_readable_without_the_password(protected):
    for marker in (b"PEP-C-0001", b"Alex Example", "Alex Example".encode("utf-16-le"), b"word/document.xml"):
        assert marker not in protected


def test_encryption_is_aes_256_agile_with_100k_sha512_spins(protected):
    info = protection_info(protected)
    assert (info.method, info.cipher, info.key_bits, info.hash_algorithm, info.spin_count, info.chaining) == (
        "agile", "AES", 256, "SHA512", 100_000, "ChainingModeCBC")
    assert str(info) == "AES-256 agile, 100000 spins"


def test_same_settings_as_msoffcrypto_own_encrypt(form, protected):
    """Our descriptor differs from msoffcrypto's only in the random values."""
    from msoffcrypto.format.ooxml import OOXMLFile

    theirs = io.BytesIO()
    OOXMLFile(io.BytesIO(form)).encrypt(PASSWORD, theirs)

    def descriptor(data: bytes) -> str:
        import olefile

        raw = olefile.OleFileIO(io.BytesIO(data)).openstream("EncryptionInfo").read()
        assert struct.unpack_from("<HHI", raw) == (4, 4, 0x40)
        return re.sub(r'="[A-Za-z0-9+/]{20,}={0,2}"', '="*"', raw[8:].decode())

    assert descriptor(protected) == descriptor(theirs.getvalue())
    assert protection_info(theirs.getvalue()) == protection_info(protected)


def test_every_file_has_fresh_salts_and_keys(form, protected):
    again = protect(form, PASSWORD)
    assert again != protected
    import olefile

    def salts(data: bytes) -> list[str]:
        raw = olefile.OleFileIO(io.BytesIO(data)).openstream("EncryptionInfo").read().decode("utf-8", "replace")
        return re.findall(r'(?:saltValue|encryptedKeyValue|encryptedHmacKey)="([^"]+)"', raw)

    assert set(salts(again)).isdisjoint(salts(protected))
    assert unprotect(again, PASSWORD) == form


def test_fast_spin_is_the_agile_iterated_hash():
    salt = bytes(range(16))
    expected = ECMA376Agile._derive_iterated_hash_from_password("k7mq-2xfp-9rtc-4hwn", salt, "SHA512", SPIN_COUNT)
    assert _spin("k7mq-2xfp-9rtc-4hwn", salt) == expected.digest()
    expected = ECMA376Agile._derive_iterated_hash_from_password("pässwörd", salt, "SHA512", 10)
    assert _spin("pässwörd", salt, 10) == expected.digest()


def test_the_spin_runs_in_c_and_gives_msoffcrypto_s_chain_for_any_count():
    """The C chain is built by the install (setup.py) and used; it gives the reference
    implementation's answer whatever the password, salt and count."""
    from pepflow.documents import protection

    assert protection._c_chain() is not None, "the C spin was not built: reinstall with gcc and libssl-dev"
    for password, salt, count in (("k7mq-2xfp-9rtc-4hwn", bytes(16), 0), ("pässwörd", b"\xff" * 16, 1),
                                  ("x" * 255, bytes(range(16)), 255), ("a1", bytes(range(16, 32)), 65_537)):
        expected = ECMA376Agile._derive_iterated_hash_from_password(password, salt, "SHA512", count)
        assert _spin(password, salt, count) == expected.digest()


def test_the_c_spin_refuses_what_is_not_a_chain():
    from pepflow.documents._spin import spin

    h0 = bytes(64)
    with pytest.raises(ValueError, match="64-byte"):
        spin(h0[:63], 10)
    for count in (-1, 2**32):
        with pytest.raises(ValueError, match="from 0 to 4,294,967,295"):
            spin(h0, count)


def test_package_key_is_a_full_256_bit_random_key(protected):
    """msoffcrypto pads a 16-byte key with 0x36; ours is 32 random bytes."""
    office = msoffcrypto.OfficeFile(io.BytesIO(protected))
    office.load_key(password=PASSWORD)
    assert len(office.secret_key) == 32
    assert office.secret_key[16:] != b"\x36" * 16


@pytest.mark.parametrize("bad", ["", "short", "x" * 256])
def test_weak_or_overlong_passwords_are_refused(form, bad):
    with pytest.raises(ValueError, match="12 to 255"):
        protect(form, bad)


def test_only_docx_can_be_protected(form, protected):
    with pytest.raises(ValueError, match="already protected"):
        protect(protected, PASSWORD)
    with pytest.raises(ValueError, match="only Word"):
        protect(b"%PDF-1.7", PASSWORD)


def test_unprotect_refuses_what_is_not_a_protected_file(form):
    with pytest.raises(NotAWordFile, match="not a password-protected"):
        unprotect(form, PASSWORD)
    with pytest.raises(NotAWordFile):
        unprotect(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 4000, PASSWORD)


def test_tampered_protected_file_fails_its_integrity_check(protected):
    import olefile

    ole = olefile.OleFileIO(io.BytesIO(protected))
    package = ole.openstream("EncryptedPackage").read()
    ole.close()
    data = bytearray(protected)
    at = bytes(data).find(package[100:140])  # a run of the package, in a regular sector
    assert at > 0
    data[at + 5] ^= 0xFF
    with pytest.raises(NotAWordFile, match="altered or damaged"):
        unprotect(bytes(data), PASSWORD)


def _with_descriptor(protected: bytes, edit) -> bytes:
    """Rewrite the XML in the EncryptionInfo stream (same length, padded with spaces)."""
    import olefile

    raw = olefile.OleFileIO(io.BytesIO(protected)).openstream("EncryptionInfo").read()
    new = edit(raw[8:])
    assert len(new) <= len(raw) - 8
    new = new + b" " * (len(raw) - 8 - len(new))
    data = bytes(protected)
    assert data.count(raw[8:]) == 1
    return data.replace(raw[8:], new)


def test_huge_spin_count_in_a_returned_file_is_refused_before_hashing(protected):
    evil = _with_descriptor(protected, lambda x: x.replace(b'spinCount="100000"', b'spinCount="9999999"')
                              .replace(b"\n    <", b"\n<"))
    assert protection_info(evil).spin_count == 9_999_999
    with pytest.raises(NotAWordFile, match="password-hash rounds"):
        unprotect(evil, PASSWORD)


def test_entities_in_the_encryption_header_are_refused(protected):
    def inject(xml: bytes) -> bytes:
        decl_end = xml.index(b"?>") + 2
        return xml[:decl_end] + b'<!DOCTYPE e [<!ENTITY a "b">]>' + xml[decl_end:].replace(b"\n    ", b"\n")

    with pytest.raises(UnsafeXml):
        unprotect(_with_descriptor(protected, inject), PASSWORD)


def test_file_size_limit_applies_before_decrypting(protected):
    from pepflow.documents import ReadLimits

    with pytest.raises(TooLarge):
        unprotect(protected, PASSWORD, limits=ReadLimits(max_file_bytes=len(protected) - 1))


# --------------------------------------------------------------------------- passwords


def test_document_password_is_stable_and_readable():
    pw = document_password(SETTING_SECRET, REF, 1)
    assert pw == document_password(SETTING_SECRET, REF, 1)
    assert re.fullmatch(r"[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}", pw)
    assert not set(pw) & set("ilou")  # nothing reads as something else
    assert set(pw.replace("-", "")) <= set(PASSWORD_ALPHABET)
    assert len(pw) == 19  # 16 characters, 80 bits


def test_document_password_differs_per_pep_version_kind_and_setting():
    seen = {
        document_password(SETTING_SECRET, REF, 1),
        document_password(SETTING_SECRET, REF, 2),
        document_password(SETTING_SECRET, "PEP-C-0002-2026-AUT", 1),
        document_password(SETTING_SECRET, REF, 1, kind="form"),
        document_password(SETTING_SECRET, REF, 1, kind="final"),
        document_password(bytes(range(1, 33)), REF, 1),
    }
    assert len(seen) == 6


def test_document_password_known_answer():
    """Pinned: a change of derivation would change every password a council has given out."""
    assert document_password(b"\x00" * 32, "PEP-C-0001-2026-AUT", 1) == document_password(
        b"\x00" * 32, " PEP-C-0001-2026-AUT ", 1)
    assert document_password(b"\x00" * 32, "PEP-C-0001-2026-AUT", 1) == "9w5b-k5c3-k53g-km4a"


@pytest.mark.parametrize(
    ("secret", "ref", "version", "kind"),
    [(b"short", REF, 1, "form"), (SETTING_SECRET, "", 1, "form"), (SETTING_SECRET, REF, -1, "form"),
     (SETTING_SECRET, REF, True, "form"), (SETTING_SECRET, REF, 1, "Form Letter")],
)
def test_document_password_refuses_bad_input(secret, ref, version, kind):
    with pytest.raises(ValueError):
        document_password(secret, ref, version, kind=kind)


def test_setting_secrets_are_random_and_long():
    a, b = new_setting_secret(), new_setting_secret()
    assert len(a) == 32 and a != b


def test_password_spelled_for_the_phone():
    assert spell_password("k7mq-2xfp") == "kilo seven mike quebec, dash, two x-ray foxtrot papa"


# --------------------------------------------------------------------------- returned forms


def test_returned_form_saved_with_its_password_reads_back(form):
    expected = school_return("school-age")
    filled = fill_form(form, expected, MEETING)
    result = read_school_return(protect(filled, PASSWORD), REF, SECRET, password=PASSWORD)
    assert result.values == expected
    assert result.meeting == MEETING
    assert result.missing_fields == [] and result.invalid_fields == {}


def test_returned_encrypted_form_without_the_password_is_refused(form):
    with pytest.raises(Encrypted, match="no password was given"):
        read_school_return(protect(form, PASSWORD), REF, SECRET)


def test_returned_form_with_another_password_is_refused(form):
    other = document_password(SETTING_SECRET, REF, 2, kind="form")
    with pytest.raises(WrongPassword, match="does not open"):
        read_school_return(protect(form, other), REF, SECRET, password=PASSWORD)


def test_unprotected_return_reads_the_same_with_a_password(form):
    assert read_school_return(form, REF, SECRET, password=PASSWORD).identity == identity()


def test_protected_form_for_another_child_is_still_refused():
    from pepflow.documents import WrongPep

    other = render_pep_form(identity("PEP-C-0002-2026-AUT", "C-0002"), content("school-age"), SECRET)
    with pytest.raises(WrongPep, match="PEP-C-0002-2026-AUT"):
        read_school_return(protect(other, PASSWORD), REF, SECRET, password=PASSWORD)
