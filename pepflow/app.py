"""The composition root of the embedded mode: one process, one machine.

It opens the records store (migrated), the embedded engine on the same database,
the mail transport (the council's relay, or the product's own local STARTTLS
outbox), the casework service and the in-process workers, and deploys the diagram
and forms in ``bpmn/`` and ``forms/``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from .casework import Casework, CaseworkConfig
from .clock import Clock
from .config import AppSettings
from .engine.runtime import Engine
from .engine.worker import EmbeddedRuntime
from .mail.local_outbox import LocalOutboxServer
from .mail.transport import Mailer, SmtpMailer, SmtpSettings
from .store import RecordsStore
from .store.migrate import migrate

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


@dataclass
class App:
    settings: AppSettings
    clock: Clock
    store: RecordsStore
    engine: Engine
    casework: Casework
    runtime: EmbeddedRuntime
    mailer: Mailer
    outbox: LocalOutboxServer | None


def open_records(settings: AppSettings, clock: Clock) -> RecordsStore:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    migrate(url)
    return RecordsStore(url, clock)


def open_engine(settings: AppSettings, clock: Clock, *, deploy: bool = True) -> Engine:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = Engine(settings.resolved_database_url, clock)
    if deploy:
        engine.deploy(model_files())  # the same bytes again deploy nothing new
    return engine


@contextlib.asynccontextmanager
async def open_app(settings: AppSettings, clock: Clock, *, mailer: Mailer | None = None) -> AsyncIterator[App]:
    store = open_records(settings, clock)
    engine = open_engine(settings, clock)
    outbox: LocalOutboxServer | None = None
    smtp: SmtpMailer | None = None
    try:
        if mailer is None:
            if settings.smtp_host:
                smtp = SmtpMailer(
                    SmtpSettings(
                        host=settings.smtp_host, port=settings.smtp_port, security=settings.smtp_security,
                        username=settings.smtp_username, password=settings.smtp_password,
                        ca_bundle=settings.smtp_ca_bundle, sender=settings.mail_sender,
                    )
                )
            else:
                outbox = LocalOutboxServer(settings.data_dir / "mail", outbox_dir=settings.data_dir / "outbox")
                await outbox.__aenter__()
                log.info("no mail relay configured: mail goes to the local outbox in %s", outbox.outbox_dir)
                smtp = SmtpMailer(outbox.smtp_settings(sender=settings.mail_sender))
            mailer = smtp
        casework = Casework(
            store, mailer, clock,
            CaseworkConfig(
                council_name=settings.council_name, sender=settings.mail_sender,
                document_secret=settings.document_secret.get_secret_value().encode(),
                documents_dir=settings.data_dir / "documents",
            ),
        )
        runtime = EmbeddedRuntime(engine, build_routers(casework))
        yield App(settings, clock, store, engine, casework, runtime, mailer, outbox)
    finally:
        if smtp is not None:
            await smtp.__aexit__(None, None, None)
        if outbox is not None:
            await outbox.__aexit__(None, None, None)
        engine.close()
        store.close()
