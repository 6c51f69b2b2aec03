"""The web interface of the embedded mode: task list, PEP pages, operations, the
Virtual School dashboard, accounts; a JSON API under ``/api/v1``. See docs/web.md."""

from .app import create_app
from .service import WebBackend
from .settings import WebSettings

__all__ = ["WebBackend", "WebSettings", "create_app"]
