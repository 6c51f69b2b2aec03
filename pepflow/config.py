"""One validated settings object for the product, from the environment or ``.env``.

Every setting is ``PEP_<NAME>``. Outside development, placeholder secrets are
refused: a council's deployment must set its own.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET = "development-only-document-secret"


class AppSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PEP_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path("var")
    database_url: str | None = None  # default: SQLite under data_dir
    council_name: str = "Example Council (fictional)"
    mail_sender: str = "pep.business.support@council.example.org"
    # HMAC secret that ties a returned Word form to the PEP it was sent for
    document_secret: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    # how designated teachers get the password of a protected document (docs/document-security.md)
    password_channel: Literal["phone", "separate-email"] = "phone"
    # separate-email: how long after the file its password follows (never together)
    password_delay_minutes: int = Field(default=120, ge=15, le=24 * 60)
    # a tagged PDF copy of each final PEP, set in-process by Typst (docs/final-pdf.md)
    final_pdf: bool = True
    # worker processes for the password spins of protected Word files (100,000
    # SHA-512 rounds each) and the python-docx work (forms and final PEPs made,
    # returned forms read), so documents do not hold the product's own process;
    # default: one per core (none on one core); 0 does it all in-process
    document_processes: int | None = Field(default=None, ge=0, le=32)
    # calls each document worker makes before it is replaced by a fresh one: the C
    # memory python-docx/lxml leave in a worker is never given back (docs/simulate-speed-log.md,
    # "Workers recycled"); 0 keeps the workers for the product's life
    document_recycle_after: int = Field(default=1000, ge=0, le=1_000_000)
    # without a relay: true runs the local STARTTLS outbox in a process of its own,
    # so its TLS and SMTP work take nothing from the engine's interpreter (about 6% of
    # the product's process in a simulated year) for some 20-25 MiB; false runs it in
    # a thread; default: its own process where the machine has more than one core
    outbox_process: bool | None = None
    # a council relay; without one the product runs its own local STARTTLS outbox
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_security: Literal["starttls", "tls"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_ca_bundle: Path | None = None
    # the address staff open the web at: links in staff e-mails start with it
    # (e.g. https://pep.council.example.org); a link carries references, never a name
    web_base_url: str = "http://127.0.0.1:8000"

    @property
    def document_workers_recycled_after(self) -> int | None:
        """Calls per document worker before it is replaced (``document_recycle_after``;
        ``None`` for 0: kept for the product's life), as :class:`DocumentPool` takes it."""
        return self.document_recycle_after or None

    @property
    def outbox_in_own_process(self) -> bool:
        """Whether the local outbox runs in a process of its own (``outbox_process``,
        else: when there is another core for it)."""
        if self.outbox_process is not None:
            return self.outbox_process
        return (os.cpu_count() or 1) > 1

    @model_validator(mode="after")
    def _web_base_url_is_an_address(self) -> AppSettings:
        self.web_base_url = check_base_url(self.web_base_url, production=self.environment == "production")
        return self

    @model_validator(mode="after")
    def _no_placeholder_secrets_in_production(self) -> AppSettings:
        if self.environment == "production":
            if self.document_secret.get_secret_value() == DEVELOPMENT_SECRET:
                raise ValueError("PEP_DOCUMENT_SECRET must be set to the council's own secret in production")
            if not self.smtp_host:
                raise ValueError("PEP_SMTP_HOST (the council's mail relay) is required in production")
        if len(self.document_secret.get_secret_value()) < 16:
            raise ValueError("PEP_DOCUMENT_SECRET must be at least 16 characters")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'pep.sqlite3').resolve()}"


def check_base_url(value: str, *, production: bool = False) -> str:
    """The base address without a trailing slash; refused, saying why, when it is not
    an http(s) address of a host, carries a query, fragment or credentials, or (in
    production) is not https."""
    text = (value or "").strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"PEP_WEB_BASE_URL must be the web address staff open, like https://pep.council.example.org (got {text[:80]!r})")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("PEP_WEB_BASE_URL must be a plain address: no query, fragment or user name")
    if production and parts.scheme != "https" and parts.hostname not in ("127.0.0.1", "localhost"):
        raise ValueError("PEP_WEB_BASE_URL must be https in production")
    return text
