"""``pep up``: the engine, workers and timers, the mail outbox (unless a relay is
configured) and the web server, in one process."""

from __future__ import annotations

import asyncio

from pepflow.app import open_app
from pepflow.clock import SystemClock
from pepflow.config import AppSettings
from pepflow.safety import check_deployment

from .accounts import Accounts
from .app import create_app
from .service import WebBackend
from .settings import WebSettings


async def serve(settings: AppSettings, web_settings: WebSettings, announce=print, *,
                zeebe_gateway: str | None = None, zeebe_rest: str | None = None,
                in_process_workers: bool = True) -> None:
    import uvicorn

    check_deployment(settings, web_host=web_settings.host, zeebe_gateway=zeebe_gateway,
                     oidc_issuer=web_settings.oidc_issuer)
    web_settings.production = settings.environment == "production"
    clock = SystemClock()
    async with open_app(settings, clock) as embedded:
        accounts = Accounts(settings.resolved_database_url, clock, max_failed=web_settings.max_failed_sign_ins,
                            lockout_minutes=web_settings.lockout_minutes)
        backend = WebBackend(embedded.engine, embedded.store, embedded.casework, clock, accounts,
                             settings.resolved_database_url, settings.data_dir, embedded.runtime)
        app = create_app(backend, web_settings)
        config = uvicorn.Config(app, host=web_settings.host, port=web_settings.port, log_level="info",
                                proxy_headers=True, server_header=False)
        server = uvicorn.Server(config)
        stop = asyncio.Event()
        facade = None
        if zeebe_gateway:
            from pepflow.zeebe.facade import FacadeServer

            facade = await FacadeServer(embedded.engine, zeebe_gateway, rest_address=zeebe_rest).start()
            announce(f"Zeebe gateway (for python -m workers and zbctl) on {facade.target}")
            if facade.rest_url:
                announce(f"Orchestration Cluster REST API v2 on {facade.rest_url}/v2")
        if in_process_workers:
            workers = asyncio.create_task(embedded.runtime.serve(stop))
        else:
            workers = asyncio.create_task(stop.wait())
        where = embedded.outbox.outbox_dir if embedded.outbox else settings.smtp_host
        announce(f"PEP flow is running: open http://{web_settings.host}:{web_settings.port}/ (mail: {where}). Ctrl-C stops.")
        if not accounts.all():
            announce("No accounts yet: create the first administrator with `pep user add USERNAME --staff-id ID` "
                     "or `pep user add USERNAME --role administrator`.")
        try:
            await server.serve()
        finally:
            stop.set()
            await workers
            if facade is not None:
                await facade.stop()
            backend.close()
            accounts.close()
