"""A document version's protected copy is made once for all its recipients (a final
PEP to every attendee), and only for that version and password."""

from __future__ import annotations

from pepflow.documents import document_password, protect, render_pep_form, unprotect
from pepflow.documents.protected_copies import ProtectedCopies

from .helpers import SECRET, content, identity

REF = "PEP-C-0001-2026-AUT"


def test_one_protected_copy_per_version_and_password():
    form = render_pep_form(identity(), content("school-age"), SECRET)
    v1 = document_password(bytes(range(32)), REF, 1, kind="final")
    v2 = document_password(bytes(range(32)), REF, 2, kind="final")
    copies = ProtectedCopies(size=2)
    made: list[int] = []

    def make(password: str):
        def run() -> bytes:
            made.append(1)
            return protect(form, password)
        return run

    first = copies.get(11, v1, make(v1))
    assert copies.get(11, v1, make(v1)) is first  # the second attendee: the same copy
    assert unprotect(first, v1) == form
    second = copies.get(12, v2, make(v2))  # a new version: a new copy with its own password
    assert unprotect(second, v2) == form and second != first
    assert copies.get(11, "another-password-entirely", make("another-password-entirely")) != first
    assert len(made) == 3 and copies.reused == 1
    copies.get(11, v1, make(v1))  # the oldest fell out of the two kept: made again
    assert len(made) == 4
