"""Contract between the diagram, the forms and the workers: every task type has a
handler, every handler parameter is a variable something provides, every form field
is read by a worker or a gateway (or is a confirmation kept with the task)."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

from lxml import etree

from pepflow.casework import Casework
from pepflow.clock import SystemClock
from workers import TASK_TYPES, build_routers

ROOT = Path(__file__).resolve().parents[2]
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "zeebe": "http://camunda.org/schema/zeebe/1.0"}
# Checkboxes that only confirm a step; the engine keeps them with the completed task
# (history, audit) and no worker needs to read them.
CONFIRMATIONS = {"swSectionComplete", "developmentInfoRecorded", "typedUp", "returnReasonCode"}


DIAGRAMS = sorted((ROOT / "bpmn").glob("*.bpmn"))


def _parse(path):
    return etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))


def _process_of(path) -> str:
    return _parse(path).find("bpmn:process", NS).get("id")


def _forms_of(path) -> set[str]:
    return {d.get("formId") for d in _parse(path).iter("{%s}formDefinition" % NS["zeebe"])}


def _types_of(path) -> set[str]:
    return {el.get("type") for el in _parse(path).iter("{%s}taskDefinition" % NS["zeebe"])}


def _routers():
    return build_routers(Casework(store=None, mailer=None, clock=SystemClock()))  # handlers only, nothing runs


def test_every_task_type_in_the_diagram_has_exactly_one_handler():
    in_diagram = set().union(*(_types_of(p) for p in DIAGRAMS))
    handled = [task.type for router in _routers() for task in router.tasks]
    assert sorted(handled) == sorted(set(handled)), "a task type has two handlers"
    assert in_diagram == set(handled) == set(TASK_TYPES)


def test_task_types_are_kebab_case_and_handlers_their_snake_case_name():
    for router in _routers():
        for task in router.tasks:
            assert re.fullmatch(r"[a-z]+(-[a-z0-9]+)+", task.type)
            assert task.original_function.__name__ == task.type.replace("-", "_")


def _form_keys() -> dict[str, set[str]]:
    keys: dict[str, set[str]] = {}

    def walk(components, into):
        for component in components:
            walk(component.get("components") or [], into)
            if component.get("key"):
                into.add(component["key"])

    for path in (ROOT / "forms").glob("*.form"):
        found: set[str] = set()
        walk(json.loads(path.read_text())["components"], found)
        keys[path.stem] = found
    return keys


def test_every_form_field_has_a_consumer():
    handler_parameters = {
        name for router in _routers() for task in router.tasks
        for name in inspect.signature(task.original_function).parameters
    }
    diagram_text = " ".join(p.read_text() for p in DIAGRAMS)
    feel = " ".join(re.findall(r'="(=[^"]*)"', diagram_text) + re.findall(r">(=[^<]*)<", diagram_text))
    for form_id, keys in _form_keys().items():
        for key in keys - CONFIRMATIONS - {"contactOptions"}:
            assert key in handler_parameters or re.search(rf"\b{key}\b", feel), f"{form_id}: nobody reads {key}"


def test_every_handler_parameter_is_provided_by_a_start_message_a_form_or_another_handler():
    # start and event messages (pepflow/events.py): identifiers and dates only
    provided = {"job", "childId", "enteredCareOn", "emergency", "careEpisodeId", "attendeeId",
                "leftCareOn", "newSettingId", "settingChangedOn", "changedMeetingAt", "meetingChange",
                "schoolReturnId"}  # pep-form-returned: the returned form as read (issue 12)
    provided |= set().union(*_form_keys().values())
    provided |= {
        # what the casework steps return (see docs/process-contract.md)
        "pepId", "settingId", "variant", "hasSettingInput", "ownerRole", "ownerAssignee", "ownerCandidateGroups", "businessSupportGroups", "contactOptions",
        "isInitial", "initialMeetingDueAt", "initialMeetingReminderAt", "meetingAt", "prepareFromAt",
        "formSendAt", "formReminderAt", "agedOut", "formDocumentId", "finalDocumentId",
        "swPartDueAt", "swPartEscalateAt", "meetingRecordDueAt", "finaliseDueAt", "meetingRecordFollowUpAt", "finaliseFollowUpAt", "formAlreadyReturned",
        "meetingDateProblem", "meetingDateRefusedOn", "meetingDateNextValid",
        # the quality review (bpmn/pep-quality.bpmn): its start message and its steps
        "pepId", "qualityReviewId", "qualityReviewerGroups", "qualityRatingProblem", "improvementProblem",
    }
    for router in _routers():
        for task in router.tasks:
            for name in inspect.signature(task.original_function).parameters:
                assert name in provided, f"{task.type} reads {name}, which nothing provides"


def test_every_form_field_and_every_variable_a_handler_reads_is_in_the_process_contract():
    """The variable contract (pepflow/domain/variables.py) names everything the process
    holds; the engine refuses the rest at deploy and at run time."""
    from pepflow.domain.variables import CONTRACTS

    keys_of = _form_keys()
    for path in DIAGRAMS:
        contract = CONTRACTS[_process_of(path)]
        for form_id in _forms_of(path):
            keys = keys_of[form_id]
            assert keys <= contract.keys(), f"form {form_id}: {keys - contract.keys()} not in the contract"
        types = _types_of(path)
        for router in _routers():
            for task in router.tasks:
                if task.type not in types:
                    continue
                for name in inspect.signature(task.original_function).parameters:
                    assert name == "job" or name in contract, f"{task.type} reads {name}, not in the contract"


def test_every_form_belongs_to_exactly_one_diagram():
    owners = [form for path in DIAGRAMS for form in _forms_of(path)]
    assert sorted(owners) == sorted(set(owners)) == sorted(_form_keys()), "a form is unused or shared by two diagrams"

