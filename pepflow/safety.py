"""Production safety by construction.

A deployment that can reach anything beyond this machine's own local outbox and
loopback - a council mail relay, a web server or Zeebe gateway listening on another
address, single sign-on, a database on another host - must be a production
deployment with the council's own secrets: the development document secret is
public (it is in this repository), so documents protected with passwords derived
from it are as good as unprotected. Such a deployment refuses to start, saying why
and what to set. The development defaults stay for what only reaches loopback
(``pep demo``, the tests, a trial on one laptop).

The product's files (database, documents, outbox, keys) are private to the user it
runs as: its data directory is 0700 and everything it creates 0600.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from pathlib import Path
from urllib.parse import urlparse

import sqlalchemy as sa

from .config import DEVELOPMENT_SECRET, AppSettings


class UnsafeDeployment(ValueError):
    """The settings would expose the development secret or environment beyond loopback."""


def is_loopback(host: str | None) -> bool:
    if not host:
        return True
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def _host_of(target: str) -> str:
    if "://" in target:
        return urlparse(target).hostname or ""
    if target.startswith("["):
        return target[1:].split("]", 1)[0]
    return target.rsplit(":", 1)[0] if target.count(":") == 1 else target


def reaches_beyond_loopback(settings: AppSettings, *, web_host: str | None = None, zeebe_gateway: str | None = None,
                            oidc_issuer: str | None = None) -> list[str]:
    """What the deployment reaches beyond this machine's local outbox and loopback."""
    reached = []
    if settings.smtp_host and not is_loopback(settings.smtp_host):
        reached.append(f"the mail relay {settings.smtp_host} (PEP_SMTP_HOST)")
    if web_host is not None and not is_loopback(web_host):
        reached.append(f"a web server listening on {web_host} (PEP_WEB_HOST)")
    if zeebe_gateway and not is_loopback(_host_of(zeebe_gateway)):
        reached.append(f"a Zeebe gateway at {zeebe_gateway}")
    if oidc_issuer:
        reached.append(f"single sign-on at {oidc_issuer} (PEP_WEB_OIDC_ISSUER)")
    if settings.database_url:
        url = sa.make_url(settings.database_url)
        if url.get_backend_name() != "sqlite" and not is_loopback(url.host):
            reached.append(f"a database on {url.host} (PEP_DATABASE_URL)")
    return reached


def deployment_problems(settings: AppSettings, **reach) -> list[str]:
    reached = reaches_beyond_loopback(settings, **reach)
    if not reached:
        return []
    problems = []
    if settings.environment != "production":
        problems.append("PEP_ENVIRONMENT is 'development': set PEP_ENVIRONMENT=production")
    if settings.document_secret.get_secret_value() == DEVELOPMENT_SECRET:
        problems.append(
            "PEP_DOCUMENT_SECRET is the public development secret: set it to the council's own secret, "
            "e.g. the output of `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`, kept safe")
    if not problems:
        return []
    return [f"this deployment reaches {'; '.join(reached)}, so it must not run with development settings: "
            + "; ".join(problems)]


def check_deployment(settings: AppSettings, **reach) -> None:
    """Raise :class:`UnsafeDeployment` with what to set, or return."""
    problems = deployment_problems(settings, **reach)
    if problems:
        raise UnsafeDeployment("refusing to start: " + " ".join(problems))


def secure_data_dir(path: Path) -> None:
    """The data directory private to this user (0700); files created from now on 0600."""
    os.umask(0o077)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077 and path.stat().st_uid == os.getuid():
            path.chmod(0o700)
    except OSError:
        pass  # not ours to change (a shared mount): the umask still protects new files
