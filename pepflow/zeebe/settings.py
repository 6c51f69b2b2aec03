"""Settings of the Camunda 8 mode, from the environment (``PEP_ZEEBE_*``) or ``.env``.

The worker service and ``pep`` in Camunda 8 mode read these; the records store, the
mail relay and the document secret stay in :class:`pepflow.config.AppSettings`
(``PEP_*``), shared with the embedded mode.

Three ways to reach a gateway:

- plaintext (``PEP_ZEEBE_TLS=false``, the default): development only, the compose
  file's network or the local facade;
- TLS (``PEP_ZEEBE_TLS=true``, optionally ``PEP_ZEEBE_CA_BUNDLE`` to pin a private CA);
- TLS + OAuth client credentials (``PEP_ZEEBE_CLIENT_ID``, ``PEP_ZEEBE_CLIENT_SECRET``,
  ``PEP_ZEEBE_AUTHORIZATION_SERVER_URL``, usually ``PEP_ZEEBE_TOKEN_AUDIENCE``): what
  Camunda 8 Self-Managed with Identity and Camunda SaaS expect. The token endpoint is
  verified against ``PEP_ZEEBE_TOKEN_CA_BUNDLE``, by default the gateway's
  ``PEP_ZEEBE_CA_BUNDLE`` (a private CA usually signs both), else the system store.

``PEP_ZEEBE_TENANT_ID`` (default ``<default>``, Camunda's default tenant) goes on every
deployment, message, instance and job activation; ``PEP_ZEEBE_TENANT_IDS`` (a JSON list)
lets one worker serve several tenants.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EngineMode = Literal["embedded", "zeebe"]
#: Camunda's default tenant: what a cluster without multi-tenancy accepts
DEFAULT_TENANT = "<default>"
#: Camunda's tenant id rule (IdentifierValidator.TENANT_ID_MASK)
_TENANT = re.compile(rf"{re.escape(DEFAULT_TENANT)}|[A-Za-z0-9_.-]{{1,31}}")


class ZeebeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PEP_ZEEBE_", env_file=".env", extra="ignore")

    # host:port of the Zeebe gateway's gRPC endpoint
    address: str = "127.0.0.1:26500"
    tls: bool = False
    # PEM bundle to trust instead of the system store (a private CA); implies TLS
    ca_bundle: Path | None = None
    # PEM bundle for the OAuth token endpoint (default: ca_bundle, else the system store)
    token_ca_bundle: Path | None = None
    # OAuth 2.0 client credentials (Camunda Identity / Keycloak, or Camunda SaaS)
    client_id: str | None = None
    client_secret: SecretStr | None = None
    authorization_server_url: str | None = None
    token_audience: str | None = None
    scope: str | None = None
    # the worker's name in Operate and in the job records (default: the host name)
    worker_name: str | None = None
    # how long one ActivateJobs long-poll waits on the gateway, in ms (0: gateway default)
    request_timeout_ms: int = Field(default=30_000, ge=0)
    # gateway errors in a row before the worker gives up (-1: never)
    max_connection_retries: int = -1
    # job push (Zeebe 8.4+) in addition to polling
    stream_enabled: bool = False
    # on SIGTERM, how long jobs in hand may take to finish before the worker exits anyway
    shutdown_grace_seconds: float = Field(default=130.0, gt=0)
    # written when the worker is connected and working, removed when it stops (health checks);
    # default: worker.ready in PEP_DATA_DIR
    ready_file: Path | None = None
    # multi-tenancy (Zeebe 8.3+): the tenant of deployments, messages and instances ...
    tenant_id: str = DEFAULT_TENANT
    # ... and the tenants whose jobs the worker takes (empty: tenant_id's)
    tenant_ids: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> ZeebeSettings:
        oauth = [self.client_id, self.client_secret, self.authorization_server_url]
        if any(v is not None for v in oauth) and not all(v is not None for v in oauth):
            raise ValueError(
                "PEP_ZEEBE_CLIENT_ID, PEP_ZEEBE_CLIENT_SECRET and PEP_ZEEBE_AUTHORIZATION_SERVER_URL go together"
            )
        if self.uses_oauth and not self.uses_tls:
            raise ValueError("OAuth client credentials are only sent over TLS: set PEP_ZEEBE_TLS=true")
        if self.ca_bundle is not None and not self.ca_bundle.is_file():
            raise ValueError(f"PEP_ZEEBE_CA_BUNDLE {self.ca_bundle} does not exist")
        if self.token_ca_bundle is not None and not self.token_ca_bundle.is_file():
            raise ValueError(f"PEP_ZEEBE_TOKEN_CA_BUNDLE {self.token_ca_bundle} does not exist")
        if ":" not in self.address:
            raise ValueError(f"PEP_ZEEBE_ADDRESS must be host:port, not {self.address!r}")
        for tenant in (self.tenant_id, *self.tenant_ids):
            if not _TENANT.fullmatch(tenant):
                raise ValueError(
                    f"tenant id {tenant!r}: Camunda's tenant ids are {DEFAULT_TENANT} or up to 31 letters, digits, "
                    "'_', '-' and '.'"
                )
        return self

    @property
    def job_tenants(self) -> list[str]:
        """The tenants whose jobs the worker activates."""
        return list(self.tenant_ids) or [self.tenant_id]

    @property
    def token_verify(self) -> Path | None:
        """The PEM bundle that verifies the token endpoint (None: the system store)."""
        return self.token_ca_bundle or self.ca_bundle

    @property
    def uses_oauth(self) -> bool:
        return self.client_id is not None

    @property
    def uses_tls(self) -> bool:
        return self.tls or self.ca_bundle is not None


class EngineSwitch(BaseSettings):
    """``PEP_ENGINE``: ``embedded`` (default) or ``zeebe`` (Camunda 8).

    Its own class so that this package does not change the embedded mode's
    :class:`pepflow.config.AppSettings`."""

    model_config = SettingsConfigDict(env_prefix="PEP_", env_file=".env", extra="ignore")

    engine: EngineMode = "embedded"


def engine_mode() -> EngineMode:
    return EngineSwitch().engine
