"""The records store is a facade: every repository's public method is the store's, and
the repositories share one unit of work (a change and its audit entry, and changes
grouped with ``atomic``, commit together whichever repository makes them)."""

from __future__ import annotations

import inspect
from datetime import date

import pytest

from pepflow.store import RecordsStore, UnknownChild
from pepflow.store.repository import FORWARDED

ADMIN = "ST-0030"


def _public(cls: type) -> list[str]:
    return [n for n, value in vars(cls).items() if callable(value) and not n.startswith("_")]


@pytest.mark.parametrize("attribute", sorted(FORWARDED))
def test_every_public_method_of_a_repository_is_the_stores_with_its_signature(attribute):
    repository = FORWARDED[attribute]
    for name in _public(repository):
        forwarded = getattr(RecordsStore, name)
        assert forwarded.__wrapped__ is getattr(repository, name), name
        assert inspect.signature(forwarded) == inspect.signature(getattr(repository, name)), name
        assert forwarded.__doc__ == getattr(repository, name).__doc__, name


def test_the_store_hands_out_its_repositories_over_one_unit_of_work(store):
    for attribute, repository in FORWARDED.items():
        assert isinstance(getattr(store, attribute), repository)
        assert getattr(store, attribute).uow is store.uow


def test_atomic_groups_changes_of_several_repositories_with_their_audit(sample_store):
    before = len(sample_store.audit_entries())
    with pytest.raises(UnknownChild):
        with sample_store.atomic():
            sample_store.save_setting(
                "SET-NEW", "New School", "primary", designated_teacher_name="T",
                designated_teacher_email="t@school.example", actor=ADMIN,
            )
            sample_store.staff_repo.save_staff("ST-0999", "New Worker", "w@council.example",
                                               ["social-worker"], actor=ADMIN)
            sample_store.children_repo.enrol("C-9999", "SET-NEW", date(2026, 9, 1), actor=ADMIN)
    assert [s.id for s in sample_store.settings() if s.id == "SET-NEW"] == []
    assert [s.id for s in sample_store.all_staff() if s.id == "ST-0999"] == []
    assert len(sample_store.audit_entries()) == before
