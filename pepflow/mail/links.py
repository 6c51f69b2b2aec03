"""Links in staff e-mails: to the PEP's page in the web, from the configured base
address (``PEP_WEB_BASE_URL``). A link carries the PEP reference only - never a
name - and only mail to council staff (who sign in) has one; settings, carers and
Health Visitors get none."""

from __future__ import annotations

from urllib.parse import quote

from pepflow.config import check_base_url  # noqa: F401  (the check lives with the setting it checks)

#: the kinds of mail that go to council staff (the PEP co-ordinator, the Virtual
#: School, the PEP's owner or the team manager)
STAFF_KINDS = frozenset({
    "virtual-school-notice", "initial-meeting-arranged", "initial-meeting-reminder", "initial-meeting-overdue",
    "pep-escalation",
})


def pep_link(base_url: str, pep_id: str) -> str:
    """``<base>/peps/<PEP reference>``: the PEP's page (its open tasks link on)."""
    return f"{base_url.rstrip('/')}/peps/{quote(pep_id, safe='')}"
