"""Password protection for the Word files that leave the council.

:func:`protect` writes a standard password-protected Word file (MS-OFFCRYPTO "agile"
encryption: AES-256-CBC, SHA-512, 100,000 password-hash spins, an HMAC-SHA-512 over the
encrypted package), exactly what Word 2013+ writes, so Word and LibreOffice open it
with the password. :func:`unprotect` opens such a file again (a designated teacher may
re-save the returned form with its password); a wrong password is :class:`WrongPassword`.

Passwords are not chosen by people: :func:`document_password` derives each document's
password from a per-setting secret kept in the records store, so the council can tell a
designated teacher the password of any document it sent (by phone, or in a separate
message) and no e-mail ever carries a file together with its password. See
``docs/document-security.md`` for the whole design and the threat model.

Speed. The password-hash spin (H0 = SHA-512(salt + password), then 100,000 times
Hn = SHA-512(n as 4 bytes LE + Hn-1)) is the cost of each file, on purpose: it is what
makes guessing passwords slow. msoffcrypto-tool runs it with ``struct.pack`` and a
method lookup per iteration. :func:`_spin` runs the chain in C (``_spin.c``: OpenSSL's
SHA-512 over each 68-byte block, the interpreter released; about half the CPU of the
Python loop, ``bench/spin_bench.py``) once it has given the same answer as the Python
loop; where it was not built, the Python loop with precomputed counters (constants of
the algorithm, not secrets) and the fastest SHA-512 constructor, and the log says so.
Nothing is shared between files: every file gets fresh random salts,
a fresh verifier and a fresh 256-bit package key. The rest of the format (payload
segments, data integrity HMAC, the XML descriptor, the OLE container) is
msoffcrypto-tool's own code, and decryption is entirely msoffcrypto-tool's, so every
file we write is checked by an independent implementation in the tests.

One deliberate difference from ``msoffcrypto.OOXMLFile.encrypt``: msoffcrypto makes the
package key from 16 random bytes padded to 32 with 0x36, i.e. 128 bits of randomness
in an AES-256 key; :func:`protect` uses 32 random bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from struct import unpack_from

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pepflow.documents._docxpkg import (
    DEFAULT_LIMITS,
    OLE_MAGIC,
    DocumentRejected,
    NotAWordFile,
    ReadLimits,
    TooLarge,
    WrongPassword,
    parse_xml,
)

__all__ = [
    "MAX_SPIN_COUNT",
    "PASSWORD_ALPHABET",
    "SPIN_COUNT",
    "ProtectionInfo",
    "WrongPassword",
    "document_password",
    "is_protected",
    "new_setting_secret",
    "protect",
    "protection_info",
    "spell_password",
    "unprotect",
]

SPIN_COUNT = 100_000  # Word's own; never lower it to go faster
MAX_SPIN_COUNT = 1_000_000  # a returned file asking for more is refused (CPU exhaustion)
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 255  # Word's limit
MAX_ENCRYPTION_INFO_BYTES = 64 * 1024

log = logging.getLogger(__name__)

ENC_NS = "http://schemas.microsoft.com/office/2006/encryption"
PW_NS = "http://schemas.microsoft.com/office/2006/keyEncryptor/password"

# Block keys of MS-OFFCRYPTO 2.3.4.11 / 2.3.4.13.
_BLK_VERIFIER_INPUT = bytes([0xFE, 0xA7, 0xD2, 0x76, 0x3B, 0x4B, 0x9E, 0x79])
_BLK_VERIFIER_VALUE = bytes([0xD7, 0xAA, 0x0F, 0x6D, 0x30, 0x61, 0x34, 0x4E])
_BLK_KEY_VALUE = bytes([0x14, 0x6E, 0x0B, 0xE7, 0xAB, 0xAC, 0xD0, 0xD6])


# --------------------------------------------------------------------------- key derivation


@lru_cache(maxsize=1)
def _counters(spin_count: int) -> tuple[bytes, ...]:
    """The iteration numbers as 4-byte little-endian strings: constants of the algorithm."""
    return tuple(i.to_bytes(4, "little") for i in range(spin_count))


def _spin(password: str, salt: bytes, spin_count: int = SPIN_COUNT) -> bytes:
    """MS-OFFCRYPTO 2.3.4.11 iterated hash: H0 = H(salt + pw), Hn+1 = H(n + Hn)."""
    h0 = hashlib.sha512(salt + password.encode("utf-16-le")).digest()
    chain = _c_chain()
    if chain is not None:
        return chain(h0, spin_count)
    return _python_chain(h0, spin_count)


def _python_chain(h: bytes, spin_count: int) -> bytes:
    """The spin's chain from H0 in Python (the reference the C chain is checked against)."""
    sha512 = _sha512_constructor()
    for counter in _counters(spin_count) if spin_count == SPIN_COUNT else (
        i.to_bytes(4, "little") for i in range(spin_count)
    ):
        h = sha512(counter + h).digest()
    return h


@lru_cache(maxsize=1)
def _c_chain() -> Callable[[bytes, int], bytes] | None:
    """The C chain (``pepflow.documents._spin``), if it was built and gives the Python
    chain's answer (checked once, on 0, 1 and 1,000 rounds); else None, and the log
    says the spins run in Python (about twice the CPU)."""
    try:
        from pepflow.documents._spin import spin
    except ImportError as exc:
        log.warning("the password spin runs in Python (about twice the CPU): its C part was not built (%s); "
                    "reinstall with a C compiler and OpenSSL's headers (Debian: gcc, libssl-dev)", exc)
        return None
    h0 = hashlib.sha512(b"pepflow spin check").digest()
    if any(spin(h0, n) != _python_chain(h0, n) for n in (0, 1, 1000)):
        log.error("the password spin runs in Python: its C part gave another answer than the Python chain")
        return None
    return spin


@lru_cache(maxsize=1)
def _sha512_constructor():
    """The fastest SHA-512 for the spin's 100,000 hashes of 68 bytes each.

    Python's own implementation (``_sha2`` from 3.12, ``_sha512`` before) hashes such a
    short input in about 0.7 of the time OpenSSL's does through hashlib
    (``bench/spin_bench.py``: 38.4 against 56.6 ms a spin on the 2-core machine):
    OpenSSL 3 dispatches every new hash object through its provider layer. The answer
    is checked against hashlib's."""
    expected = hashlib.sha512(b"abc").digest()
    for module_name, name in (("_sha2", "sha512"), ("_sha512", "sha512"), ("_hashlib", "openssl_sha512")):
        try:
            module = __import__(module_name)
            f = getattr(module, name)
            if f(b"abc").digest() == expected:
                return f
        except (ImportError, AttributeError):  # pragma: no cover - another Python build
            continue
    return hashlib.sha512  # pragma: no cover


def _key(h: bytes, block_key: bytes) -> bytes:
    return hashlib.sha512(h + block_key).digest()[:32]


def _aes_cbc(key: bytes, iv: bytes, data: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


# --------------------------------------------------------------------------- protect


def _check_password(password: str) -> None:
    if not isinstance(password, str):
        raise TypeError("the password must be a str")
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ValueError(
            f"a document password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters "
            "(use document_password() to make one)"
        )


def protect(docx: bytes, password: str, *, spin: Callable[[str, bytes], bytes] | None = None) -> bytes:
    """The Word file ``docx`` encrypted with ``password`` (AES-256 agile, 100,000 spins).

    ``spin`` computes the password-hash spin; the default runs it in this thread, a
    :class:`pepflow.documents.spin_pool.DocumentPool` on another core."""
    from msoffcrypto.method.container.ecma376_encrypted import ECMA376Encrypted
    from msoffcrypto.method.ecma376_agile import ECMA376Agile, ECMA376AgileEncryptionInfo

    if not isinstance(docx, (bytes, bytearray, memoryview)):
        raise TypeError("expected the document's bytes")
    docx = bytes(docx)
    if docx[:8] == OLE_MAGIC:
        raise ValueError("the document is already protected (or is an old .doc file)")
    if docx[:4] != b"PK\x03\x04":
        raise ValueError("only Word (.docx) files can be protected")
    _check_password(password)

    info = ECMA376AgileEncryptionInfo()  # AES, 256 bits, SHA512, CBC, 16-byte salts
    assert info.encryptedKey.keyBits == 256 and info.encryptedKey.hashName == "SHA512"
    info.spinCount = SPIN_COUNT
    salt = secrets.token_bytes(info.encryptedKey.saltSize)
    info.encryptedKey.saltValue = salt
    h = (spin or _spin)(password, salt)
    if len(h) != hashlib.sha512().digest_size:
        raise RuntimeError("the password spin returned a value of the wrong size")

    verifier = secrets.token_bytes(16)
    info.encryptedVerifierHashInput = _aes_cbc(_key(h, _BLK_VERIFIER_INPUT), salt, verifier)
    info.encryptedVerifierHashValue = _aes_cbc(
        _key(h, _BLK_VERIFIER_VALUE), salt, hashlib.sha512(verifier).digest()
    )
    package_key = secrets.token_bytes(32)
    info.encryptedKeyValue = _aes_cbc(_key(h, _BLK_KEY_VALUE), salt, package_key)
    info.keyData.saltValue = secrets.token_bytes(info.keyData.saltSize)

    package = ECMA376Agile.encrypt_payload(io.BytesIO(docx), info.keyData, package_key, info.keyData.saltValue)
    encryption_info = ECMA376Agile.get_encryption_information(info, package, package_key)
    out = io.BytesIO()
    ECMA376Encrypted(package, encryption_info).write_to(out)
    return out.getvalue()


# --------------------------------------------------------------------------- read back


@dataclass(frozen=True)
class ProtectionInfo:
    """What a protected file's EncryptionInfo stream says."""

    method: str  # "agile" or "standard"
    cipher: str  # "AES"
    key_bits: int
    hash_algorithm: str
    spin_count: int
    chaining: str | None = None

    def __str__(self) -> str:
        return f"{self.cipher}-{self.key_bits} {self.method}, {self.spin_count} spins"


def is_protected(data: bytes) -> bool:
    """Whether ``data`` is an OLE file (a protected .docx looks like one from outside)."""
    return bytes(data[:8]) == OLE_MAGIC


def _ole_streams(data: bytes) -> tuple[bytes, bytes]:
    """The EncryptionInfo stream and the size of the EncryptedPackage stream, checked."""
    import olefile

    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
        try:
            names = {"/".join(e) for e in ole.listdir(streams=True, storages=False)}
            if "EncryptionInfo" not in names or "EncryptedPackage" not in names:
                raise NotAWordFile(
                    "The file is an old-style Word 97-2003 (.doc) or other OLE file, not a password-protected "
                    ".docx. Please save it as a Word Document (.docx)."
                )
            if ole.get_size("EncryptionInfo") > MAX_ENCRYPTION_INFO_BYTES:
                raise TooLarge("The file's encryption header is implausibly large. Refused.")
            info = ole.openstream("EncryptionInfo").read()
            package_head = ole.openstream("EncryptedPackage").read(8)
        finally:
            ole.close()
    except DocumentRejected:
        raise
    except Exception as exc:  # olefile raises many kinds on a hostile container
        raise NotAWordFile(f"The password-protected file is damaged ({type(exc).__name__}).") from None
    return info, package_head


def _parse_info(info: bytes) -> ProtectionInfo:
    if len(info) < 8:
        raise NotAWordFile("The file's encryption header is damaged.")
    major, minor = unpack_from("<HH", info, 0)
    if (major, minor) == (4, 4):
        xml = info[8:]
        root = parse_xml(xml, "EncryptionInfo")  # UnsafeXml on a DTD or entities
        key_data = root.find(f"{{{ENC_NS}}}keyData")
        encrypted_key = next(root.iter(f"{{{PW_NS}}}encryptedKey"), None)
        if key_data is None or encrypted_key is None:
            raise NotAWordFile("The file is encrypted with a certificate or an unknown method, not a password.")
        try:
            spin = int(encrypted_key.get("spinCount", ""))
            key_bits = int(key_data.get("keyBits", ""))
        except ValueError:
            raise NotAWordFile("The file's encryption header is damaged.") from None
        return ProtectionInfo(
            method="agile",
            cipher=key_data.get("cipherAlgorithm", "?"),
            key_bits=key_bits,
            hash_algorithm=key_data.get("hashAlgorithm", "?"),
            spin_count=spin,
            chaining=key_data.get("cipherChaining"),
        )
    if major in (2, 3, 4) and minor == 2:
        # Standard encryption (Office 2007, older LibreOffice): AES-128/256, SHA-1, 50,000 spins.
        if len(info) < 12 + 32:
            raise NotAWordFile("The file's encryption header is damaged.")
        alg_id, alg_hash, key_size = unpack_from("<III", info, 12 + 8)
        cipher = {0x660E: "AES", 0x660F: "AES", 0x6610: "AES", 0x6801: "RC4"}.get(alg_id, "?")
        return ProtectionInfo(method="standard", cipher=cipher, key_bits=key_size,
                              hash_algorithm="SHA1" if alg_hash in (0, 0x8004) else "?", spin_count=50_000)
    raise NotAWordFile(f"The file uses an encryption method we do not read (version {major}.{minor}).")


def protection_info(data: bytes) -> ProtectionInfo:
    """Read back how a protected file is encrypted (for tests, the benchmark and audits)."""
    if not is_protected(data):
        raise NotAWordFile("The file is not a password-protected Word file.")
    info, _ = _ole_streams(bytes(data))
    return _parse_info(info)


def unprotect(data: bytes, password: str, *, limits: ReadLimits = DEFAULT_LIMITS) -> bytes:
    """The .docx inside a password-protected Word file; :class:`WrongPassword` if it does not open."""
    import msoffcrypto
    from msoffcrypto import exceptions as mx

    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("expected the file's bytes")
    data = bytes(data)
    if not isinstance(password, str):
        raise TypeError("the password must be a str")
    if len(data) > limits.max_file_bytes:
        raise TooLarge(f"The file is {len(data) // 1024} KiB; at most {limits.max_file_bytes // 1024} KiB is accepted.")
    if not is_protected(data):
        raise NotAWordFile("The file is not a password-protected Word file.")
    raw_info, head = _ole_streams(data)
    info = _parse_info(raw_info)  # refuses DTDs before msoffcrypto's own XML parser sees the header
    if not 0 < info.spin_count <= MAX_SPIN_COUNT:
        raise NotAWordFile(f"The file asks for {info.spin_count} password-hash rounds; at most {MAX_SPIN_COUNT} are accepted.")
    if info.cipher != "AES":
        raise NotAWordFile(f"The file is encrypted with {info.cipher}, which we do not accept. Please use Word's own password protection.")
    if len(head) == 8 and unpack_from("<Q", head)[0] > limits.max_file_bytes:
        raise TooLarge("The protected document claims to be larger than we accept. Refused.")
    try:
        office = msoffcrypto.OfficeFile(io.BytesIO(data))
        office.load_key(password=password, verify_password=True)
    except mx.InvalidKeyError:
        raise WrongPassword(
            "The password does not open this file. If the school saved it with a password of its own, "
            "ask them to send it again with the password we gave them, or with no password."
        ) from None
    except Exception as exc:  # hostile streams: struct, index, value errors in the library
        raise NotAWordFile(f"The password-protected file cannot be read ({type(exc).__name__}).") from None
    out = io.BytesIO()
    try:
        if info.method == "agile":
            office.decrypt(out, verify_integrity=True)
        else:
            office.decrypt(out)
    except mx.InvalidKeyError:
        raise NotAWordFile(
            "The password is right but the protected file has been altered or damaged "
            "(its integrity check fails or it holds no Word document)."
        ) from None
    except Exception as exc:
        raise NotAWordFile(f"The password-protected file is damaged ({type(exc).__name__}).") from None
    docx = out.getvalue()
    if docx[:4] != b"PK\x03\x04":
        raise NotAWordFile("The password-protected file does not contain a Word (.docx) document.")
    return docx


# --------------------------------------------------------------------------- passwords

#: Crockford's base32 in lower case: no i, l, o or u, so nothing reads as something else.
PASSWORD_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
PASSWORD_GROUPS = 4
PASSWORD_GROUP_LENGTH = 4  # 4 x 4 characters x 5 bits = 80 bits
_PASSWORD_CONTEXT = b"pepflow/document-password/v1"
_KIND = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


def new_setting_secret() -> bytes:
    """A fresh per-setting secret (32 random bytes) for the records store."""
    return secrets.token_bytes(32)


def document_password(setting_secret: bytes, pep_reference: str, version: int, *, kind: str = "document") -> str:
    """The password of one document: HMAC-SHA256 of the PEP reference and version.

    Stable (the council can say it again on the phone any day), different for every
    PEP, version and kind, and readable: four groups of four characters from
    :data:`PASSWORD_ALPHABET` (80 bits), e.g. ``"k7mq-2xfp-9rtc-4hwn"``. ``kind`` keeps
    the form and the final PEP of the same version apart (``"form"``, ``"final"``).
    """
    if not isinstance(setting_secret, (bytes, bytearray)) or len(setting_secret) < 16:
        raise ValueError("the setting secret must be at least 16 bytes")
    if not isinstance(pep_reference, str) or not pep_reference.strip() or "\0" in pep_reference:
        raise ValueError("a PEP reference is needed")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise ValueError("the version must be a whole number, 0 or more")
    if not _KIND.match(kind):
        raise ValueError(f"unexpected document kind {kind!r}")
    message = b"\0".join((_PASSWORD_CONTEXT, kind.encode(), pep_reference.strip().encode("utf-8"), str(version).encode()))
    digest = hmac.new(bytes(setting_secret), message, hashlib.sha256).digest()
    n = int.from_bytes(digest[:10], "big")
    chars = []
    for _ in range(PASSWORD_GROUPS * PASSWORD_GROUP_LENGTH):
        n, r = divmod(n, 32)
        chars.append(PASSWORD_ALPHABET[r])
    groups = ["".join(chars[i : i + PASSWORD_GROUP_LENGTH]) for i in range(0, len(chars), PASSWORD_GROUP_LENGTH)]
    return "-".join(groups)


_SPOKEN = {
    **dict(zip("0123456789", "zero one two three four five six seven eight nine".split())),
    **{c: w for c, w in zip(
        "abcdefghjkmnpqrstvwxyz",
        "alfa bravo charlie delta echo foxtrot golf hotel juliett kilo mike november papa quebec romeo "
        "sierra tango victor whiskey x-ray yankee zulu".split(),
    )},
    "-": "dash",
}


def spell_password(password: str) -> str:
    """The password as it is read out on the phone: ``"kilo seven mike quebec, dash, ..."``."""
    words = []
    for group in password.split("-"):
        words.append(" ".join(_SPOKEN.get(c, repr(c)) for c in group.lower()))
    return ", dash, ".join(words)
