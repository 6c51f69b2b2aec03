"""The Zeebe (Camunda 8) extension elements of one BPMN element, as the engine uses them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class VariableMapping:
    source: str
    target: str


@dataclass
class ElementConfig:
    """What ``zeebe:*`` extension elements say about one flow element."""

    element_id: str
    element_type: str
    name: str | None = None
    # service tasks (jobs)
    job_type: str | None = None
    job_retries: str = "3"
    headers: dict[str, str] = field(default_factory=dict)
    inputs: list[VariableMapping] = field(default_factory=list)
    outputs: list[VariableMapping] = field(default_factory=list)
    # user tasks
    is_user_task: bool = False
    form_id: str | None = None
    assignee: str | None = None
    candidate_groups: str | None = None
    candidate_users: str | None = None
    due_date: str | None = None
    follow_up_date: str | None = None
    # message events
    message_name: str | None = None
    correlation_key: str | None = None
    # parallel multi-instance
    input_collection: str | None = None
    input_element: str | None = None
    output_collection: str | None = None
    output_element: str | None = None
