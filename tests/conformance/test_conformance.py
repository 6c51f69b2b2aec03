"""Conformance: one small diagram per behaviour, the same expected result on every
target - the embedded engine (strict mode), the gateway facade (gRPC + REST API v2),
and the real Camunda orchestration cluster where Docker runs.

Each expectation is what Zeebe does (its source and tests, camunda/camunda
``zeebe/engine``) and Camunda's documentation says; ``pepflow/engine/strict.py``
names the page of each rule and ``docs/camunda8.md`` has the table.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from .targets import Rejected, diagram, normalise

INCIDENT = "EXTRACT_VALUE_ERROR"


# ------------------------------------------------------------ assignment values
def test_candidate_groups_expression_giving_a_list_of_strings(target):
    target.deploy(diagram("candidate-groups-expression.bpmn"))
    key = target.start("candidateGroupsExpression", {"groups": ["business-support-north", "bso-leads"]})
    [task] = target.user_tasks(key)
    assert task["candidateGroups"] == ["business-support-north", "bso-leads"]


@pytest.mark.parametrize("groups", ["business-support-north", "a,b", 7, ["bso", 3], None])
def test_candidate_groups_expression_giving_anything_else_is_an_incident(target, groups):
    """The diagram once had ``=businessSupportGroup`` with a string: every PEP would
    have stopped here on Camunda 8 while the lenient engine split the string."""
    target.deploy(diagram("candidate-groups-expression.bpmn"))
    key = target.start("candidateGroupsExpression", {"groups": groups})
    assert target.incidents(key) == [("WorkTask", INCIDENT)]
    assert target.user_tasks(key, expect=0) == []


def test_static_candidate_groups_are_a_trimmed_comma_separated_list(target):
    target.deploy(diagram("candidate-groups-static.bpmn"))
    key = target.start("candidateGroupsStatic", {})
    [task] = target.user_tasks(key)
    assert task["candidateGroups"] == ["business-support-north", "business-support-south"]


def test_a_static_candidate_list_with_a_blank_entry_is_refused_at_deployment(target):
    with pytest.raises(Rejected) as refused:
        target.deploy(diagram("candidate-groups-static-blank.bpmn"))
    assert refused.value.code == "INVALID_ARGUMENT"


def test_assignee_expression_giving_a_string(target):
    target.deploy(diagram("assignee-expression.bpmn"))
    key = target.start("assigneeExpression", {"owner": "jo.bloggs@council.example"})
    [task] = target.user_tasks(key)
    assert task["assignee"] == "jo.bloggs@council.example"


@pytest.mark.parametrize("variables", [{}, {"owner": None}, {"owner": 42}, {"owner": ["a"]}])
def test_a_null_or_non_string_assignee_is_an_incident(target, variables):
    target.deploy(diagram("assignee-expression.bpmn"))
    key = target.start("assigneeExpression", variables)
    assert target.incidents(key) == [("WorkTask", INCIDENT)]


# ------------------------------------------------------------------ date-times
@pytest.mark.parametrize(("due", "expected"), [
    ("2026-10-01T09:00:00+01:00", "2026-10-01T08:00:00Z"),
    ("2026-10-01T08:00:00Z", "2026-10-01T08:00:00Z"),
    ("2026-10-01T08:00Z", "2026-10-01T08:00:00Z"),
    ("2026-10-01T09:00:00+01:00[Europe/London]", "2026-10-01T08:00:00Z"),
    (None, None),
    ("", None),
])
def test_due_date_with_offset_or_none(target, due, expected):
    target.deploy(diagram("due-date-expression.bpmn"))
    key = target.start("dueDateExpression", {"due": due})
    [task] = normalise(target.user_tasks(key))
    assert task["dueDate"] == expected


@pytest.mark.parametrize("due", ["2026-10-01", "2026-10-01T09:00:00", "2026-10-01 09:00:00Z", "2026-10-01T09:00:00+0100", "soon", 20261001])
def test_a_due_date_without_offset_or_not_a_date_time_is_an_incident(target, due):
    target.deploy(diagram("due-date-expression.bpmn"))
    key = target.start("dueDateExpression", {"due": due})
    assert target.incidents(key) == [("WorkTask", INCIDENT)]


def test_a_static_follow_up_date_that_is_no_date_time_is_refused_at_deployment(target):
    with pytest.raises(Rejected) as refused:
        target.deploy(diagram("follow-up-date-static-invalid.bpmn"))
    assert refused.value.code == "INVALID_ARGUMENT"


@pytest.mark.parametrize("at", ["2026-10-01", "2026-10-01T09:00:00", None])
def test_a_timer_date_without_offset_or_null_is_an_incident(target, at):
    target.deploy(diagram("timer-date.bpmn"))
    key = target.start("timerDate", {"at": at})
    assert target.incidents(key) == [("WaitEvent", INCIDENT)]


def test_a_timer_date_with_offset_waits(target):
    target.deploy(diagram("timer-date.bpmn"))
    key = target.start("timerDate", {"at": "2099-01-01T09:00:00+00:00"})
    assert target.incidents(key, expect=0) == []
    assert not target.is_completed(key) if target.name != "camunda" else True


# --------------------------------------------------------------- variable names
def test_a_mapping_target_that_is_no_variable_path_is_refused_at_deployment(target):
    with pytest.raises(Rejected) as refused:
        target.deploy(diagram("variable-name-invalid.bpmn"))
    assert refused.value.code == "INVALID_ARGUMENT"


# --------------------------------------------------------------------- messages
def test_a_message_id_is_unique_per_name_and_correlation_key_while_buffered(target):
    target.deploy(diagram("message-catch.bpmn"))
    target.publish("conformance-message", "case-1", message_id="event-1")
    with pytest.raises(Rejected) as refused:
        target.publish("conformance-message", "case-1", message_id="event-1")
    assert refused.value.code == "ALREADY_EXISTS"
    # another correlation key, or another name: not the same message
    target.publish("conformance-message", "case-2", message_id="event-1")
    target.publish("another-message", "case-1", message_id="event-1")


def test_a_buffered_message_is_caught_by_an_instance_that_subscribes_later(target):
    target.deploy(diagram("message-catch.bpmn"))
    target.publish("conformance-message", "case-3", ttl=timedelta(hours=1))
    key = target.start("messageCatch", {"caseId": "case-3"})
    assert target.is_completed(key)


def test_a_message_with_time_to_live_zero_is_not_buffered(target):
    target.deploy(diagram("message-catch.bpmn"))
    target.publish("conformance-message", "case-4", ttl=timedelta(0))
    key = target.start("messageCatch", {"caseId": "case-4"})
    assert not target.is_completed(key) if target.name != "camunda" else True
    target.publish("conformance-message", "case-4", ttl=timedelta(0))
    assert target.is_completed(key)


# ---------------------------------------------------------------- version numbers
def test_versions_on_redeploy(target):
    first = target.deploy(diagram("message-catch.bpmn"))
    again = target.deploy(diagram("message-catch.bpmn"))
    renamed = target.deploy(diagram("message-catch.bpmn", "message-catch-renamed.bpmn"))
    changed = target.deploy(("message-catch-renamed.bpmn", (diagram("message-catch.bpmn")[1]).replace(b"conformance:", b"conformance (v2):")))
    [(_id, v)] = first  # 1 on a fresh engine; later on a shared cluster
    assert [again, renamed, changed] == [[("messageCatch", v)], [("messageCatch", v + 1)], [("messageCatch", v + 2)]]


# ------------------------------------------------------------------ error codes
def test_an_uncaught_bpmn_error_is_an_incident(target):
    target.deploy(diagram("job-error.bpmn"))
    key = target.start("jobError", {})
    target.throw_error("conformance-error", "NOT-CAUGHT")
    assert target.incidents(key) == [("WorkTask", "UNHANDLED_ERROR_EVENT")]


def test_completing_an_unknown_job_is_not_found(target):
    with pytest.raises(Rejected) as refused:
        target.complete_job(2251799813685999)
    assert refused.value.code == "NOT_FOUND"


# ------------------------------------------------------------ operator commands
def _deletable(marker: str = "version-a", *, suffix: str = "") -> tuple[str, bytes]:
    """``deletable.bpmn`` as process ``deletable<suffix>`` (job type alike), its
    content told apart by ``marker``: a fresh process on a shared cluster too."""
    content = diagram("deletable.bpmn")[1].replace(b"version-a", marker.encode())
    content = content.replace(b'id="deletable"', f'id="deletable{suffix}"'.encode())
    content = content.replace(b"conformance-deletable", f"conformance-deletable{suffix}".encode())
    return (f"deletable{suffix}.bpmn", content)


def _suffix() -> str:
    import uuid

    return uuid.uuid4().hex[:8]


def test_deleting_the_latest_version_makes_the_previous_one_latest_and_no_version_is_reused(target):
    s = _suffix()
    [(pid, v1, _k1)] = target.deploy_keys(_deletable("version-a", suffix=s))
    [(_pid, v2, k2)] = target.deploy_keys(_deletable("version-b", suffix=s))
    assert (v1, v2) == (1, 2)
    target.delete_resource(k2)
    assert target.instance_version(target.start(pid, {})) == 1
    with pytest.raises(Rejected) as refused:
        target.start_version(pid, 2)
    assert refused.value.code == "NOT_FOUND"
    [(_pid, v3, _k3)] = target.deploy_keys(_deletable("version-c", suffix=s))
    assert v3 == 3


def test_deleting_a_definition_lets_its_running_instances_finish(target):
    s = _suffix()
    [(pid, _v, key)] = target.deploy_keys(_deletable(suffix=s))
    running = target.start(pid, {})
    target.delete_resource(key)  # accepted: the definition drains
    with pytest.raises(Rejected) as refused:
        target.start(pid, {})  # nothing new starts on it
    assert refused.value.code == "NOT_FOUND"
    target.complete_job(target.activate(f"conformance-deletable{s}"))
    assert target.is_completed(running)


def test_deleting_an_unknown_resource_is_not_found(target):
    with pytest.raises(Rejected) as refused:
        target.delete_resource(2251799813685999)
    assert refused.value.code == "NOT_FOUND"


def test_the_timeout_of_an_activated_job_can_be_changed_and_of_no_other(target):
    s = _suffix()
    [(pid, _v, _key)] = target.deploy_keys(_deletable(suffix=s))
    instance = target.start(pid, {})
    job = target.activate(f"conformance-deletable{s}", timeout_ms=60_000)
    target.update_job_timeout(job, 600_000)
    target.complete_job(job)
    assert target.is_completed(instance)
    for gone in (job, 2251799813685999):  # completed, or never existed
        with pytest.raises(Rejected) as refused:
            target.update_job_timeout(gone, 600_000)
        assert refused.value.code == "NOT_FOUND"


def test_a_decision_that_was_never_deployed_is_not_found(gateway):
    with pytest.raises(Rejected) as refused:
        gateway.evaluate_decision("pep-no-such-decision")
    assert refused.value.code == "NOT_FOUND"
    assert "Expected to evaluate decision 'pep-no-such-decision', but no decision found for id 'pep-no-such-decision'" in str(refused.value)


def test_a_signal_nothing_waits_for_is_accepted(gateway):
    assert gateway.broadcast_signal("pep-nobody-listens") > 0


def test_modifying_or_migrating_an_unknown_instance_is_not_found(gateway):
    with pytest.raises(Rejected) as refused:
        gateway.modify(2251799813685999, ["WorkTask"])
    assert refused.value.code == "NOT_FOUND"
    assert "Expected to modify process instance but no process instance found with key '2251799813685999'" in str(refused.value)
    with pytest.raises(Rejected) as refused:
        gateway.migrate(2251799813685999, 2251799813685998)
    assert refused.value.code == "NOT_FOUND"
    assert "Expected to migrate process instance but no process instance found with key '2251799813685999'" in str(refused.value)


def test_the_default_tenant_is_accepted_and_another_refused_without_multi_tenancy(gateway):
    """Our compose file (and the facade) run without multi-tenancy: PEP_ZEEBE_TENANT_ID
    stays ``<default>``; another tenant is refused in the gateway's words."""
    gateway.deploy_for_tenant("<default>", diagram("message-catch.bpmn"))
    with pytest.raises(Rejected) as refused:
        gateway.deploy_for_tenant("north", diagram("message-catch.bpmn"))
    assert refused.value.code == "INVALID_ARGUMENT"
    assert ("Expected to handle gRPC request DeployResource with tenant identifier 'north', but multi-tenancy is "
            "disabled") in str(refused.value)
