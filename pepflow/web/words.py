"""Codes, dates and money as the pages say them (GOV.UK style, en-GB).

One function per thing shown, used by every page and registered as a Jinja filter,
so a term or a date reads the same wherever it appears. Codes with no wording here
are shown as they are (never hidden): a new code shows up, it is not guessed at.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pepflow.calendar import academic_year_label
from pepflow.domain.enums import (
    ContactRole, DocumentKind, MailStatus, OwnerRole, StaffRole, TermName, Variant,
)
from pepflow.domain.words import LONDON, STATUS_WORDS

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def long_date(value: date | datetime | str | None) -> str:
    """``3 March 2027`` (a date; an instant is taken in England's time)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.astimezone(LONDON).date() if value.tzinfo else value.date()
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def clock_time(value: datetime) -> str:
    """``9am``, ``2:30pm``, ``midday``, ``midnight`` (GOV.UK style), England's time."""
    local = value.astimezone(LONDON) if value.tzinfo else value
    if local.hour == 0 and local.minute == 0:
        return "midnight"
    if local.hour == 12 and local.minute == 0:
        return "midday"
    hour = local.hour % 12 or 12
    suffix = "am" if local.hour < 12 else "pm"
    return f"{hour}{suffix}" if local.minute == 0 else f"{hour}:{local.minute:02d}{suffix}"


def long_datetime(value: datetime | str | None) -> str:
    """``3 March 2027 at 2:30pm`` in England's time (BST or GMT as the date has it)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return long_date(value)
    return f"{long_date(value)} at {clock_time(value)}"


def when(value: Any) -> str:
    """A date as a date, an instant as a date and time; anything else as it is."""
    if isinstance(value, datetime):
        return long_datetime(value)
    if isinstance(value, date):
        return long_date(value)
    return "" if value is None else str(value)


def money(value: Any) -> str:
    """``£600``, ``£1,250.50``: whole pounds without pence, otherwise two places."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if amount == amount.to_integral_value():
        return f"£{int(amount):,}"
    return f"£{amount:,.2f}"


def term_label(academic_year: int | None, term: TermName | str | None) -> str:
    """``Autumn term 2026/27``: the one way every page names a term."""
    if academic_year is None or term is None:
        return ""
    return f"{_capital(TermName(term).value)} term {academic_year_label(int(academic_year))}"


STATUS = {s: _capital(w) for s, w in STATUS_WORDS.items()}

VARIANT = {
    Variant.EARLY_YEARS: "Early years (with a setting)",
    Variant.SCHOOL_AGE: "School age",
    Variant.POST_16: "Post-16",
    Variant.EARLY_YEARS_NO_SETTING: "Early years (no setting: Health Visitor and carers)",
}

ROLE = {
    OwnerRole.SOCIAL_WORKER: "Social worker", OwnerRole.LEAVING_CARE_WORKER: "Leaving care worker",
    OwnerRole.PERSONAL_ADVISER: "Personal adviser",
    StaffRole.BUSINESS_SUPPORT: "Business support", StaffRole.TEAM_MANAGER: "Team manager",
    StaffRole.PEP_COORDINATOR: "PEP co-ordinator", StaffRole.VIRTUAL_SCHOOL: "Virtual School",
    StaffRole.OPERATOR: "Operator", StaffRole.ADMINISTRATOR: "Administrator",
}

CONTACT_ROLE = {
    ContactRole.HEALTH_VISITOR: "Health Visitor", ContactRole.FOSTER_CARER: "Foster carer",
    ContactRole.PARENT: "Parent", ContactRole.OTHER: "Other",
}

SEN = {"none": "No special educational needs", "sen-support": "SEN support",
       "ehc-assessment": "Being assessed for an EHC plan", "ehcp": "Has an EHC plan"}

DOCUMENT = {DocumentKind.FORM: "PEP form sent out", DocumentKind.FINAL: "Final PEP",
            DocumentKind.RETURNED: "Returned form, as it came back", DocumentKind.FINAL_PDF: "Final PEP (PDF copy)"}

MAIL_STATUS = {MailStatus.QUEUED: "Waiting to send", MailStatus.SENT: "Sent", MailStatus.FAILED: "Failed",
               MailStatus.BOUNCED: "Bounced", MailStatus.WITHDRAWN: "Withdrawn (never sent)"}

MAIL_KIND = {"initial-pep": "Initial PEP form", "virtual-school-notice": "Notice to the Virtual School",
             "initial-meeting-arranged": "Initial meeting arranged",
             "initial-meeting-reminder": "Reminder: arrange the initial meeting",
             "initial-meeting-overdue": "Initial meeting overdue", "pep-form": "PEP form to the setting",
             "pep-form-health-visitor": "PEP form to the Health Visitor and carers",
             "pep-form-reminder": "Reminder: return the PEP form", "final-pep": "Final PEP",
             "form-password": "Document password", "pep-escalation": "Escalation to the PEP co-ordinator",
             "final-pep-corrected": "Corrected final PEP"}


def _lookup(table: dict, value: Any) -> str:
    if value is None or value == "":
        return ""
    for key, words in table.items():
        if key == value or str(key) == str(value):
            return words
    return str(getattr(value, "value", value))


def status(value: Any) -> str:
    return _lookup(STATUS, value)


def variant(value: Any) -> str:
    return _lookup(VARIANT, value)


def role(value: Any) -> str:
    return _lookup(ROLE, value)


def contact_role(value: Any) -> str:
    return _lookup(CONTACT_ROLE, value)


def sen(value: Any) -> str:
    return _lookup(SEN, value)


def document_kind(value: Any) -> str:
    return _lookup(DOCUMENT, value)


def mail_status(value: Any) -> str:
    return _lookup(MAIL_STATUS, value)


def mail_kind(value: Any) -> str:
    return _lookup(MAIL_KIND, value)


def yes_no(value: Any) -> str:
    if value is None or value == "":
        return ""
    return "Yes" if value in (True, "true", "yes") else "No" if value in (False, "false", "no") else str(value)


def filesize(value: int) -> str:
    if value < 1024:
        return f"{value} bytes"
    if value < 1024 * 1024:
        return f"{value / 1024:.0f} KB"
    return f"{value / 1024 / 1024:.1f} MB"


FILTERS = {
    "when": when, "long_date": long_date, "long_datetime": long_datetime, "money": money,
    "status_words": status, "variant_words": variant, "role_words": role, "contact_role_words": contact_role,
    "sen_words": sen, "document_words": document_kind, "mail_status_words": mail_status,
    "mail_kind_words": mail_kind, "yes_no": yes_no, "filesize": filesize,
}


def register(env) -> None:
    """Every filter above on a Jinja environment, and ``term_label`` as a global."""
    env.filters.update(FILTERS)
    env.globals["term_label"] = term_label
