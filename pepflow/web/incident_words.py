"""Incidents as an operator reads them: what went wrong in words, what to fix and
where, then the technical message (already redacted, :mod:`pepflow.redact`) for
whoever digs further.

The explanation comes from the error's type (the exception's class name at the start
of the message, after the job type) and the record ids in the message; an error not
in the table is shown as "The step failed" with its message - never hidden. Links go
to pages an operator may open, or name the page of the person who fixes the record
(operators see identifiers, never a child's details).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_CLASS = re.compile(r"^(?:[a-z0-9-]+: )?([A-Z][A-Za-z0-9]*(?:Error|Exception|Dates|Setting|Child|Staff|Pep|Record|Address|Contact|Episode|Exists|Mail)?)\b[:]?")
_ID = re.compile(r"'([A-Z]{1,4}-[A-Z0-9-]+)'|\b((?:PEP|C|ES|ST|CT|CE)-[A-Z0-9][A-Z0-9-]*)\b")


@dataclass(frozen=True)
class Fix:
    label: str
    href: str | None = None
    who: str = ""


@dataclass(frozen=True)
class Explanation:
    headline: str
    todo: str
    fixes: list[Fix] = field(default_factory=list)
    technical: str = ""


# error class -> (what went wrong, what to do)
CAUSES: dict[str, tuple[str, str]] = {
    "UnknownSetting": ("The education setting named in the process is not in the records.",
                       "Import the setting (pep import settings, or the council's settings export), then retry."),
    "UnknownChild": ("The child is not in the records.",
                     "Import the child (pep import children), then retry."),
    "UnknownStaff": ("A staff member named in the process is not in the records.",
                     "Import the staff list (pep import staff), then retry."),
    "UnknownContact": ("A contact named in the process is not in the records.",
                       "Import the child's contacts (pep import contacts), then retry."),
    "UnknownPep": ("The PEP record the process points to does not exist.",
                   "Check the PEP reference with the PEP co-ordinator; cancel the instance with the reason if it was made in error."),
    "MissingAddress": ("Nobody to send to: an e-mail address is missing from the records.",
                       "Add the missing e-mail address (the setting's designated teacher, the staff member or the contact) in the council's export and import it, then retry."),
    "MissingTermDates": ("The school term dates for this date are not in the records.",
                         "Import the term dates for the academic year (pep import term-dates), then retry."),
    "ClosedPep": ("The PEP is already final or cancelled, so this step cannot change it.",
                  "Ask the PEP co-ordinator whether the step is still needed; if not, cancel the instance with the reason."),
    "OpenPepExists": ("The child already has an open PEP.",
                      "Ask the PEP co-ordinator which PEP is current; cancel the duplicate instance with the reason."),
    "InvalidRecord": ("A record the step uses is not valid.",
                      "Correct the record named below in the council's export, import it, then retry."),
    "TransientMailError": ("The mail relay did not accept the message for now.",
                           "Check the mail relay is up (PEP_SMTP_HOST), then retry."),
    "PermanentMailError": ("The mail relay refused the message.",
                           "Check the recipient's address in the records, then retry."),
    "InsecureServerError": ("The mail relay does not offer TLS, so nothing was sent.",
                            "Point PEP_SMTP_HOST at a relay that offers STARTTLS or TLS, then retry."),
    "MailError": ("The message could not be sent.", "Check the mail relay and the recipient's address, then retry."),
    "TemplateContextError": ("An e-mail could not be written: a value it needs is missing.",
                             "Report it to the product team with the incident number; retry after the fix."),
    "PdfError": ("The PDF copy of the final PEP could not be made.",
                 "Check LibreOffice is installed and running (docs/final-pdf.md), then retry."),
    "OSError": ("A file could not be read or written.", "Check the data directory's disk space and permissions, then retry."),
    "TimeoutError": ("A service the step needs did not answer in time.", "Retry; if it keeps failing, check the service."),
}
BY_TYPE: dict[str, tuple[str, str]] = {
    "EXTRACT_VALUE_ERROR": ("A value the diagram needs is missing or of the wrong kind.",
                            "Check the variables below (the missing one is named in the message); set it by completing the step that makes it, or cancel with the reason."),
    "UNHANDLED_ERROR_EVENT": ("A step reported a business error the diagram does not catch.",
                              "Read the message; fix the cause in the records, then retry."),
}


def error_class(message: str) -> str | None:
    match = _CLASS.match(message or "")
    return match.group(1) if match else None


def record_ids(message: str) -> list[str]:
    found = []
    for m in _ID.finditer(message or ""):
        ref = m.group(1) or m.group(2)
        if ref not in found:
            found.append(ref)
    return found


def explain(incident, variables: dict | None = None) -> Explanation:
    """An incident (``error_type``, ``error_message``) in words, with what to fix."""
    variables = variables or {}
    message = incident.error_message or ""
    cls = error_class(message)
    headline, todo = CAUSES.get(cls or "", BY_TYPE.get(incident.error_type, (
        "The step failed.", "Read the message below; fix the cause, then retry. If you cannot tell the cause, report it with the incident number.")))
    fixes: list[Fix] = []
    for ref in record_ids(message):
        fixes.append(_fix_for(ref))
    pep_id = variables.get("pepId")
    if isinstance(pep_id, str) and all(f.label != pep_id for f in fixes):
        fixes.append(Fix(pep_id, f"/peps/{pep_id}", "the PEP co-ordinator opens the PEP record"))
    return Explanation(headline, todo, fixes, message)


def _fix_for(ref: str) -> Fix:
    if ref.startswith("PEP-"):
        return Fix(ref, f"/peps/{ref}", "the PEP co-ordinator opens the PEP record")
    if ref.startswith("C-"):
        return Fix(ref, f"/children/{ref}", "the PEP co-ordinator opens the child's record")
    if ref.startswith("ST-"):
        return Fix(ref, None, "staff list import (the council's HR export)")
    if ref.startswith("ES-"):
        return Fix(ref, None, "settings import (the council's settings export)")
    return Fix(ref, None, "")
