"""The fast package writer: a plain, valid zip with the template's parts and unique control ids."""

from __future__ import annotations

import io
import zipfile
from collections import Counter

import docx
import pytest

from pepflow.documents import VARIANTS, render_pep_form
from pepflow.documents.forms import base_template

from .helpers import COUNCIL, SECRET, W, content, document_root, identity


@pytest.mark.parametrize("variant", VARIANTS)
def test_form_package_is_a_valid_zip_with_the_template_parts(variant):
    data = render_pep_form(identity(), content(variant), SECRET, council_name=COUNCIL)
    zf = zipfile.ZipFile(io.BytesIO(data))
    assert zf.testzip() is None
    template = zipfile.ZipFile(io.BytesIO(base_template(COUNCIL, editable_answers_only=True)))
    assert zf.namelist() == template.namelist()
    assert zf.namelist()[0] == "[Content_Types].xml"
    for name in zf.namelist():
        if name not in ("word/document.xml", "docProps/core.xml"):
            assert zf.read(name) == template.read(name)
    d = docx.Document(io.BytesIO(data))  # python-docx opens it
    assert d.core_properties.identifier == "PEP-C-0001-2026-AUT"


def test_content_control_ids_are_unique():
    root = document_root(render_pep_form(identity(), content("post-16"), SECRET))
    ids = Counter(e.get(f"{{{W}}}val") for e in root.iter(f"{{{W}}}id"))
    assert ids and max(ids.values()) == 1


def test_cached_parts_are_copied_not_shared():
    a = render_pep_form(identity(), content("school-age"), SECRET)
    b = render_pep_form(identity("PEP-C-0002-2026-AUT", "C-0002"), content("school-age"), SECRET)
    assert b"PEP-C-0001" not in zipfile.ZipFile(io.BytesIO(b)).read("word/document.xml")
    assert zipfile.ZipFile(io.BytesIO(a)).read("word/document.xml").count(b"school.attendance_percent") == 1
