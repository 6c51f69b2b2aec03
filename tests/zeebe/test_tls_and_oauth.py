"""The worker service and ``pep`` in Camunda 8 mode over TLS and OAuth, against real
local servers with self-signed certificates: a gRPC gateway (the facade's Gateway
service on a TLS port, recording the metadata it receives) and an HTTPS OAuth token
endpoint (recording the token requests).

What must hold: the CA bundle is trusted for the gateway *and* the token endpoint (or a
token CA bundle of its own); a TLS failure is reported as itself - certificate verify
failed, host name mismatch, a gateway without TLS - not as "gateway unavailable"; the
worker stops on it instead of waiting forever; the tenant id goes on what is sent.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import threading
import urllib.parse
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import pytest
from pyzeebe.proto import gateway_pb2_grpc as pb_grpc

from pepflow.clock import SimulationClock
from pepflow.engine.runtime import Engine
from pepflow.mail.local_outbox import ensure_certificate
from pepflow.zeebe.client import ZeebeEngine, ZeebeUnavailable
from pepflow.zeebe.diagnosis import GatewayConfigurationError, diagnose
from pepflow.zeebe.facade import FacadeServer, GatewayFacade
from pepflow.zeebe.channel import create_channel
from pepflow.zeebe.service import wait_for_gateway
from pepflow.zeebe.settings import ZeebeSettings

from .conftest import DIAGRAMS

T0 = datetime(2026, 9, 14, 8, 0, tzinfo=timezone.utc)


def certificate(tmp: Path, name: str, *, dns: tuple[str, ...] = ("localhost",), ips: tuple[str, ...] = ("127.0.0.1",)) -> tuple[Path, Path]:
    return ensure_certificate(tmp / name, dns_names=dns, ip_addresses=ips)


class _Metadata(grpc.aio.ServerInterceptor):
    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []

    async def intercept_service(self, continuation, handler_call_details):
        self.seen.append({k: v for k, v in handler_call_details.invocation_metadata or ()})
        return await continuation(handler_call_details)


@pytest.fixture
async def tls_gateway(tmp_path):
    """A Zeebe Gateway service over TLS on 127.0.0.1 with a certificate for the name
    given (``gateway.start(cert, key)``); ``gateway.metadata.seen`` is what it got."""
    engine = Engine(f"sqlite:///{tmp_path / 'engine.sqlite3'}", SimulationClock(T0))
    servers = []

    class Gateway:
        metadata = _Metadata()

        async def start(self, cert: Path, key: Path) -> int:
            server = grpc.aio.server(interceptors=[self.metadata], options=[("grpc.so_reuseport", 0)])
            facade = GatewayFacade(engine)
            facade.attach(asyncio.get_running_loop())
            pb_grpc.add_GatewayServicer_to_server(facade, server)
            credentials = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
            port = server.add_secure_port("127.0.0.1:0", credentials)
            await server.start()
            servers.append(server)
            return port

    yield Gateway()
    for server in servers:
        await server.stop(0)
    engine.close()


class TokenEndpoint:
    """An OAuth 2.0 token endpoint over HTTPS (client credentials), in a thread."""

    def __init__(self, cert: Path, key: Path, *, refuse: bool = False) -> None:
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                basic = self.headers.get("Authorization", "")
                client = base64.b64decode(basic.split(" ", 1)[1]).decode().split(":")[0] if basic.startswith("Basic ") else form.get("client_id")
                outer.requests.append({"path": self.path, "client": client, **{k: v for k, v in form.items() if k != "client_secret"}})
                if refuse:
                    body, status = {"error": "invalid_client", "error_description": "Invalid client credentials"}, 401
                else:
                    body, status = {"access_token": "token-1", "token_type": "Bearer", "expires_in": 300}, 200
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://localhost:{self.server.server_address[1]}/realms/camunda/protocol/openid-connect/token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def _connect(settings: ZeebeSettings) -> bool:
    channel = create_channel(settings)
    try:
        # bounded: a worker that waits forever on a configuration error is the failure
        return await asyncio.wait_for(wait_for_gateway(channel, settings, asyncio.Event(), every=0.1), timeout=30)
    finally:
        await channel.close()


# ------------------------------------------------------------------------ TLS
async def test_the_ca_bundle_is_trusted_for_the_gateway(tls_gateway, tmp_path):
    cert, key = certificate(tmp_path, "gateway")
    port = await tls_gateway.start(cert, key)
    settings = ZeebeSettings(address=f"localhost:{port}", tls=True, ca_bundle=cert)
    assert await _connect(settings) is True
    topology = await asyncio.to_thread(lambda: ZeebeEngine(settings).topology())
    assert topology.cluster_size == 1


async def test_a_self_signed_gateway_certificate_is_reported_as_such(tls_gateway, tmp_path):
    cert, key = certificate(tmp_path, "gateway")
    port = await tls_gateway.start(cert, key)
    settings = ZeebeSettings(address=f"localhost:{port}", tls=True)  # the system store: it does not know this CA
    expected = (f"TLS to the Zeebe gateway at localhost:{port} failed: certificate verify failed: self-signed certificate "
                "(trusting the system's trusted CAs)")
    with pytest.raises(GatewayConfigurationError) as stopped:
        await _connect(settings)  # the worker service stops instead of waiting forever
    assert str(stopped.value) == expected
    with pytest.raises(ZeebeUnavailable) as failed:  # `pep deploy --zeebe`
        await asyncio.to_thread(lambda: ZeebeEngine(settings).deploy([DIAGRAMS / "jobs.bpmn"]))
    assert str(failed.value) == expected


async def test_a_certificate_for_another_host_name_is_reported_as_a_mismatch(tls_gateway, tmp_path):
    cert, key = certificate(tmp_path, "other", dns=("zeebe.council.example",), ips=())
    port = await tls_gateway.start(cert, key)
    settings = ZeebeSettings(address=f"localhost:{port}", tls=True, ca_bundle=cert)
    with pytest.raises(GatewayConfigurationError) as stopped:
        await _connect(settings)
    assert "certificate verify failed: Hostname mismatch, certificate is not valid for 'localhost'." in str(stopped.value)


async def test_tls_settings_against_a_plaintext_gateway_and_the_other_way_round(tls_gateway, tmp_path):
    cert, key = certificate(tmp_path, "gateway")
    engine = Engine(f"sqlite:///{tmp_path / 'plain.sqlite3'}", SimulationClock(T0))
    try:
        async with FacadeServer(engine, "127.0.0.1:0") as plain:
            found = await asyncio.to_thread(diagnose, ZeebeSettings(address=plain.target, tls=True, ca_bundle=cert))
            assert found.fatal and "does the gateway speak TLS? (PEP_ZEEBE_TLS)" in found.message
        port = await tls_gateway.start(cert, key)
        found = await asyncio.to_thread(diagnose, ZeebeSettings(address=f"localhost:{port}"))
        assert found.fatal and found.message == (
            f"the Zeebe gateway at localhost:{port} speaks TLS: set PEP_ZEEBE_TLS=true (and PEP_ZEEBE_CA_BUNDLE for a private CA)"
        )
    finally:
        engine.close()


async def test_a_gateway_that_is_not_there_yet_is_waited_for():
    found = await asyncio.to_thread(diagnose, ZeebeSettings(address="127.0.0.1:9"))
    assert not found.fatal and found.message.startswith("cannot reach the Zeebe gateway at 127.0.0.1:9:")


# ---------------------------------------------------------------------- OAuth
async def test_oauth_uses_the_ca_bundle_for_the_token_endpoint_too(tls_gateway, tmp_path):
    cert, key = certificate(tmp_path, "council-ca")
    port = await tls_gateway.start(cert, key)
    tokens = TokenEndpoint(cert, key)
    try:
        settings = ZeebeSettings(
            address=f"localhost:{port}", tls=True, ca_bundle=cert, client_id="pepflow-workers", client_secret="s3cret",
            authorization_server_url=tokens.url, token_audience="zeebe-api",
        )
        assert await _connect(settings) is True
    finally:
        tokens.close()
    assert tokens.requests == [{
        "path": "/realms/camunda/protocol/openid-connect/token", "client": "pepflow-workers",
        "grant_type": "client_credentials", "audience": "zeebe-api",
    }]
    assert tls_gateway.metadata.seen[-1]["authorization"] == "Bearer token-1"


async def test_a_token_endpoint_with_its_own_ca(tls_gateway, tmp_path):
    gateway_cert, gateway_key = certificate(tmp_path, "gateway-ca")
    idp_cert, idp_key = certificate(tmp_path, "identity-ca")
    port = await tls_gateway.start(gateway_cert, gateway_key)
    tokens = TokenEndpoint(idp_cert, idp_key)
    common = dict(
        address=f"localhost:{port}", tls=True, ca_bundle=gateway_cert, client_id="pepflow-workers",
        client_secret="s3cret", authorization_server_url=tokens.url,
    )
    try:
        with pytest.raises(GatewayConfigurationError) as stopped:
            await _connect(ZeebeSettings(**common))
        assert str(stopped.value) == (
            f"TLS to the token endpoint {tokens.url} failed: certificate verify failed: self-signed certificate "
            f"(trusting the CA bundle {gateway_cert})"
        )
        assert await _connect(ZeebeSettings(**common, token_ca_bundle=idp_cert)) is True
    finally:
        tokens.close()


async def test_refused_client_credentials_are_named(tls_gateway, tmp_path):
    cert, key = certificate(tmp_path, "council-ca")
    port = await tls_gateway.start(cert, key)
    tokens = TokenEndpoint(cert, key, refuse=True)
    try:
        settings = ZeebeSettings(
            address=f"localhost:{port}", tls=True, ca_bundle=cert, client_id="pepflow-workers", client_secret="wrong",
            authorization_server_url=tokens.url,
        )
        with pytest.raises(GatewayConfigurationError) as stopped:
            await _connect(settings)
    finally:
        tokens.close()
    assert str(stopped.value) == (
        f"the token endpoint {tokens.url} refused the client credentials of PEP_ZEEBE_CLIENT_ID: "
        "invalid_client: Invalid client credentials"
    )
    assert "wrong" not in str(stopped.value)


# --------------------------------------------------------------------- tenants
async def test_the_tenant_id_goes_on_deploy_publish_create_and_activation(tmp_path):
    engine = Engine(f"sqlite:///{tmp_path / 'engine.sqlite3'}", SimulationClock(T0))
    try:
        async with FacadeServer(engine, "127.0.0.1:0") as server:
            # the facade, like a cluster without multi-tenancy, takes the default tenant only
            default = ZeebeSettings(address=server.target)
            assert (default.tenant_id, default.job_tenants) == ("<default>", ["<default>"])
            with ZeebeEngine(default) as client:
                await asyncio.to_thread(client.deploy, [DIAGRAMS / "jobs.bpmn"])
                await asyncio.to_thread(client.create_instance, "jobs", {"pepId": "P-1", "sendRetries": 1})
                await asyncio.to_thread(client.publish_message, "nobody-waits", "C-1", {})
            north = ZeebeSettings(address=server.target, tenant_id="north")
            with ZeebeEngine(north) as client:
                for rpc, call in (
                    ("DeployResource", lambda: client.deploy([DIAGRAMS / "jobs.bpmn"])),
                    ("CreateProcessInstance", lambda: client.create_instance("jobs", {})),
                    ("PublishMessage", lambda: client.publish_message("nobody-waits", "C-1", {})),
                ):
                    with pytest.raises(Exception) as refused:
                        await asyncio.to_thread(call)
                    assert (f"Expected to handle gRPC request {rpc} with tenant identifier 'north', but "
                            "multi-tenancy is disabled") in str(refused.value)
    finally:
        engine.close()
    from pepflow.zeebe.service import build_worker

    channel = grpc.aio.insecure_channel("127.0.0.1:9")  # never called: the worker is only built
    try:
        # the handlers reach casework only when a job comes
        assert build_worker(channel, None, ZeebeSettings(tenant_id="north")).tenant_ids == ["north"]
        both = ZeebeSettings(tenant_id="north", tenant_ids=["north", "south"])
        assert build_worker(channel, None, both).tenant_ids == ["north", "south"]
    finally:
        await channel.close()
    with pytest.raises(ValueError, match="Camunda's tenant ids"):
        ZeebeSettings(tenant_id="north east")
