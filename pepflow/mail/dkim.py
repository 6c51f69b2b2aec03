"""DKIM signing of outgoing messages, when the council configures a key.

The key, selector and domain come from ``PEP_DKIM_KEY_FILE``, ``PEP_DKIM_SELECTOR`` and
``PEP_DKIM_DOMAIN`` (all three, or none: no signing). The public key is published by
the council at ``<selector>._domainkey.<domain>``. Signing uses dkimpy (``rsa-sha256``,
or ``ed25519-sha256`` for an Ed25519 key) with relaxed/simple canonicalisation over the
headers a recipient relies on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DkimConfigError", "DkimSigner", "dkim_signer_from_env"]

SIGNED_HEADERS: tuple[bytes, ...] = (
    b"from", b"to", b"cc", b"reply-to", b"subject", b"date", b"message-id",
    b"mime-version", b"content-type", b"auto-submitted",
)


class DkimConfigError(ValueError):
    """The DKIM settings are incomplete or the key cannot be used."""


@dataclass(frozen=True)
class DkimSigner:
    selector: str
    domain: str
    private_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not self.selector or not self.domain:
            raise DkimConfigError("DKIM needs a selector and a domain")
        if b"PRIVATE KEY" not in self.private_key:
            raise DkimConfigError("the DKIM key must be a PEM private key (RSA or Ed25519)")

    @property
    def _algorithm(self) -> bytes:
        from cryptography.hazmat.primitives.asymmetric import ed25519
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        key = load_pem_private_key(self.private_key, password=None)
        return b"ed25519-sha256" if isinstance(key, ed25519.Ed25519PrivateKey) else b"rsa-sha256"

    def sign(self, message: bytes) -> bytes:
        """``message`` (CRLF line ends) with a ``DKIM-Signature`` header in front."""
        import dkim

        private_key = self.private_key
        algorithm = self._algorithm
        if algorithm == b"ed25519-sha256":
            # dkimpy wants the raw 32-byte seed, base64, for Ed25519
            import base64

            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.serialization import load_pem_private_key

            key = load_pem_private_key(self.private_key, password=None)
            raw = key.private_bytes(
                serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
            private_key = base64.b64encode(raw)
        try:
            signature = dkim.sign(
                message,
                self.selector.encode("ascii"),
                self.domain.encode("ascii"),
                private_key,
                canonicalize=(b"relaxed", b"simple"),
                signature_algorithm=algorithm,
                include_headers=[h for h in SIGNED_HEADERS if _has_header(message, h)],
                linesep=b"\r\n",
            )
        except dkim.DKIMException as exc:
            raise DkimConfigError(f"DKIM signing failed: {exc}") from exc
        return signature + message


def _has_header(message: bytes, name: bytes) -> bool:
    head = message.split(b"\r\n\r\n", 1)[0].lower()
    return head.startswith(name + b":") or (b"\r\n" + name + b":") in head


def dkim_signer_from_env(environ: Mapping[str, str] | None = None) -> DkimSigner | None:
    """The signer the environment configures, or ``None`` when DKIM is not set up."""
    env = os.environ if environ is None else environ
    values = {name: env.get(f"PEP_DKIM_{name}") for name in ("KEY_FILE", "SELECTOR", "DOMAIN")}
    given = {k for k, v in values.items() if v}
    if not given:
        return None
    if given != set(values):
        missing = ", ".join(f"PEP_DKIM_{k}" for k in sorted(set(values) - given))
        raise DkimConfigError(f"DKIM is half configured: set {missing} too (or none of them)")
    path = Path(values["KEY_FILE"])  # type: ignore[arg-type]
    if not path.is_file():
        raise DkimConfigError(f"PEP_DKIM_KEY_FILE {path} does not exist")
    return DkimSigner(values["SELECTOR"], values["DOMAIN"], path.read_bytes())  # type: ignore[arg-type]
