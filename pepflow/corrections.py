"""Correcting a final PEP: never by changing it, always as a new version.

A final PEP is a record the council has sent to everyone who attended. When it turns
out to be wrong (a typing error, a target set for the wrong subject), the correction is
made as a new version of the final document, which states what was corrected and why;
the earlier versions stay exactly as they were sent. The corrected section, the reason
and who made it are audited, and the new version goes to every attendee, once.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from .casework import SYSTEM, Casework, local_date
from .documents import MeetingRecord, SchoolReturn, render_final_pep
from .pep_content import finalised_by
from .domain.enums import DocumentKind, PepSection, PepStatus
from .domain.meeting_dates import long_date

#: the sections a correction may change, and the model that checks them
CORRECTABLE = {PepSection.SCHOOL_RETURN: SchoolReturn, PepSection.MEETING_RECORD: MeetingRecord}


class CorrectionRefused(ValueError):
    """A correction that cannot be made: the message says why."""


async def correct_final_pep(
    casework: Casework, pep_id: str, section: str, changes: dict[str, Any], *, reason: str, actor: str,
) -> int:
    """Correct ``section`` of a final PEP with ``changes`` (field: new value); returns the
    new version number of the final document."""
    store = casework.store
    pep = store.pep(pep_id)
    if pep.status != PepStatus.FINAL:
        raise CorrectionRefused(f"{pep_id} is {pep.status.value}, not final: change it in its current step instead")
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise CorrectionRefused("say why the final PEP is corrected (--reason): it is written on the new version")
    try:
        part = PepSection(section)
        model = CORRECTABLE[part]
    except (ValueError, KeyError):
        raise CorrectionRefused(
            f"{section!r} cannot be corrected; correctable sections: {', '.join(s.value for s in CORRECTABLE)}"
        ) from None
    before = store.section(pep_id, part) or {}
    unknown = sorted(set(changes) - set(model.model_fields))
    if unknown:
        raise CorrectionRefused(f"{section} has no field(s) {', '.join(unknown)}")
    try:
        corrected = model.model_validate({**before, **changes}).model_dump(mode="json")
    except ValidationError as exc:
        raise CorrectionRefused(f"the corrected {section} is not valid: {exc.errors()[0]['msg']}") from None
    if corrected == before:
        raise CorrectionRefused("the correction changes nothing")
    version = len(store.documents(pep_id, DocumentKind.FINAL)) + 1
    note = (
        f"Corrected on {long_date(casework.context.today())}: version {version} replaces version {version - 1}. "
        f"Corrected: {', '.join(sorted(changes))}. Reason: {reason}"
    )
    school = corrected if part == PepSection.SCHOOL_RETURN else (store.section(pep_id, PepSection.SCHOOL_RETURN) or {})
    meeting = corrected if part == PepSection.MEETING_RECORD else (store.section(pep_id, PepSection.MEETING_RECORD) or {})
    data = casework.context.spins.run(  # in a document worker process when there is one
        render_final_pep, casework.context.identity(pep), casework.context.content(pep),
        SchoolReturn.model_validate(school), MeetingRecord.model_validate(meeting), version,
        council_name=casework.config.council_name,
        finalised_on=local_date(pep.finalised_at) if pep.finalised_at else casework.context.today(),
        correction_note=note, finalised_by=finalised_by(store, pep),
    )
    filename = f"{pep.id}-final-v{version}.docx"
    with store.atomic():
        store.save_section(pep_id, part, corrected, actor=actor, correction=reason)
        store.record_document(pep_id, DocumentKind.FINAL, filename, content=data, actor=actor, correction=reason)
    if casework.config.documents_dir is not None:
        folder = casework.config.documents_dir / pep.id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / filename).write_bytes(data)
    recipients = [store.address_for(a) for a in pep.attendee_ids]
    meeting_day = local_date(pep.meeting_at) if pep.meeting_at else casework.context.today()
    await casework.mail.send_protected(  # the one way a protected document is sent
        pep, f"final-pep-v{version}", "final-pep-corrected", DocumentKind.FINAL, recipients,
        {"pep_reference": pep.id, "meeting_date": meeting_day, "version": version},
    )
    store.record_event("pep", pep_id, "correction", actor=actor or SYSTEM, details={
        "version": version, "section": part.value, "fields": sorted(changes), "reason": reason,
    })
    if casework.deliver_after_steps:  # no sender of its own runs (see CaseContext.__init__)
        await casework.sender.flush()
    return version
