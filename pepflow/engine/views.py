"""What the engine shows its callers: plain, immutable records.

Names follow Camunda's APIs (userTaskKey, assignee, candidateGroups, dueDate, ...)
so the web UI, the CLI and a Zeebe adapter speak the same language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class DeployedProcess:
    bpmn_process_id: str
    version: int
    process_definition_key: int
    resource_name: str


@dataclass(frozen=True)
class DeployedForm:
    form_id: str
    version: int
    form_key: int
    resource_name: str


@dataclass(frozen=True)
class Deployment:
    key: int
    processes: list[DeployedProcess]
    forms: list[DeployedForm]


@dataclass(frozen=True)
class UserTask:
    user_task_key: int
    process_instance_key: int
    bpmn_process_id: str
    element_id: str
    name: str | None
    form_id: str | None
    assignee: str | None
    candidate_groups: list[str]
    candidate_users: list[str]
    due_date: datetime | None
    follow_up_date: datetime | None
    state: str
    created_at: datetime
    completed_at: datetime | None
    completed_by: str | None
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Incident:
    incident_key: int
    process_instance_key: int
    element_id: str
    job_key: int | None
    error_type: str
    error_message: str
    state: str
    created_at: datetime


@dataclass(frozen=True)
class Job:
    job_key: int
    process_instance_key: int
    element_id: str
    type: str
    retries: int
    state: str
    worker: str | None
    deadline: datetime | None
    retry_at: datetime | None
    error_message: str | None


@dataclass(frozen=True)
class HistoryEntry:
    element_id: str
    element_type: str
    event: str
    at: datetime


@dataclass(frozen=True)
class ProcessInstance:
    process_instance_key: int
    bpmn_process_id: str
    version: int
    process_definition_key: int
    state: str
    active_elements: list[str]
    started_at: datetime
    ended_at: datetime | None
    variables: dict[str, Any] = field(default_factory=dict)
    incidents: list[Incident] = field(default_factory=list)


@dataclass(frozen=True)
class PublishedMessage:
    message_key: int
    # instances the message was correlated to (started or caught)
    correlated_instances: list[int]
    started_instances: list[int]
    buffered: bool


@dataclass(frozen=True)
class ActivatedJob:
    """One activation of a job, with the variables the handler sees."""

    key: int
    type: str
    process_instance_key: int
    bpmn_process_id: str
    process_definition_version: int
    process_definition_key: int
    element_id: str
    element_instance_key: int
    custom_headers: dict[str, str]
    worker: str
    retries: int
    deadline: datetime
    variables: dict[str, Any]
    activation: int
