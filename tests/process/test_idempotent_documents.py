"""Document steps make one version per form per PEP per purpose, whatever the retries:
a step that made its document and then failed (a crash, a lost connection before the
job completed) finds that document when it runs again."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pepflow.domain.enums import DocumentKind

T0 = datetime(2026, 9, 14, 7, 0, tzinfo=timezone.utc)


async def test_a_document_step_run_again_after_a_failure_makes_no_second_version(tmp_path, world_factory):
    world = world_factory(f"sqlite:///{tmp_path / 'docs.sqlite3'}", T0)
    real = world.casework.generate_pep_form
    failures = {"left": 2}

    def made_then_lost(pep_id, purpose=None):
        result = real(pep_id, purpose)  # the document is made and kept ...
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("the worker lost its connection before completing the job")  # ... and the job fails
        return result

    world.casework.generate_pep_form = made_then_lost
    world.engine.publish_message("child-looked-after", "C-0001", {
        "childId": "C-0001", "enteredCareOn": "2026-09-14", "emergency": False})
    await world.runtime.advance(timedelta(hours=2))  # both retries, after their backoff
    pep_id = "PEP-C-0001-2026-AUT"
    forms = world.store.documents(pep_id, DocumentKind.FORM)
    assert failures["left"] == 0 and [d.version for d in forms] == [1]
    assert forms[0].purpose.startswith("GenerateInitialPepTask:")
    assert world.engine.incidents() == []


def test_the_same_purpose_twice_returns_the_first_version(tmp_path, world_factory):
    world = world_factory(f"sqlite:///{tmp_path / 'docs2.sqlite3'}", T0)
    pep = world.store.create_pep("C-0001", 2026, "autumn", actor="test", on=T0.date())
    first = world.casework.generate_pep_form(pep.id, "GeneratePepFormTask:1")
    again = world.casework.generate_pep_form(pep.id, "GeneratePepFormTask:1")
    later = world.casework.generate_pep_form(pep.id, "GeneratePepFormTask:2")  # the element entered again
    assert first == again and later != first
    assert [d.version for d in world.store.documents(pep.id, DocumentKind.FORM)] == [1, 2]
