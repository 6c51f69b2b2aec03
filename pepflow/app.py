"""The composition root of the embedded mode: one process, one machine.

It opens the records store (migrated), the embedded engine on the same database,
the mail transport (the council's relay, or the product's own local STARTTLS
outbox), the casework service and the in-process workers, and deploys the diagram
and forms in ``bpmn/`` and ``forms/``.

Mail: workers only queue messages in the records store's outbox; the
:class:`~pepflow.mail.outbox.OutboxSender` delivers them. The runtime here
(:class:`OutboxRuntime`) flushes the outbox whenever it has worked every due job and
timer (``run_until_idle``, and so ``advance``), and ``serve`` runs the sender alongside
the workers, so retries go out when they are due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from .casework import Casework, casework_config
from .clock import Clock
from .config import AppSettings
from .documents.final_pdf import FinalPdf
from .documents.spin_pool import DocumentPool
from .engine.runtime import Engine
from .engine.worker import EmbeddedRuntime
from .handover import Handover
from .mail.dkim import dkim_signer_from_env
from .mail.local_outbox import LocalOutboxServer
from .mail.outbox import FlushResult, OutboxSender
from .mail.transport import Mailer, SmtpMailer, SmtpSettings
from .quality import QualityService
from .safety import check_deployment, secure_data_dir
from .store import RecordsStore
from .store.migrate import migrate
from .task_checks import TaskChecks

# The composition root sits above the workers (which use the services below it).
from workers import build_routers  # noqa: E402

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
MODELS = (ROOT / "bpmn", ROOT / "forms")


def model_files() -> list[Path]:
    files = [p for folder in MODELS for p in sorted(folder.glob("*")) if p.suffix in {".bpmn", ".form"}]
    if not files:
        raise FileNotFoundError(f"no diagrams or forms under {', '.join(str(m) for m in MODELS)}")
    return files


SENDER_PREFIX = "embedded-sender-"


class OutboxRuntime(EmbeddedRuntime):
    """The embedded runtime, also delivering the mail the workers queued."""

    def __init__(self, engine: Engine, routers, sender: OutboxSender) -> None:
        super().__init__(engine, routers)
        self.sender = sender

    async def run_until_idle(self) -> None:
        """Work every due job and timer, then send the mail that is due, until nothing is."""
        while True:
            await super().run_until_idle()
            result = await self.sender.flush()
            if result.total == 0:
                return

    async def serve(self, stop: asyncio.Event, *, max_idle: float = 30.0) -> None:
        """Real time: the workers and timers, with the outbox sender alongside."""
        released = self.sender.store.release_orphaned_mail(SENDER_PREFIX, except_owner=self.sender.name)
        if released:
            log.info("%d message(s) claimed by an earlier run are queued again", released)
        sender = asyncio.ensure_future(self.sender.run(stop))
        try:
            await super().serve(stop, max_idle=max_idle)
        finally:
            stop.set()
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender


@dataclass
class App:
    settings: AppSettings
    clock: Clock
    store: RecordsStore
    engine: Engine
    casework: Casework
    runtime: OutboxRuntime
    mailer: Mailer
    outbox: LocalOutboxServer | None
    sender: OutboxSender
    handover: Handover

    async def flush_mail(self) -> FlushResult:
        """Deliver every queued message that is due now."""
        return await self.sender.flush()


def relay_smtp_settings(settings: AppSettings) -> SmtpSettings | None:
    """The council's mail relay, or ``None`` when none is configured (development)."""
    if not settings.smtp_host:
        return None
    return SmtpSettings(
        host=settings.smtp_host, port=settings.smtp_port, security=settings.smtp_security,
        username=settings.smtp_username, password=settings.smtp_password,
        ca_bundle=settings.smtp_ca_bundle, sender=settings.mail_sender,
    )


def open_records(settings: AppSettings, clock: Clock) -> RecordsStore:
    secure_data_dir(settings.data_dir)
    url = settings.resolved_database_url
    migrate(url)
    return RecordsStore(url, clock)


def open_engine(settings: AppSettings, clock: Clock, *, deploy: bool = True) -> Engine:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = Engine(settings.resolved_database_url, clock)
    if deploy:
        engine.deploy(model_files())  # the same bytes again deploy nothing new
    return engine


def mail_connections() -> int:
    """How many SMTP connections the sender keeps open (``PEP_MAIL_CONNECTIONS``, default 2)."""
    value = os.environ.get("PEP_MAIL_CONNECTIONS", "2")
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"PEP_MAIL_CONNECTIONS must be a whole number, not {value!r}") from None
    if not 1 <= count <= 16:
        raise ValueError("PEP_MAIL_CONNECTIONS must be between 1 and 16")
    return count


def _failed_mail(mail_id: int, reason: str) -> None:
    log.error(
        "mail %s FAILED and needs business support: %s (fix the address in the records, "
        "then `pep mail retry %s`)", mail_id, reason, mail_id,
    )


@contextlib.asynccontextmanager
async def open_app(settings: AppSettings, clock: Clock, *, mailer: Mailer | None = None) -> AsyncIterator[App]:
    if mailer is None:  # what will send: a relay needs production settings (pepflow/safety.py)
        check_deployment(settings)
    store = open_records(settings, clock)
    engine = open_engine(settings, clock)
    outbox: LocalOutboxServer | None = None
    smtps: list[SmtpMailer] = []
    pdf = FinalPdf()  # final PEPs' tagged PDFs, set in-process (docs/final-pdf.md)
    spins = DocumentPool(settings.document_processes, recycle_after=settings.document_workers_recycled_after)  # password spins and python-docx work, on the other cores
    try:
        if mailer is None:
            signer = dkim_signer_from_env()
            smtp_settings = relay_smtp_settings(settings)
            if smtp_settings is None:
                outbox = LocalOutboxServer(settings.data_dir / "mail", outbox_dir=settings.data_dir / "outbox",
                                           own_process=settings.outbox_in_own_process)
                await outbox.__aenter__()
                log.info("no mail relay configured: mail goes to the local outbox in %s", outbox.outbox_dir)
                smtp_settings = outbox.smtp_settings(sender=settings.mail_sender)
            smtps = [
                SmtpMailer(smtp_settings, signer=signer.sign if signer else None)
                for _ in range(mail_connections())
            ]
            mailer = smtps[0]
        sender = OutboxSender(
            store, smtps or [mailer], on_failed=_failed_mail,
            name=f"{SENDER_PREFIX}{uuid.uuid4().hex[:12]}",
        )
        casework = Casework(
            store, mailer, clock,
            casework_config(settings),
            sender=sender, pdf=pdf, spins=spins,
        )
        engine.add_completion_check(TaskChecks(casework).check)
        runtime = OutboxRuntime(engine, build_routers(casework), sender)
        handover = Handover(store, engine, clock)
        runtime.tickers.append(handover.tick)  # once a day: tasks follow birthdays and dated allocations
        quality = QualityService(store, engine, clock, casework)
        engine.add_completion_check(quality.check_task)  # a quality task needs the records behind it
        runtime.tickers.append(quality.tick)  # once a day: final PEPs go to the Virtual School for rating
        yield App(settings, clock, store, engine, casework, runtime, mailer, outbox, sender, handover)
    finally:
        pdf.close()
        spins.close()
        for smtp in smtps:
            await smtp.__aexit__(None, None, None)
        if outbox is not None:
            await outbox.__aexit__(None, None, None)
        engine.close()
        store.close()
