"""Real SMTP servers on 127.0.0.1 for the mail tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from pepflow.mail import LocalOutboxServer, SmtpSettings
from pepflow.mail.local_outbox import (
    SmtpServerController,
    ensure_certificate,
    server_tls_context,
)

from .servers import ScriptedHandler


@pytest.fixture
def cert_dir(tmp_path: Path) -> Path:
    ensure_certificate(tmp_path / "tls")
    return tmp_path / "tls"


@pytest.fixture
def scripted_server(cert_dir: Path):
    """Start a STARTTLS server (no AUTH) with a ScriptedHandler; yields (handler, settings)."""
    started: list[Controller] = []

    def start(
        handler: ScriptedHandler | None = None,
        *,
        implicit_tls: bool = False,
        cert_dir: Path = cert_dir,
    ):
        handler = handler or ScriptedHandler()
        tls = server_tls_context(cert_dir / "cert.pem", cert_dir / "key.pem")
        if implicit_tls:
            controller = SmtpServerController(
                handler, hostname="127.0.0.1", port=0, ssl_context=tls,
                server_hostname="test-server",
            )
        else:
            controller = SmtpServerController(
                handler, hostname="127.0.0.1", port=0, tls_context=tls,
                require_starttls=True, server_hostname="test-server",
            )
        controller.start()
        started.append(controller)
        settings = SmtpSettings(
            host="127.0.0.1",
            port=controller.port,
            security="tls" if implicit_tls else "starttls",
            ca_bundle=cert_dir / "cert.pem",
            timeout=5,
            sender="pep-service@council.example",
            local_hostname="localhost",
        )
        return handler, settings

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[LocalOutboxServer]:
    with LocalOutboxServer(tmp_path / "outbox-state") as server:
        yield server
