"""User tasks over the Orchestration Cluster REST API v2 with Camunda's Python client
(``camunda-orchestration-sdk``): what Tasklist or a council's script does on a cluster,
pointed at the facade here (or at a real cluster in the testcontainers test)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

sdk = pytest.importorskip("camunda_orchestration_sdk", reason="camunda-orchestration-sdk is a test dependency")
from camunda_orchestration_sdk import models as m  # noqa: E402

from pepflow.engine.views import UserTask  # noqa: E402


def _when(value) -> datetime | None:
    if value in (None, "") or not isinstance(value, (str, datetime)):
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(value.replace("Z", "+00:00"))


class RestTasks:
    def __init__(self, rest_url: str, *, auth: dict | None = None) -> None:
        config = {"CAMUNDA_REST_ADDRESS": rest_url, "CAMUNDA_AUTH_STRATEGY": "NONE", **(auth or {})}
        self.client = sdk.CamundaClient(configuration=config)

    def open_tasks(self, process_instance_key: int) -> list[UserTask]:
        """The instance's open user tasks with the variables Tasklist would show."""
        found = self.client.search_user_tasks(data=m.UserTaskSearchQuery.from_dict(
            {"filter": {"processInstanceKey": str(process_instance_key), "state": "CREATED"}}
        ))
        tasks = []
        for item in found.items:
            variables = self.client.search_user_task_variables(
                user_task_key=item.user_task_key, data=m.UserTaskVariableSearchQueryRequest.from_dict({"page": {"limit": 1000}}),
            )
            values = {v.name: json.loads(v.value) for v in variables.items}
            tasks.append(UserTask(
                user_task_key=int(item.user_task_key), process_instance_key=int(item.process_instance_key),
                bpmn_process_id=item.process_definition_id, element_id=item.element_id, name=item.name,
                form_id=None, assignee=item.assignee or None, candidate_groups=list(item.candidate_groups or []),
                candidate_users=list(item.candidate_users or []), due_date=_when(item.due_date),
                follow_up_date=_when(item.follow_up_date), state=str(item.state.value if hasattr(item.state, "value") else item.state),
                created_at=_when(item.creation_date), completed_at=None, completed_by=None, variables=values,
            ))
        return tasks

    def assign_and_complete(self, user_task_key: int, assignee: str, variables: dict) -> None:
        self.client.assign_user_task(
            user_task_key=str(user_task_key), data=m.UserTaskAssignmentRequest.from_dict({"assignee": assignee}),
        )
        self.client.complete_user_task(
            user_task_key=str(user_task_key), data=m.UserTaskCompletionRequest.from_dict({"variables": variables}),
        )

    def close(self) -> None:
        self.client.close()
