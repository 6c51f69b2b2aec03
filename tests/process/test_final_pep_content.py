"""The Camunda 8 worker's final PEP, on its own code path (no Docker, no engine): the
services ``python -m workers`` opens, the ``generate-final-pep`` job handler the worker
registers. It keeps a tagged PDF beside the final PEP; the final PEP carries the
meeting part the school filled in (actions agreed, apologies), roles in words and who
finalised it; the next PEP's form carries last term's targets forward for review."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from datetime import date, datetime, timezone
from types import SimpleNamespace

import pytest
from lxml import etree

from pepflow.clock import SimulationClock
from pepflow.config import AppSettings
from pepflow.documents import read_school_return
from pepflow.domain.enums import DocumentKind, PepSection, PepStatus
from pepflow.mail.transport import RecordingMailer
from pepflow.sample_data import load_sample_data
from pepflow.zeebe.service import open_services
from workers import documents as document_jobs

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
SECRET = "a-test-document-secret-of-32-bytes!"
T0 = datetime(2026, 10, 20, 9, 0, tzinfo=timezone.utc)


def text_of(docx: bytes) -> str:
    root = etree.fromstring(zipfile.ZipFile(io.BytesIO(docx)).read("word/document.xml"))
    return " ".join(" ".join("".join(t.text or "" for t in p.iter(f"{{{W}}}t")).split()) for p in root.iter(f"{{{W}}}p"))


def job_handler(casework, task_type: str):
    router = document_jobs.build_router(casework)
    return next(t for t in router.tasks if t.type == task_type).original_function


def settings(tmp_path, final_pdf: bool = True) -> AppSettings:
    return AppSettings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'pep.sqlite3'}",
                       document_secret=SECRET, final_pdf=final_pdf)


def a_pep_at_its_meeting(store, child_id: str = "C-0002"):
    pep = store.create_pep(child_id, 2026, "autumn", actor="test", on=T0.date(), meeting_at=T0)
    store.save_section(pep.id, PepSection.SCHOOL_RETURN, {
        "targets": [{"target": "Read with an adult five nights a week.", "who": "Carer", "number": 1}],
        "sen_status": "sen-support", "agencies": "Speech and language therapy.",
    }, actor="test")
    store.save_section(pep.id, PepSection.SCHOOL_MEETING, {
        "attendees": [{"name": "Dr Absent", "role": "educational-psychologist", "attendance": "apologies"}],
        "actions": [{"action": "Refer to the educational psychologist", "who": "SENCo", "by_when": "2026-11-20"}],
        "updates_agreed": "Reading tuition continues.",
    }, actor="test")
    return pep


async def test_the_camunda_8_worker_keeps_a_tagged_pdf_of_the_final_pep_in_plain_words(tmp_path):
    clock = SimulationClock(T0)
    async with open_services(settings(tmp_path), clock, mailer=RecordingMailer()) as services:
        store = services.store
        load_sample_data(store)
        pep = a_pep_at_its_meeting(store)
        handler = job_handler(services.casework, document_jobs.GENERATE_FINAL_PEP)
        job = SimpleNamespace(element_id="GenerateFinalPepTask", element_instance_key=4242)
        result = await handler(pepId=pep.id, job=job, attendeeIds=[], nextMeetingDates=["2027-02-03T09:00:00Z"])

        final = store.latest_document(pep.id, DocumentKind.FINAL)
        assert result == {"finalDocumentId": final.id}
        (pdf_version,) = store.documents(pep.id, DocumentKind.FINAL_PDF)
        pdf = store.document_content(pdf_version.id)
        assert pdf.startswith(b"%PDF-") and b"/StructTreeRoot" in pdf
        assert re.search(rb"/MarkInfo\s*<<\s*/Marked\s+true", pdf) and re.search(rb"/Lang\s*\(en-GB\)", pdf)
        assert store.pep(pep.id).status == PepStatus.FINAL
        assert services.casework.pdf.rendered == 1

        text = text_of(store.document_content(final.id))
        owner = store.staff(pep.owner_staff_id)
        assert f"Finalised by {owner.name}, social worker" in text
        assert "Refer to the educational psychologist SENCo 20 November 2026" in text  # the school's actions
        assert "Dr Absent Educational psychologist Sent apologies" in text  # roles as words, apologies kept
        assert "educational-psychologist" not in text and "Reading tuition continues." in text


async def test_the_next_pep_form_carries_last_terms_targets_and_facts_forward(tmp_path):
    clock = SimulationClock(T0)
    async with open_services(settings(tmp_path, final_pdf=False), clock, mailer=RecordingMailer()) as services:
        store, casework = services.store, services.casework
        load_sample_data(store)
        last = a_pep_at_its_meeting(store)
        await job_handler(casework, document_jobs.GENERATE_FINAL_PEP)(
            pepId=last.id, job=SimpleNamespace(element_id="GenerateFinalPepTask", element_instance_key=1), attendeeIds=[])
        spring = store.create_pep(last.child_id, 2026, "spring", actor="test", on=date(2027, 1, 10),
                                  meeting_at=datetime(2027, 2, 3, 10, tzinfo=timezone.utc))
        content = casework.context.content(spring)  # the form's content, as generate-pep-form renders it
        assert content.review == "termly" and content.previous_term == "Autumn 2026"
        made = casework.generate_pep_form(spring.id, "GenerateTermlyPepTask:7")
        form = store.document_content(made["formDocumentId"])
        back = read_school_return(form, spring.id, SECRET.encode()).values
        assert [(r.number, r.target) for r in back.target_reviews] == [(1, "Read with an adult five nights a week.")]
        assert (back.sen_status, back.agencies) == ("sen-support", "Speech and language therapy.")
        assert back.targets == []


async def test_a_final_pep_kept_without_its_pdf_gets_it_when_the_step_runs_again(tmp_path, monkeypatch):
    """A step that kept the Word final PEP and failed before its PDF was kept sets the
    PDF when it runs again, version for version, from the records the final PEP was made from."""
    clock = SimulationClock(T0)
    async with open_services(settings(tmp_path), clock, mailer=RecordingMailer()) as services:
        store, casework = services.store, services.casework
        load_sample_data(store)
        pep = a_pep_at_its_meeting(store)
        keep = casework.context.keep_document  # the failure between the two documents

        def fail_on_the_pdf(pep_record, kind, data, purpose=None):
            if kind == DocumentKind.FINAL_PDF:
                raise OSError("disk full")
            return keep(pep_record, kind, data, purpose)

        monkeypatch.setattr(casework.context, "keep_document", fail_on_the_pdf)
        job = SimpleNamespace(element_id="GenerateFinalPepTask", element_instance_key=77)
        handler = job_handler(casework, document_jobs.GENERATE_FINAL_PEP)
        with pytest.raises(OSError, match="disk full"):
            await handler(pepId=pep.id, job=job, attendeeIds=[])
        assert store.documents(pep.id, DocumentKind.FINAL_PDF) == [] and store.pep(pep.id).status != PepStatus.FINAL
        monkeypatch.setattr(casework.context, "keep_document", keep)
        again = await handler(pepId=pep.id, job=job, attendeeIds=[])
        (final,) = store.documents(pep.id, DocumentKind.FINAL)
        assert again == {"finalDocumentId": final.id} and store.pep(pep.id).status == PepStatus.FINAL
        (pdf_version,) = store.documents(pep.id, DocumentKind.FINAL_PDF)
        assert pdf_version.filename == f"{pep.id}-final-v1.pdf"
        pdf = store.document_content(pdf_version.id)
        assert pdf.startswith(b"%PDF-") and b"/StructTreeRoot" in pdf
        if shutil.which("pdftotext"):
            text = " ".join(subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True)
                            .stdout.decode().split())
            assert "Refer to the educational psychologist" in text and "Version 1" in text
