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


@pytest.fixture(params=[False, True], ids=["in-a-thread", "own-process"])
def outbox(tmp_path: Path, request) -> Iterator[LocalOutboxServer]:
    """The local outbox in a thread (the default) and in a process of its own
    (``PEP_OUTBOX_PROCESS=true``): the same server either way."""
    with LocalOutboxServer(tmp_path / "outbox-state", own_process=request.param) as server:
        yield server


USERNAME = "pepflow"
PASSWORD = "correct horse battery staple"


def _authenticator(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USERNAME.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def secure_server(cert_dir: Path):
    """Start a server that requires STARTTLS and AUTH (over TLS), with a ScriptedHandler.

    ``start(handler, port=0)`` returns ``(handler, controller, settings)``; the settings
    carry the login. ``tls=False`` starts a plain server that offers no STARTTLS.
    """
    started: list[Controller] = []

    def start(handler: ScriptedHandler | None = None, *, port: int = 0, tls: bool = True):
        handler = handler or ScriptedHandler()
        kwargs = dict(
            hostname="127.0.0.1", port=port, server_hostname="test-server",
            auth_required=True, authenticator=_authenticator,
        )
        if tls:
            kwargs.update(
                tls_context=server_tls_context(cert_dir / "cert.pem", cert_dir / "key.pem"),
                require_starttls=True, auth_require_tls=True,
            )
        else:  # a plain server: no STARTTLS (and so no AUTH either)
            kwargs.update(auth_required=False)
        controller = SmtpServerController(handler, **kwargs)
        controller.start()
        started.append(controller)
        settings = SmtpSettings(
            host="127.0.0.1", port=controller.port, security="starttls",
            username=USERNAME, password=PASSWORD, ca_bundle=cert_dir / "cert.pem",
            timeout=5, sender="bso.north@council.example", local_hostname="localhost",
        )
        return handler, controller, settings

    yield start
    for controller in started:
        if controller._thread is not None:
            controller.stop()
