"""Settings of the web interface: ``PEP_WEB_<NAME>`` in the environment or ``.env``."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PEP_WEB_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    # signs session cookies; when unset, a random key is kept in <data_dir>/web-secret.key
    secret_key: SecretStr | None = None
    session_hours: float = 8.0
    # send cookies only over HTTPS (always so in production, whatever this says)
    cookie_secure: bool = False
    # a production deployment (PEP_ENVIRONMENT=production, set by `pep up`): Secure
    # cookies and HSTS, always - it is served over HTTPS (the council's TLS proxy)
    production: bool = False
    # lockout after repeated failures
    max_failed_sign_ins: int = 5
    lockout_minutes: int = 15
    # the council's single sign-on (OpenID Connect, authorisation code flow with PKCE);
    # enabled when issuer and client id are set
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_redirect_url: str | None = None  # e.g. https://pep.council.example.org/auth/oidc/callback
    oidc_scopes: str = "openid email profile"
    # the claim matched against web account usernames (or staff e-mail addresses)
    oidc_username_claim: str = "email"
    # where node_modules is (bpmn-js and form-js are served from it)
    node_modules: Path | None = None

    @property
    def secure_cookies(self) -> bool:
        return self.cookie_secure or self.production

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    @model_validator(mode="after")
    def _check(self) -> WebSettings:
        if self.oidc_issuer and not self.oidc_issuer.startswith("https://"):
            raise ValueError("PEP_WEB_OIDC_ISSUER must be an https:// URL")
        return self

    def signing_key(self, data_dir: Path) -> str:
        if self.secret_key is not None:
            value = self.secret_key.get_secret_value()
            if len(value) < 32:
                raise ValueError("PEP_WEB_SECRET_KEY must be at least 32 characters")
            return value
        path = data_dir / "web-secret.key"
        if path.exists():
            return path.read_text().strip()
        data_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        path.touch(mode=0o600)
        path.write_text(value)
        return value
