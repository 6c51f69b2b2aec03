"""The facade's servers: gRPC gateway and REST API on loopback, one engine."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ipaddress
import logging

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from pyzeebe.proto import gateway_pb2_grpc as pb_grpc

from pepflow.engine.runtime import Engine

from .common import GATEWAY_SERVICE, MAX_MESSAGE_BYTES
from .gateway import GatewayFacade

log = logging.getLogger(__name__)


def _check_loopback(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(f"the gateway facade has no authentication: it listens on loopback only, not {host}")
    return host, int(port)


class FacadeServer:
    """A running facade: ``await start()``, ``port``, ``await stop()`` (or ``async with``).

    ``rest_address`` (``host:port``, loopback only; port 0 picks a free one) also serves
    the Orchestration Cluster REST API v2 (:mod:`.rest`) over the same engine."""

    def __init__(
        self, engine: Engine, address: str = "127.0.0.1:26500", *, rest_address: str | None = None,
        clock_controlled: bool = False,
    ) -> None:
        self.engine = engine
        # Camunda's PUT /v2/clock for tests (ZEEBE_CLOCK_CONTROLLED=true on a broker)
        self.clock_controlled = clock_controlled
        self.address = address
        self.rest_address = rest_address
        self.rest_port: int | None = None
        self._rest_server = None
        self._rest_task: asyncio.Task | None = None
        self.host, self._requested_port = _check_loopback(address)
        self.port = self._requested_port
        self._server: grpc.aio.Server | None = None
        self._health: health_aio.HealthServicer | None = None
        self._timers: asyncio.Task | None = None
        self._stop = asyncio.Event()
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="zeebe-facade")
        self.facade = GatewayFacade(engine, host=self.host, executor=self._executor)

    async def start(self) -> FacadeServer:
        self.facade.attach(asyncio.get_running_loop())
        server = grpc.aio.server(
            options=[
                ("grpc.so_reuseport", 0),  # never share the port with another server
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ]
        )
        pb_grpc.add_GatewayServicer_to_server(self.facade, server)
        self._health = health_aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        target = f"[{self.host}]:{self._requested_port}" if ":" in self.host else f"{self.host}:{self._requested_port}"
        try:
            self.port = server.add_insecure_port(target)
        except RuntimeError as exc:  # grpc's way of saying "address in use"
            self._executor.shutdown(wait=False)
            raise OSError(f"cannot listen on {target} (in use?): {exc}") from None
        if self.port == 0:
            self._executor.shutdown(wait=False)
            raise OSError(f"cannot listen on {target}")
        self.facade.port = self.port
        await server.start()
        self._server = server
        for service in ("", GATEWAY_SERVICE):
            await self._health.set(service, health_pb2.HealthCheckResponse.SERVING)
        self._timers = asyncio.create_task(self.facade.fire_timers(self._stop), name="zeebe-facade-timers")
        log.info("Zeebe gateway facade listening on %s:%d", self.host, self.port)
        if self.rest_address is not None:
            await self._start_rest()
        return self

    async def _start_rest(self) -> None:
        import socket

        import uvicorn

        from .rest import rest_app

        host, port = _check_loopback(self.rest_address)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            await self.stop()
            raise OSError(f"the REST API cannot listen on {self.rest_address} (in use?): {exc}") from None
        self.rest_port = sock.getsockname()[1]
        config = uvicorn.Config(
            rest_app(self.facade, clock_controlled=self.clock_controlled), log_level="warning", server_header=False,
            lifespan="off",
        )
        self._rest_server = uvicorn.Server(config)
        self._rest_task = asyncio.create_task(self._rest_server.serve(sockets=[sock]), name="zeebe-facade-rest")
        while not self._rest_server.started:
            if self._rest_task.done():
                self._rest_task.result()
            await asyncio.sleep(0.01)
        log.info("Orchestration Cluster REST API (facade) on http://%s:%d/v2", host, self.rest_port)

    @property
    def rest_url(self) -> str | None:
        if self.rest_port is None:
            return None
        host = _check_loopback(self.rest_address)[0]
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.rest_port}"

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    async def stop(self, grace: float = 1.0) -> None:
        self._stop.set()
        if self._rest_server is not None:
            self._rest_server.should_exit = True
            if self._rest_task is not None:
                with contextlib.suppress(Exception):
                    await self._rest_task
            self._rest_server = None
        if self._health is not None:
            await self._health.enter_graceful_shutdown()
        if self._timers is not None:
            self._timers.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timers
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None
        self._executor.shutdown(wait=True, cancel_futures=True)

    async def wait_closed(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()

    async def __aenter__(self) -> FacadeServer:
        return await self.start()

    async def __aexit__(self, *exc_info) -> None:
        await self.stop()


async def serve_facade(engine: Engine, address: str = "127.0.0.1:26500", *, rest_address: str | None = None) -> None:
    """Serve the gateway facade over ``engine`` until cancelled (``pep up --zeebe-gateway``)."""
    server = FacadeServer(engine, address, rest_address=rest_address)
    await server.start()
    try:
        await server.wait_closed()
    finally:
        await asyncio.shield(server.stop())
