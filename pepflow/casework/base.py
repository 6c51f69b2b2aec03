"""What every casework stage shares: England's clock on process variables, and the
casework settings of a deployment."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from ..config import AppSettings
from ..domain.instants import LONDON, at_local, iso, local_date, parse_instant  # noqa: F401  (re-exported)
from ..domain.settings import Settings

SYSTEM = "system"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class CaseworkConfig:
    council_name: str = "Example Council (fictional)"
    sender: str = "pep.business.support@council.example.org"
    sender_team: str = "Virtual School and locality business support"
    # HMAC secret for the check value a returned form must carry (settings object)
    document_secret: bytes = field(default=b"development-only-document-secret", repr=False)
    documents_dir: Path | None = None
    settings: Settings = field(default_factory=Settings)
    meeting_hour: int = 10
    # how a designated teacher gets a protected document's password: by phone from
    # business support (default; `pep password`), or a separate e-mail
    password_channel: str = "phone"
    # in separate-email mode the password follows the file this much later, never in
    # the same moment to the same mailbox (a mailbox read by someone else meanwhile
    # can be noticed, and the message recalled)
    password_delay: timedelta = timedelta(hours=2)
    # keep a tagged PDF copy of each final PEP where LibreOffice is installed
    final_pdf: bool = True
    # where staff open the web: staff e-mails link to the PEP's page there
    web_base_url: str = "http://127.0.0.1:8000"


def casework_config(settings: AppSettings) -> CaseworkConfig:
    """The casework settings of a deployment (embedded, worker service or CLI)."""
    return CaseworkConfig(
        council_name=settings.council_name, sender=settings.mail_sender,
        document_secret=settings.document_secret.get_secret_value().encode(),
        documents_dir=settings.data_dir / "documents",
        password_channel=settings.password_channel, final_pdf=settings.final_pdf,
        password_delay=timedelta(minutes=settings.password_delay_minutes),
        web_base_url=settings.web_base_url,
    )
