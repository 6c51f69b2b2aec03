"""What must hold after a simulated year; each broken rule is a sentence.

- Every child in care the whole year has a final PEP for each of the three terms.
- No message about a child is queued or sent after they left care.
- The figures match the records: a file under ``documents/`` for every document
  version the council sends (returned forms stay in the records), an ``.eml`` in the outbox for every message sent, a tagged PDF for every
  final PEP document, nothing left queued or failed, no incident.
- No returned form of an open PEP still waits for business support's review at the
  end of the year (one that came in the year's last two working days may), and no PEP
  was made final while a form returned for it waited for review.
- No step failed, not even once: nothing in a simulated year is down (the outbox is
  local, the records on this machine), so a failed attempt is a defect of the product
  even when its retry went through, and it would be lost from sight in the log.
"""

from __future__ import annotations

from pepflow.app import App
from pepflow.calendar import WorkingDays
from pepflow.domain.enums import PepStatus
from pepflow.domain.instants import local_date
from pepflow.store.workload import WorkloadQueries

from .council import CouncilPlan

TERMS = ("autumn", "spring", "summer")


def check_invariants(app: App, plan: CouncilPlan, counts: dict[str, int], eml_files: int) -> list[str]:
    problems: list[str] = []
    queries = WorkloadQueries(app.store)
    finals = queries.final_peps_by_child()
    for child in plan.in_care_all_year():
        terms = {term for year, term in finals.get(child.id, []) if year == plan.academic_year}
        missing = [t for t in TERMS if t not in terms]
        if missing:
            problems.append(f"{child.id} was in care all year but has no final PEP for the {', '.join(missing)} term")
    mail = queries.mail_by_child()
    for child in (c for c in plan.children if c.leaves_on is not None):
        left = [e.recorded_at for e in app.store.events.for_child(child.id, "left-care")]
        if not left:
            problems.append(f"{child.id} should have left care on {child.leaves_on} but no leaving was recorded")
            continue
        for status, created, updated in mail.get(child.id, []):
            if created > left[0] or (status == "sent" and updated > left[0]):
                problems.append(f"{child.id} left care at {left[0]:%Y-%m-%d %H:%M} but mail was {status} at {max(created, updated):%Y-%m-%d %H:%M}")
    files = sum(1 for p in (app.settings.data_dir / "documents").rglob("*") if p.is_file())
    kept = counts["documents"] - counts["returned_documents"]  # a returned form is kept in the records only
    if files != kept:
        problems.append(f"{kept} document versions recorded to be kept as files but {files} files under documents/")
    if eml_files != counts["mail_sent"]:
        problems.append(f"{counts['mail_sent']} messages recorded as sent but {eml_files} .eml files in the outbox")
    if counts["final_pdf_documents"] != counts["final_documents"]:
        problems.append(f"{counts['final_documents']} final PEP documents but {counts['final_pdf_documents']} tagged PDFs")
    if counts["mail_not_sent"]:
        problems.append(f"{counts['mail_not_sent']} messages still queued or failed at the end of the year")
    incidents = app.engine.incidents()
    problems += [f"incident at {i.element_id}: {i.error_message}" for i in incidents[:20]]
    working_days = WorkingDays()
    for stored in app.store.returns.pending():
        pep = app.store.pep(stored.pep_id)
        if pep.status in (PepStatus.FINAL, PepStatus.CANCELLED):
            continue
        if working_days.working_days_between(local_date(stored.received_at), plan.end) >= 2:
            problems.append(f"returned form {stored.id} of {stored.pep_id} ({pep.status.value}) still waits for review "
                            f"since {local_date(stored.received_at)}")
    for pep_id, return_id, finalised, decided in queries.finalised_before_review():
        when = f"reviewed {decided:%Y-%m-%d %H:%M}" if decided else "still not reviewed"
        problems.append(f"{pep_id} was made final at {finalised:%Y-%m-%d %H:%M} while returned form {return_id} "
                        f"waited for review ({when})")
    worker = app.runtime.worker
    problems += [f"{count} failed attempt(s) of job {job_type}, the first: {worker.first_failure[job_type]}"
                 for job_type, count in sorted(worker.failed.items())]
    return problems
