"""The Virtual School's quality review end to end on the embedded engine: a final PEP is
rated red, returned to the social worker and the school, improved by a corrected final
PEP (the final PEP itself never changes), rated again and green (bpmn/pep-quality.bpmn)."""

from __future__ import annotations

import pytest

from pepflow.domain.enums import DocumentKind, PepStatus
from pepflow.domain.quality import SEED_CRITERIA
from pepflow.engine.errors import InvalidVariables
from pepflow.quality import IMPROVE_TASK, QUALITY_PROCESS, RATE_TASK, QualityService
from pepflow.store.quality import QualityRefused

from .conftest import T0
from .helpers import play_until, start

PEP = "PEP-C-0001-2026-AUT"
ALL_GREEN = {c.code: ("green", None) for c in SEED_CRITERIA}
LOGIN_ST_0001 = "amira.quillfeather@council.example.org"


def quality_tasks(world, element_id):
    return [t for t in world.engine.user_tasks(element_id=element_id) if t.variables.get("pepId") == PEP]


async def test_rate_red_return_improve_by_correction_and_rate_green(make_world):
    world = make_world(T0)
    service = QualityService(world.store, world.engine, world.clock, world.casework)
    world.engine.add_completion_check(service.check_task)
    key = start(world, "child-looked-after", "C-0001", enteredCareOn="2026-09-14", emergency=False)
    await world.runtime.run_until_idle()
    await play_until(world, key, lambda: world.store.pep(PEP).status == PepStatus.FINAL)
    [first_final] = world.store.documents(PEP, DocumentKind.FINAL)
    first_bytes = world.store.document_content(first_final.id)
    world.new_mail()

    # once a day final PEPs go to the Virtual School; a PEP is asked about once
    assert service.request_due() == [PEP]
    await world.runtime.run_until_idle()
    assert service.request_due() == []
    [rate] = quality_tasks(world, RATE_TASK)
    assert (rate.bpmn_process_id, rate.candidate_groups, rate.assignee) == (QUALITY_PROCESS, ["virtual-school"], None)
    assert {c.code for c in service.records.criteria()} == {c.code for c in SEED_CRITERIA}

    # completing the task from a task list without rating the criteria is refused, with why
    with pytest.raises(InvalidVariables, match="rate every criterion"):
        world.engine.complete_user_task(rate.user_task_key, {"qualityRating": "green"}, actor="virtual.school")

    # red: every red or amber criterion says what to improve
    red = {**ALL_GREEN, "smart-targets": ("red", "No target has a measure or a date"),
           "childs-voice": ("amber", "Quote the child's own words")}
    review = service.rate(PEP, red, "red", "Make the targets SMART and agree them with the school", actor="ST-0021")
    await world.runtime.run_until_idle()
    assert review.rating.value == "red" and review.status.value == "returned"
    mail = world.new_mail()
    assert sorted(m.recipients for _, m in mail) == [("amira.quillfeather@council.example.org",),
                                                      ("designated.teacher@oakridge-primary.example.org",)]
    assert all(m.subject == f"PEP {PEP} returned for improvement by the Virtual School" for _, m in mail)
    assert all("No target has a measure" not in m.text_body for _, m in mail)  # the words stay in the records
    [improve] = quality_tasks(world, IMPROVE_TASK)
    assert improve.assignee == LOGIN_ST_0001  # the PEP's owner today

    # the improvement task follows the allocation like every owner task: a new worker
    # takes the child, then the first worker comes back
    today = world.clock.now().date()
    world.store.allocations.allocate("C-0001", "ST-0002", "social-worker", starts_on=today, actor="ST-0040")
    world.handover.follow(["C-0001"], actor="ST-0040", reason="new worker")
    assert quality_tasks(world, IMPROVE_TASK)[0].assignee == "bartholomew.nettleby@council.example.org"
    world.store.allocations.allocate("C-0001", "ST-0001", "social-worker", starts_on=today, actor="ST-0040")
    world.handover.follow(["C-0001"], actor="ST-0040", reason="worker back")
    [improve] = quality_tasks(world, IMPROVE_TASK)
    assert improve.assignee == LOGIN_ST_0001

    # the improvement is a corrected final PEP: confirming without one is refused
    with pytest.raises(InvalidVariables, match="no corrected final PEP since it was returned"):
        world.engine.complete_user_task(improve.user_task_key, {"pepImproved": True}, actor=LOGIN_ST_0001)
    with pytest.raises(QualityRefused, match="no quality rating waiting"):
        service.rate(PEP, ALL_GREEN, "green", None, actor="ST-0021")
    version = await service.improve(
        PEP, "school-return", {"progress": "Target 1: reads a chapter book a week, checked each Friday, by 12 February"},
        reason="Targets made SMART as the Virtual School asked", actor="ST-0001", login=LOGIN_ST_0001)
    await world.runtime.run_until_idle()
    assert version == 2
    versions = world.store.documents(PEP, DocumentKind.FINAL)
    assert sorted(v.version for v in versions) == [1, 2]
    assert world.store.document_content(first_final.id) == first_bytes  # version 1 never changes
    assert world.store.pep(PEP).status == PepStatus.FINAL

    # rated again: the corrected version, green
    [again] = quality_tasks(world, RATE_TASK)
    assert again.variables["qualityRating"] is None  # the last round's answer is not offered again
    green = service.rate(PEP, ALL_GREEN, "green", None, actor="ST-0021")
    await world.runtime.run_until_idle()
    assert (green.round, green.final_version, green.rating.value) == (2, 2, "green")
    [instance] = [i for i in world.engine.instances() if i.bpmn_process_id == QUALITY_PROCESS]
    assert instance.state == "COMPLETED"
    assert [(r.round, r.rating.value, r.status.value) for r in service.records.reviews_for(PEP)] == [
        (1, "red", "improved"), (2, "green", "rated")]
    assert world.engine.incidents() == []
    audit = [e.action for e in world.store.audit_entries("pep", PEP)]
    assert {"quality-rated", "quality-improved", "correction"} <= set(audit)
