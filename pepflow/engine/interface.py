"""The one engine interface that the web UI, the CLI and the Zeebe adapter share.

:class:`pepflow.engine.runtime.Engine` (embedded) implements it; a Camunda 8
adapter implements the same methods over gRPC/REST. Callers depend on this
protocol, never on a concrete engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .views import Deployment, HistoryEntry, Incident, ProcessInstance, PublishedMessage, UserTask


@runtime_checkable
class WorkflowEngine(Protocol):
    def deploy(self, resources: Iterable[Path | tuple[str, bytes]]) -> Deployment: ...

    def create_instance(self, bpmn_process_id: str, variables: Mapping[str, Any] | None = None) -> int: ...

    def publish_message(
        self,
        name: str,
        correlation_key: str = "",
        variables: Mapping[str, Any] | None = None,
        *,
        time_to_live: timedelta = ...,
        message_id: str | None = None,
    ) -> PublishedMessage: ...

    def user_tasks(self, **filters: Any) -> list[UserTask]: ...

    def user_task(self, user_task_key: int) -> UserTask: ...

    def claim(self, user_task_key: int, assignee: str) -> UserTask: ...

    def unclaim(self, user_task_key: int) -> UserTask: ...

    def complete_user_task(
        self, user_task_key: int, variables: Mapping[str, Any] | None = None, *, actor: str | None = None
    ) -> None: ...

    def instances(self, **filters: Any) -> list[ProcessInstance]: ...

    def instance(self, process_instance_key: int) -> ProcessInstance: ...

    def history(self, process_instance_key: int) -> list[HistoryEntry]: ...

    def incidents(self, **filters: Any) -> list[Incident]: ...

    def resolve_incident(self, incident_key: int, *, retries: int | None = None) -> None: ...

    def cancel_instance(self, process_instance_key: int) -> None: ...
