"""The council's single sign-on: OpenID Connect authorisation code flow with PKCE.

Enabled by configuration (``PEP_WEB_OIDC_ISSUER``, ``PEP_WEB_OIDC_CLIENT_ID``,
``PEP_WEB_OIDC_CLIENT_SECRET``, ``PEP_WEB_OIDC_REDIRECT_URL``). The identity is read
from the provider's userinfo endpoint over TLS with the access token just obtained
from its token endpoint, and matched to a web account by
``PEP_WEB_OIDC_USERNAME_CLAIM`` (default ``email``); roles still come from the staff
record the account is linked to. Accounts are never created from a sign-on alone.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import urllib.parse
import urllib.request
from typing import Any

from .settings import WebSettings


class OidcError(Exception):
    pass


def _get_json(url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    if not url.startswith("https://"):
        raise OidcError(f"refusing a non-TLS identity provider URL: {url}")
    request = urllib.request.Request(url, data=data, headers={"Accept": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - https only, checked above
        return json.loads(response.read())


class OidcClient:
    def __init__(self, settings: WebSettings, fetch=_get_json) -> None:
        self.settings = settings
        self.fetch = fetch
        self._metadata: dict[str, Any] | None = None

    def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            issuer = self.settings.oidc_issuer.rstrip("/")
            meta = self.fetch(f"{issuer}/.well-known/openid-configuration")
            if meta.get("issuer", "").rstrip("/") != issuer:
                raise OidcError("the provider's metadata names another issuer")
            self._metadata = meta
        return self._metadata

    def start(self) -> tuple[str, dict[str, str]]:
        """The URL to send the browser to, and what to keep in a short-lived cookie."""
        state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = urllib.parse.urlencode({
            "response_type": "code", "client_id": self.settings.oidc_client_id,
            "redirect_uri": self.settings.oidc_redirect_url, "scope": self.settings.oidc_scopes,
            "state": state, "nonce": nonce, "code_challenge": challenge, "code_challenge_method": "S256",
        })
        return f"{self.metadata()['authorization_endpoint']}?{query}", {"state": state, "nonce": nonce, "verifier": verifier}

    def finish(self, code: str, state: str, kept: dict[str, str]) -> str:
        """Exchange the code; return the username claim."""
        if not secrets.compare_digest(state, kept.get("state", "")):
            raise OidcError("state does not match")
        form = {
            "grant_type": "authorization_code", "code": code, "redirect_uri": self.settings.oidc_redirect_url,
            "client_id": self.settings.oidc_client_id, "code_verifier": kept["verifier"],
        }
        if self.settings.oidc_client_secret is not None:
            form["client_secret"] = self.settings.oidc_client_secret.get_secret_value()
        tokens = self.fetch(self.metadata()["token_endpoint"], data=urllib.parse.urlencode(form).encode(),
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
        access = tokens.get("access_token")
        if not access:
            raise OidcError("the provider returned no access token")
        claims = self.fetch(self.metadata()["userinfo_endpoint"], headers={"Authorization": f"Bearer {access}"})
        value = claims.get(self.settings.oidc_username_claim)
        if not value:
            raise OidcError(f"the provider gave no {self.settings.oidc_username_claim!r} claim")
        return str(value)
