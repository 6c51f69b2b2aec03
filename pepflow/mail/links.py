"""Links in staff e-mails: to the PEP's page in the web, from the configured base
address (``PEP_WEB_BASE_URL``). A link carries the PEP reference only - never a
name - and only mail to council staff (who sign in) has one; settings, carers and
Health Visitors get none."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

#: the kinds of mail that go to council staff (the PEP co-ordinator, the Virtual
#: School, the PEP's owner or the team manager)
STAFF_KINDS = frozenset({
    "virtual-school-notice", "initial-meeting-arranged", "initial-meeting-reminder", "initial-meeting-overdue",
    "pep-escalation",
})


def check_base_url(value: str, *, production: bool = False) -> str:
    """The base address without a trailing slash; refused, saying why, when it is not
    an http(s) address of a host, carries a query, fragment or credentials, or (in
    production) is not https."""
    text = (value or "").strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"PEP_WEB_BASE_URL must be the web address staff open, like https://pep.council.example.org (got {text[:80]!r})")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("PEP_WEB_BASE_URL must be a plain address: no query, fragment or user name")
    if production and parts.scheme != "https" and parts.hostname not in ("127.0.0.1", "localhost"):
        raise ValueError("PEP_WEB_BASE_URL must be https in production")
    return text


def pep_link(base_url: str, pep_id: str) -> str:
    """``<base>/peps/<PEP reference>``: the PEP's page (its open tasks link on)."""
    return f"{base_url.rstrip('/')}/peps/{quote(pep_id, safe='')}"
