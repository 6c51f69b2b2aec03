"""Document functions in a worker process (``DocumentPool.run``): the same results and
the same errors (type, message, attributes) as in this process, and a worker that dies
mid-call costs a warning and the call done here, never a lost document."""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
import pickle
import zipfile
from datetime import date

import docx
import pytest

from pepflow.documents import (
    DocumentRejected,
    Encrypted,
    MacroEnabled,
    NotAPepForm,
    NotAWordFile,
    ReadLimits,
    TooLarge,
    UnsafeXml,
    WrongPassword,
    WrongPep,
    protect,
    read_school_return,
    render_final_pep,
    render_pep_form,
    unprotect,
)
from pepflow.documents.spin_pool import DocumentPool

from .helpers import MEETING, SECRET, content, document_root, edit_part, fill_form, identity, school_return

REF = "PEP-C-0001-2026-AUT"
PASSWORD = "k7mq-2xfp-9rtc-4hwn"
DAY = date(2026, 9, 20)


@pytest.fixture(scope="module")
def pool():
    with DocumentPool(1) as pool:
        yield pool


def both(pool: DocumentPool, fn, *args, **kwargs):
    """``fn`` through the worker process and here."""
    before = pool.documents_in_pool
    there = pool.run(fn, *args, **kwargs)
    assert pool.documents_in_pool == before + 1  # it did run in the worker
    return there, fn(*args, **kwargs)


def parts(data: bytes) -> list[tuple[str, bytes]]:
    package = zipfile.ZipFile(io.BytesIO(data))
    return [(info.filename, package.read(info)) for info in package.infolist()]


def text(data: bytes) -> str:
    return "".join(t.text or "" for t in document_root(data).iter())


@pytest.mark.parametrize("variant", ["early-years", "school-age", "post-16", "early-years-no-setting"])
def test_a_form_made_in_a_worker_is_the_form_made_here(pool, variant):
    there, here = both(pool, render_pep_form, identity(), content(variant), SECRET,
                       council_name="Anyshire County Council", issued_on=DAY)
    # byte for byte: the package is written with fixed zip timestamps
    assert there == here


def test_a_final_pep_made_in_a_worker_is_the_final_pep_made_here(pool):
    args = (identity(), content("school-age"), school_return("school-age"), MEETING, 2)
    there, here = both(pool, render_final_pep, *args, council_name="Anyshire County Council",
                       finalised_on=DAY, finalised_by="Priya Worker", correction_note="Corrected: attendance.")
    # part for part (its zip entries carry the time they were written, so the bytes can
    # differ by a 2-second tick wherever it is made)
    assert parts(there) == parts(here)


def test_a_form_filled_and_read_in_a_worker_is_filled_and_read_as_here(pool):
    form = render_pep_form(identity(), content("post-16"), SECRET)
    filled_there, filled_here = both(pool, fill_form, form, school_return("post-16"), MEETING)
    assert parts(filled_there) == parts(filled_here) and text(filled_there) == text(filled_here)
    read_there, read_here = both(pool, read_school_return, filled_there, REF, SECRET)
    assert read_there == read_here
    assert read_there.values == school_return("post-16")
    assert pickle.loads(pickle.dumps(read_here)) == read_here


def test_a_protected_return_is_read_with_its_password_in_a_worker(pool):
    filled = fill_form(render_pep_form(identity(), content("school-age"), SECRET), school_return("school-age"))
    locked = protect(filled, PASSWORD)
    there, here = both(pool, read_school_return, locked, REF, SECRET, password=PASSWORD)
    assert there == here and there.values == school_return("school-age")


def test_a_file_protected_in_a_worker_opens_with_its_password(pool):
    form = render_pep_form(identity(), content("school-age"), SECRET)
    spins = pool.spun_in_pool
    protected = pool.protect(form, PASSWORD)
    assert pool.spun_in_pool == spins + 1
    assert unprotect(protected, PASSWORD) == form
    here = DocumentPool(0)
    assert unprotect(here.protect(form, PASSWORD), PASSWORD) == form
    assert here.spun_here == 1 and here._executor is None


def _good() -> bytes:
    return fill_form(render_pep_form(identity(), content("school-age"), SECRET), school_return("school-age"))


def _plain_word_file() -> bytes:
    document = docx.Document()
    document.add_paragraph("Hello")
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def _with_doctype(data: bytes) -> bytes:
    end = data.index(b"?>") + 2
    return data[:end] + b'<!DOCTYPE w:document [<!ENTITY a "b">]>' + data[end:]


def _macro(data: bytes) -> bytes:
    return data.replace(b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
                        b"application/vnd.ms-word.document.macroEnabled.main+xml")


REFUSALS = {
    "not a word file": (lambda: b"%PDF-1.7 not a form", {}, NotAWordFile),
    "truncated": (lambda: _good()[:5000], {}, NotAWordFile),
    "doctype": (lambda: edit_part(_good(), "word/document.xml", _with_doctype, raw=True), {}, UnsafeXml),
    "macros": (lambda: edit_part(_good(), "[Content_Types].xml", _macro, raw=True), {}, MacroEnabled),
    "too large": (lambda: _good(), {"limits": ReadLimits(max_file_bytes=1024)}, TooLarge),
    "protected, no password": (lambda: protect(_good(), PASSWORD), {}, Encrypted),
    "wrong password": (lambda: protect(_good(), PASSWORD), {"password": "zzzz-2xfp-9rtc-4hwn"}, WrongPassword),
    "not a pep form": (_plain_word_file, {}, NotAPepForm),
    "another pep's form": (lambda: render_pep_form(identity("PEP-C-0002-2026-AUT", "C-0002"), content("school-age"),
                                                   SECRET), {}, WrongPep),
    "another secret": (lambda: render_pep_form(identity(), content("school-age"), b"another-secret-of-32-bytes-long!"),
                       {}, WrongPep),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_refused_return_is_refused_the_same_in_a_worker(pool, case):
    make, kwargs, kind = REFUSALS[case]
    data = make()
    with pytest.raises(kind) as here:
        read_school_return(data, REF, SECRET, **kwargs)
    before = pool.documents_in_pool
    with pytest.raises(kind) as there:
        pool.run(read_school_return, data, REF, SECRET, **kwargs)
    assert pool.documents_in_pool == before + 1  # raised in the worker, not redone here
    assert type(there.value) is type(here.value)  # not a parent class: WrongPassword is an Encrypted
    assert str(there.value) == str(here.value) and there.value.args == here.value.args
    assert vars(there.value) == vars(here.value)
    assert isinstance(there.value, DocumentRejected)


def test_another_peps_form_names_both_references_from_a_worker(pool):
    other = render_pep_form(identity("PEP-C-0002-2026-AUT", "C-0002"), content("school-age"), SECRET)
    with pytest.raises(WrongPep) as exc:
        pool.run(read_school_return, other, REF, SECRET)
    assert exc.value.expected_reference == REF and exc.value.found_reference == "PEP-C-0002-2026-AUT"


class Awkward(Exception):
    """An error that a pickle round trip cannot rebuild (keyword-only arguments)."""

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code


def raise_awkward(code: int) -> None:
    raise Awkward(f"refused with {code}", code=code)


def test_an_error_that_would_not_arrive_intact_is_raised_by_the_call_done_here(pool):
    here = pool.documents_here
    with pytest.raises(Awkward) as exc:
        pool.run(raise_awkward, 7)
    assert str(exc.value) == "refused with 7" and exc.value.code == 7
    assert pool.documents_here == here + 1


def die_in_a_worker(value: str) -> str:
    """Dies like a worker killed mid-call (out of memory, kill -9); returns here."""
    if multiprocessing.parent_process() is not None:
        os._exit(9)
    return value.upper()


def test_a_worker_that_dies_mid_call_costs_a_warning_and_the_call_done_here(caplog):
    with DocumentPool(1) as pool:
        with caplog.at_level(logging.WARNING, logger="pepflow.documents.spin_pool"):
            assert pool.run(die_in_a_worker, "made here") == "MADE HERE"
        assert "worker process died" in caplog.text and "die_in_a_worker" in caplog.text
        assert pool.documents_here == 1 and pool.documents_in_pool == 0
        form = pool.run(render_pep_form, identity(), content("school-age"), SECRET, issued_on=DAY)  # a new worker
        assert form == render_pep_form(identity(), content("school-age"), SECRET, issued_on=DAY)
        assert pool.documents_in_pool == 1


def test_no_processes_run_here():
    pool = DocumentPool(0)
    assert pool.run(render_pep_form, identity(), content("school-age"), SECRET, issued_on=DAY) == \
        render_pep_form(identity(), content("school-age"), SECRET, issued_on=DAY)
    assert pool.documents_here == 1 and pool._executor is None
    pool.close()
