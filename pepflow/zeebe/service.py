"""The worker service of the Camunda 8 mode: ``python -m workers``.

It builds the same casework as the embedded mode (records store at
``PEP_DATABASE_URL``, the mail relay from ``PEP_SMTP_*``, documents under
``PEP_DATA_DIR``), puts every router of :func:`workers.build_routers` on one pyzeebe
:class:`~pyzeebe.ZeebeWorker` connected to the gateway of ``PEP_ZEEBE_*``, and works
jobs until it is stopped. Each task type keeps the timeout its router gives it
(documents and mail: 120 s; records: pyzeebe's default).

SIGTERM or SIGINT stop it cleanly: no new jobs are activated, the jobs in hand are
finished and reported (up to ``PEP_ZEEBE_SHUTDOWN_GRACE_SECONDS``), then the channel,
the LibreOffice processes that make final PDFs, the mail connection and the records
store are closed. A job cut off by the grace
limit is not lost: Zeebe hands it out again when its timeout passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from pyzeebe import ZeebeWorker
from pyzeebe.errors import ZeebeGatewayUnavailableError
from pyzeebe.grpc_internals.zeebe_adapter import ZeebeAdapter

from pepflow.casework import Casework, casework_config
from pepflow.clock import Clock, SystemClock
from pepflow.config import AppSettings
from pepflow.documents.final_pdf import FinalPdf
from pepflow.documents.spin_pool import DocumentPool
from pepflow.mail.local_outbox import LocalOutboxServer
from pepflow.mail.transport import Mailer, SmtpMailer
from pepflow.store import RecordsStore

from .channel import create_channel, describe
from .diagnosis import GatewayConfigurationError, diagnose
from .settings import ZeebeSettings

log = logging.getLogger("pepflow.zeebe.worker")


@dataclass
class Services:
    """What the handlers need, opened the way the embedded mode opens it."""

    settings: AppSettings
    clock: Clock
    store: RecordsStore
    mailer: Mailer
    casework: Casework
    outbox: LocalOutboxServer | None


@contextlib.asynccontextmanager
async def open_services(settings: AppSettings, clock: Clock, *, mailer: Mailer | None = None) -> AsyncIterator[Services]:
    """Records store (migrated), mail transport and casework, closed on exit.

    Without ``PEP_SMTP_HOST`` (development only; production refuses it) mail goes to
    the product's local STARTTLS outbox under ``PEP_DATA_DIR``, as in the embedded mode."""
    from pepflow.app import open_records, relay_smtp_settings  # the embedded composition root's own helpers

    if mailer is None:  # a relay needs production settings (pepflow/safety.py)
        from pepflow.safety import check_deployment

        check_deployment(settings)
    store = open_records(settings, clock)
    outbox: LocalOutboxServer | None = None
    smtp: SmtpMailer | None = None
    pdf = FinalPdf()  # final PEPs' tagged PDFs, set in-process (docs/final-pdf.md)
    spins = DocumentPool(settings.document_processes, recycle_after=settings.document_workers_recycled_after)  # password spins and python-docx work, on the other cores
    try:
        if mailer is None:
            relay = relay_smtp_settings(settings)
            if relay is not None:
                smtp = SmtpMailer(relay)
            else:
                outbox = LocalOutboxServer(settings.data_dir / "mail", outbox_dir=settings.data_dir / "outbox",
                                           own_process=settings.outbox_in_own_process)
                await outbox.__aenter__()
                log.warning("no mail relay configured (PEP_SMTP_HOST): mail goes to the local outbox in %s", outbox.outbox_dir)
                smtp = SmtpMailer(outbox.smtp_settings(sender=settings.mail_sender))
            mailer = smtp
        casework = Casework(
            store, mailer, clock,
            casework_config(settings), pdf=pdf, spins=spins,
        )
        yield Services(settings, clock, store, mailer, casework, outbox)
    finally:
        pdf.close()
        spins.close()
        if smtp is not None:
            await smtp.__aexit__(None, None, None)
        if outbox is not None:
            await outbox.__aexit__(None, None, None)
        store.close()


def build_worker(channel, casework: Casework, settings: ZeebeSettings) -> ZeebeWorker:
    """One ZeebeWorker with every router; a task type keeps its router's timeout."""
    from workers import build_routers

    worker = ZeebeWorker(
        channel,
        name=settings.worker_name or f"pepflow-workers@{socket.gethostname()}",
        request_timeout=settings.request_timeout_ms,
        max_connection_retries=settings.max_connection_retries,
        tenant_ids=settings.job_tenants,
        stream_enabled=settings.stream_enabled,
    )
    worker.include_router(*build_routers(casework))
    return worker


async def wait_for_gateway(channel, settings: ZeebeSettings, stop: asyncio.Event, *, every: float = 2.0) -> bool:
    """Ask the gateway for its topology until it answers (it may still be starting);
    False if ``stop`` was set first. A failure that waiting cannot mend - TLS that does
    not verify, credentials the token endpoint refuses - raises
    :class:`GatewayConfigurationError` naming it (:mod:`.diagnosis`)."""
    adapter = ZeebeAdapter(channel, max_connection_retries=-1)
    while not stop.is_set():
        try:
            topology = await asyncio.wait_for(adapter.topology(), timeout=10)
        except (ZeebeGatewayUnavailableError, asyncio.TimeoutError, Exception) as exc:  # noqa: BLE001 - keep trying
            found = await asyncio.to_thread(diagnose, settings)
            if found is not None and found.fatal:
                log.error("%s", found.message)
                raise GatewayConfigurationError(found.message) from exc
            reason = found.message if found is not None else _details(exc)
            log.info("waiting for the Zeebe gateway at %s: %s", describe(settings), reason)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)
            continue
        log.info(
            "connected to Zeebe gateway %s at %s: %d broker(s), %d partition(s)",
            topology.gateway_version, describe(settings), len(topology.brokers), topology.partitions_count,
        )
        return True
    return False


def _details(exc: BaseException) -> str:
    """What gRPC said, not only which exception carried it."""
    for node in (exc, exc.__cause__, getattr(exc, "grpc_error", None)):
        details = getattr(node, "details", None)
        if callable(details) and details():
            return f"{type(exc).__name__}: {details()}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def serve_worker(worker: ZeebeWorker, stop: asyncio.Event, *, grace: float, where: str = "the gateway") -> None:
    """Run ``worker`` until ``stop`` is set; then activate nothing more, let the jobs
    in hand finish and be reported (up to ``grace`` seconds), and return."""
    work = asyncio.create_task(worker.work(), name="zeebe-worker")
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if work.done():  # the worker gave up (gateway gone past max_connection_retries)
        work.result()
        raise ConnectionError(f"the worker lost the Zeebe gateway at {where}")
    log.info("stopping: no new jobs; finishing the jobs in hand (up to %s s)", grace)
    try:
        await asyncio.wait_for(worker.stop(), timeout=grace)
    except asyncio.TimeoutError:
        log.warning("jobs still running after the grace period; Zeebe hands them out again after their timeout")
    work.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await work


async def run_worker_service(
    app_settings: AppSettings,
    zeebe_settings: ZeebeSettings,
    stop: asyncio.Event,
    *,
    clock: Clock | None = None,
    ready_file: Path | None = None,
) -> None:
    """Work jobs until ``stop`` is set, then finish the jobs in hand and return."""
    clock = clock or SystemClock()
    if ready_file is not None:
        with contextlib.suppress(FileNotFoundError):
            ready_file.unlink()  # left by a run that was killed
    async with open_services(app_settings, clock) as services:
        channel = create_channel(zeebe_settings)
        try:
            if not await wait_for_gateway(channel, zeebe_settings, stop):
                return
            worker = build_worker(channel, services.casework, zeebe_settings)
            types = ", ".join(f"{t.type} ({t.config.timeout_ms // 1000} s)" for t in worker.tasks)
            log.info("worker %s working %s", worker.name, types)
            if ready_file is not None:
                ready_file.write_text(worker.name)
            await serve_worker(worker, stop, grace=zeebe_settings.shutdown_grace_seconds, where=describe(zeebe_settings))
            log.info("worker stopped")
        finally:
            if ready_file is not None:
                with contextlib.suppress(FileNotFoundError):
                    ready_file.unlink()
            await channel.close()


async def main() -> None:
    """Entry point of ``python -m workers``: settings from the environment, stop on
    SIGTERM/SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app_settings = AppSettings()
    zeebe_settings = ZeebeSettings()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ready = zeebe_settings.ready_file or Path(app_settings.data_dir) / "worker.ready"
    try:
        await run_worker_service(app_settings, zeebe_settings, stop, ready_file=ready)
    except GatewayConfigurationError as exc:
        log.error("the worker service stops: %s", exc)
        raise SystemExit(2) from None
