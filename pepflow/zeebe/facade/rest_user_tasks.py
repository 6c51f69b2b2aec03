"""The REST API's user tasks (``/v2/user-tasks``): search, assignment, completion and
the task's variables."""

from __future__ import annotations

from starlette.requests import Request

from pepflow.engine.views import ProcessInstance, UserTask

from .common import DEFAULT_TENANT
from .rest_common import Problem, Resource, _iso, _key, _page, _plain, _variables_of, variable_items


class UserTaskRoutes(Resource):
    def routes(self, route) -> list:
        return [
            route("/v2/user-tasks/search", self.search_user_tasks, "POST"),
            route("/v2/user-tasks/{key}", self.get_user_task, "GET"),
            route("/v2/user-tasks/{key}/assignment", self.assign, "POST"),
            route("/v2/user-tasks/{key}/assignee", self.unassign, "DELETE"),
            route("/v2/user-tasks/{key}/completion", self.complete_user_task, "POST"),
            route("/v2/user-tasks/{key}/variables/search", self.user_task_variables, "POST"),
        ]

    # ----------------------------------------------------------------- user tasks
    async def _user_task_views(self, tasks: list[UserTask]) -> list[dict]:
        instances: dict[int, ProcessInstance] = {}
        views = []
        for task in tasks:
            if task.process_instance_key not in instances:
                instances[task.process_instance_key] = await self._call(self.engine.instance, task.process_instance_key)
            views.append(self._user_task_view(task, instances[task.process_instance_key]))
        return views

    def _user_task_view(self, task: UserTask, instance: ProcessInstance) -> dict:
        return {
            "name": task.name, "state": task.state, "assignee": task.assignee, "elementId": task.element_id,
            "candidateGroups": task.candidate_groups, "candidateUsers": task.candidate_users,
            "processDefinitionId": task.bpmn_process_id, "creationDate": _iso(task.created_at),
            "completionDate": _iso(task.completed_at), "followUpDate": _iso(task.follow_up_date),
            "dueDate": _iso(task.due_date), "tenantId": DEFAULT_TENANT, "externalFormReference": None,
            "processDefinitionVersion": instance.version, "customHeaders": {}, "priority": 50,
            "userTaskKey": str(task.user_task_key), "elementInstanceKey": str(task.user_task_key), "processName": None,
            "processDefinitionKey": str(instance.process_definition_key),
            "processInstanceKey": str(task.process_instance_key),
            "rootProcessInstanceKey": str(task.process_instance_key), "businessId": None,
            "formKey": None, "tags": [],
            # not in the API's schema: the form id, so that a client can render the linked form
            "formId": task.form_id,
        }

    async def search_user_tasks(self, request: Request) -> dict:
        body = await self._body(request)
        flt = body.get("filter") or {}
        state = _plain(flt.get("state", None))
        tasks = await self._call(
            self.engine.user_tasks, process_instance_key=(
                _key(_plain(flt["processInstanceKey"]), "process instance") if "processInstanceKey" in flt else None
            ), state=state, assignee=_plain(flt.get("assignee")), candidate_group=_plain(flt.get("candidateGroup")),
            candidate_user=_plain(flt.get("candidateUser")),
        )
        if "elementId" in flt:
            tasks = [t for t in tasks if t.element_id == _plain(flt["elementId"])]
        if "userTaskKey" in flt:
            tasks = [t for t in tasks if str(t.user_task_key) == str(_plain(flt["userTaskKey"]))]
        return _page(await self._user_task_views(tasks), body)

    async def get_user_task(self, request: Request) -> dict:
        task = await self._call(self.engine.user_task, _key(request.path_params["key"], "user task"))
        return (await self._user_task_views([task]))[0]

    async def assign(self, request: Request) -> None:
        body = await self._body(request)
        if not body.get("assignee"):
            raise Problem(400, "INVALID_ARGUMENT", "an assignee is required")
        await self._call(
            self.engine.claim, _key(request.path_params["key"], "user task"), body["assignee"],
            allow_override=body.get("allowOverride", True) is not False,
        )

    async def unassign(self, request: Request) -> None:
        await self._call(self.engine.unclaim, _key(request.path_params["key"], "user task"))

    async def complete_user_task(self, request: Request) -> None:
        body = await self._body(request)
        key = _key(request.path_params["key"], "user task")
        task = await self._call(self.engine.user_task, key)
        await self._call(self.engine.complete_user_task, key, _variables_of(body), actor=task.assignee)
        self.gateway._wake()

    async def user_task_variables(self, request: Request) -> dict:
        body = await self._body(request)
        key = _key(request.path_params["key"], "user task")
        task = await self._call(self.engine.user_task, key)
        name = _plain((body.get("filter") or {}).get("name"))
        return _page(variable_items(key, task.process_instance_key, task.variables, name), body)
