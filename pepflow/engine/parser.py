"""Reads Camunda 8 (Zeebe) diagrams, exactly as Camunda Modeler saves them.

SpiffWorkflow parses the BPMN structure; it ignores ``zeebe:*`` extension elements,
so this module reads those itself (one lxml pass), checks that every element and
attribute is one the engine supports, compiles every FEEL expression, and hangs the
result on each task spec as ``spec.zeebe`` (an :class:`ElementConfig`).

Anything the engine cannot run is refused at deployment, with the element named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.bpmn.parser.node_parser import DEFAULT_NSMAP
from SpiffWorkflow.bpmn.parser.task_parsers import SubWorkflowParser
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.data_spec import TaskDataReference
from SpiffWorkflow.bpmn.specs.defaults import (
    NoneTask,
    ParallelMultiInstanceTask,
    SequentialMultiInstanceTask,
    ServiceTask,
    SubWorkflowTask,
    UserTask,
)
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask

from .errors import DeploymentError
from .expressions import clock_scope
from .feel import FeelError, compile_feel
from .model import ElementConfig, VariableMapping

ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
BPMN_NS = DEFAULT_NSMAP["bpmn"]
NSMAP = {**DEFAULT_NSMAP, "zeebe": ZEEBE_NS}

# Flow elements the engine runs. Everything else in a process is refused by name.
SUPPORTED_FLOW_ELEMENTS = {
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent",
    "boundaryEvent", "serviceTask", "userTask", "task", "exclusiveGateway",
    "parallelGateway", "eventBasedGateway", "subProcess", "sequenceFlow",
}
# Children of flow elements and processes that carry no behaviour of their own, or
# whose behaviour is handled (event definitions are checked separately).
STRUCTURAL = {
    "laneSet", "lane", "flowNodeRef", "childLaneSet", "textAnnotation", "text",
    "association", "documentation", "extensionElements", "incoming", "outgoing",
    "conditionExpression", "timerEventDefinition", "timeDate", "timeDuration", "timeCycle",
    "messageEventDefinition", "errorEventDefinition", "terminateEventDefinition",
    "multiInstanceLoopCharacteristics", "group", "category", "categoryValue",
}
ZEEBE_SUPPORTED = {
    "taskDefinition", "taskHeaders", "header", "ioMapping", "input", "output", "userTask",
    "formDefinition", "assignmentDefinition", "taskSchedule", "subscription",
    "loopCharacteristics", "properties", "property",
}


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _ns(tag: Any) -> str:
    return etree.QName(tag).namespace if isinstance(tag, str) else ""


def _where(node: etree._Element) -> str:
    ident = node.get("id")
    owner = node
    while ident is None and owner.getparent() is not None:
        owner = owner.getparent()
        ident = owner.get("id")
    return f"{_local(node.tag)} '{ident}'" if ident else _local(node.tag)


class _MultiInstanceCollection(TaskDataReference):
    """``zeebe:loopCharacteristics inputCollection``: a FEEL expression, not a name."""

    def __init__(self, expression: str, element_id: str) -> None:
        super().__init__(f"inputCollection of {element_id}")
        self.expression = expression
        self.element_id = element_id

    def get(self, my_task):
        value = my_task.workflow.script_engine.evaluate_for(
            self.element_id, self.expression, my_task.data
        )
        return list(value) if value is not None else []

    def set(self, my_task, value):  # pragma: no cover - Zeebe never writes the input back
        raise DeploymentError(f"{self.element_id}: the input collection is read-only")

    def exists(self, my_task):
        return True


class _MultiInstanceOutputElement(TaskDataReference):
    """``outputElement``: a FEEL expression evaluated in each instance's scope."""

    def __init__(self, expression: str, element_id: str) -> None:
        super().__init__(f"outputElement of {element_id}")
        self.expression = expression
        self.element_id = element_id

    def get(self, my_task):
        return my_task.workflow.script_engine.evaluate_for(
            self.element_id, self.expression, my_task.data
        )

    def exists(self, my_task):
        # Spiff asks on the multi-instance task (must not exist there yet) and on
        # each instance (must exist there): the expression lives in the instances.
        return not isinstance(my_task.task_spec, MultiInstanceTask)


class _ZeebeMultiInstanceMixin:
    """Zeebe keeps ``inputElement`` local to each instance; Spiff would merge it into
    the parent and then refuse the next activation ("input item already exists")."""

    def merge_child(self, workflow, child):
        super().merge_child(workflow, child)
        if self.input_item is not None:
            child.parent.data.pop(self.input_item.bpmn_id, None)


class ZeebeParallelMultiInstanceTask(_ZeebeMultiInstanceMixin, ParallelMultiInstanceTask):
    pass


class ZeebeSequentialMultiInstanceTask(_ZeebeMultiInstanceMixin, SequentialMultiInstanceTask):
    pass


class _ZeebeLoopParserMixin:
    PARALLEL_MI_CLASS = ZeebeParallelMultiInstanceTask
    SEQUENTIAL_MI_CLASS = ZeebeSequentialMultiInstanceTask

    def _add_multiinstance_task(self, loop_characteristics):
        sequential = loop_characteristics.get("isSequential") == "true"
        zeebe = loop_characteristics.find(f"{{{BPMN_NS}}}extensionElements/{{{ZEEBE_NS}}}loopCharacteristics")
        if zeebe is None or not zeebe.get("inputCollection"):
            self.raise_validation_exception(
                "multi-instance needs zeebe:loopCharacteristics with an inputCollection"
            )
        element_id = self.bpmn_id
        input_item = zeebe.get("inputElement")
        output_collection = zeebe.get("outputCollection")
        output_element = zeebe.get("outputElement")
        original = self.spec.task_specs.pop(self.task.name)
        params = {
            "task_spec": "",
            "cardinality": None,
            "data_input": _MultiInstanceCollection(zeebe.get("inputCollection"), element_id),
            "data_output": TaskDataReference(output_collection) if output_collection else None,
            "input_item": TaskDataReference(input_item) if input_item else None,
            "output_item": _MultiInstanceOutputElement(output_element, element_id)
            if output_element
            else None,
            "condition": None,
        }
        cls = self.SEQUENTIAL_MI_CLASS if sequential else self.PARALLEL_MI_CLASS
        self.task = cls(self.spec, original.name, description="MultiInstance", **params)
        self._copy_task_attrs(original, loop_characteristics)


class ZeebeTaskParser(_ZeebeLoopParserMixin, TaskParser):
    pass


class ZeebeSubWorkflowParser(_ZeebeLoopParserMixin, SubWorkflowParser):
    pass


class ZeebeBpmnParser(BpmnParser):
    OVERRIDE_PARSER_CLASSES = {
        full_tag("serviceTask"): (ZeebeTaskParser, ServiceTask),
        full_tag("userTask"): (ZeebeTaskParser, UserTask),
        full_tag("subProcess"): (ZeebeSubWorkflowParser, SubWorkflowTask),
    }

    def __init__(self) -> None:
        super().__init__(namespaces=NSMAP)


@dataclass
class ParsedProcess:
    bpmn_process_id: str
    name: str | None
    spec: Any
    subprocess_specs: dict[str, Any]
    configs: dict[str, ElementConfig]
    # message name -> start event id (root-level message start events)
    message_starts: dict[str, str] = field(default_factory=dict)
    has_none_start: bool = False
    # (event subprocess id, start event id, message name, correlation key expression)
    event_subprocess_messages: list[tuple[str, str, str, str]] = field(default_factory=list)
    form_ids: set[str] = field(default_factory=set)


def _check_feel(expression: str | None, where: str, *, required: bool = False) -> None:
    if expression is None:
        return
    text = expression.strip()
    if text.startswith("="):
        try:
            compile_feel(text[1:])
        except FeelError as exc:
            raise DeploymentError(f"{where}: {exc}") from exc
    elif required:
        raise DeploymentError(
            f"{where}: expected a FEEL expression starting with '=', got {expression!r}"
        )


def _check_timer_literal(kind: str, text: str, where: str) -> None:
    try:
        with clock_scope(_SYNTAX_CHECK_NOW):  # only the syntax matters here
            _parse_timer_literal(kind, text)
    except Exception as exc:  # Spiff raises bare Exception / ValueError here
        raise DeploymentError(f"{where}: {kind} {text!r} is not a valid ISO 8601 value") from exc


def _SYNTAX_CHECK_NOW() -> datetime:
    return datetime(2000, 1, 1, tzinfo=timezone.utc)


def _parse_timer_literal(kind: str, text: str) -> None:
    if kind == "timeDuration":
        TimerEventDefinition.parse_iso_duration(text)
    elif kind == "timeDate":
        TimerEventDefinition.get_datetime(text)
    else:
        TimerEventDefinition.parse_iso_recurring_interval(text)


def _read_configs(root: etree._Element, messages: dict[str, str]) -> dict[str, ElementConfig]:
    """One pass over the document: check what is supported and collect zeebe config."""
    configs: dict[str, ElementConfig] = {}
    for node in root.iter(f"{{{ZEEBE_NS}}}*"):
        if _local(node.tag) not in ZEEBE_SUPPORTED:
            raise DeploymentError(
                f"{_where(node)}: zeebe:{_local(node.tag)} is not supported by the embedded engine"
            )
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        for node in process.iter():
            if not isinstance(node.tag, str) or node is process:
                continue
            ns, name = _ns(node.tag), _local(node.tag)
            if ns == ZEEBE_NS:
                if name not in ZEEBE_SUPPORTED:
                    raise DeploymentError(
                        f"{_where(node)}: zeebe:{name} is not supported by the embedded engine"
                    )
                continue
            if ns != BPMN_NS:
                continue  # other extensions (modeler:, bioc:, ...) carry no behaviour
            if name in STRUCTURAL:
                continue
            if name not in SUPPORTED_FLOW_ELEMENTS:
                raise DeploymentError(
                    f"{_where(node)}: the BPMN element {name} is not supported by the embedded engine"
                )
            element_id = node.get("id")
            if not element_id:
                raise DeploymentError(f"a {name} without an id cannot be deployed")
            if element_id in {"Start", "End", "Root"}:
                raise DeploymentError(
                    f"{name} '{element_id}': that id is reserved by the engine; give it a name that says what it is"
                )
            if name == "sequenceFlow":
                cond = node.find(f"{{{BPMN_NS}}}conditionExpression")
                if cond is not None:
                    _check_feel(cond.text, f"sequenceFlow '{element_id}' condition", required=True)
                continue
            configs[element_id] = _element_config(node, name, element_id, messages)
    return configs


def _element_config(node, name: str, element_id: str, messages: dict[str, str]) -> ElementConfig:
    where = f"{name} '{element_id}'"
    config = ElementConfig(element_id=element_id, element_type=name, name=node.get("name"))
    ext = node.find(f"{{{BPMN_NS}}}extensionElements")

    def zeebe(tag: str):
        return ext.find(f"{{{ZEEBE_NS}}}{tag}") if ext is not None else None

    task_def = zeebe("taskDefinition")
    if name == "serviceTask":
        if task_def is None or not task_def.get("type"):
            raise DeploymentError(f"{where}: a service task needs zeebe:taskDefinition with a type")
        config.job_type = task_def.get("type")
        _check_feel(config.job_type, where)
        config.job_retries = task_def.get("retries", "3")
        _check_feel(config.job_retries, where)
    elif task_def is not None:
        raise DeploymentError(f"{where}: zeebe:taskDefinition on a {name} is not supported")

    headers = zeebe("taskHeaders")
    if headers is not None:
        for header in headers.findall(f"{{{ZEEBE_NS}}}header"):
            config.headers[header.get("key")] = header.get("value", "")

    io = zeebe("ioMapping")
    if io is not None:
        for tag, target_list in (("input", config.inputs), ("output", config.outputs)):
            for mapping in io.findall(f"{{{ZEEBE_NS}}}{tag}"):
                source, target = mapping.get("source"), mapping.get("target")
                if not target:
                    raise DeploymentError(f"{where}: zeebe:{tag} without a target")
                _check_feel(source, f"{where} {tag} mapping to {target}")
                target_list.append(VariableMapping(source=source or "=null", target=target))

    if name == "userTask":
        config.is_user_task = True
        if zeebe("userTask") is None:
            # Job-based user tasks (the pre-8.5 kind) run the same way here.
            pass
        form = zeebe("formDefinition")
        if form is not None:
            if form.get("formKey"):
                raise DeploymentError(
                    f"{where}: embedded forms (formKey) are not supported; link a form file by formId"
                )
            if form.get("externalReference"):
                raise DeploymentError(f"{where}: external forms are not supported; link a form by formId")
            config.form_id = form.get("formId")
        assignment = zeebe("assignmentDefinition")
        if assignment is not None:
            config.assignee = assignment.get("assignee")
            config.candidate_groups = assignment.get("candidateGroups")
            config.candidate_users = assignment.get("candidateUsers")
            for label, value in (
                ("assignee", config.assignee),
                ("candidateGroups", config.candidate_groups),
                ("candidateUsers", config.candidate_users),
            ):
                _check_feel(value, f"{where} {label}")
        schedule = zeebe("taskSchedule")
        if schedule is not None:
            config.due_date = schedule.get("dueDate")
            config.follow_up_date = schedule.get("followUpDate")
            _check_feel(config.due_date, f"{where} dueDate")
            _check_feel(config.follow_up_date, f"{where} followUpDate")

    for definition in node:
        local = _local(definition.tag)
        if local == "timerEventDefinition":
            for kind in ("timeDate", "timeDuration", "timeCycle"):
                value = definition.find(f"{{{BPMN_NS}}}{kind}")
                if value is None:
                    continue
                text = (value.text or "").strip()
                if not text:
                    raise DeploymentError(f"{where}: empty {kind}")
                if text.startswith("="):
                    _check_feel(text, f"{where} {kind}")
                else:
                    _check_timer_literal(kind, text, where)
        elif local == "messageEventDefinition":
            ref = definition.get("messageRef")
            if not ref or ref not in messages:
                raise DeploymentError(f"{where}: refers to no bpmn:message")
            config.message_name = messages[ref]
        elif local == "errorEventDefinition" and name == "startEvent":
            raise DeploymentError(f"{where}: error start events are not supported by the embedded engine")

    mi = node.find(f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics")
    if mi is not None:
        loop = mi.find(f"{{{BPMN_NS}}}extensionElements/{{{ZEEBE_NS}}}loopCharacteristics")
        if loop is None or not loop.get("inputCollection"):
            raise DeploymentError(f"{where}: multi-instance needs zeebe:loopCharacteristics inputCollection")
        config.input_collection = loop.get("inputCollection")
        config.input_element = loop.get("inputElement")
        config.output_collection = loop.get("outputCollection")
        config.output_element = loop.get("outputElement")
        _check_feel(config.input_collection, f"{where} inputCollection", required=True)
        _check_feel(config.output_element, f"{where} outputElement")
        if mi.find(f"{{{BPMN_NS}}}completionCondition") is not None:
            raise DeploymentError(f"{where}: multi-instance completionCondition is not supported")
    return config


def parse_bpmn(xml: bytes, resource_name: str) -> list[ParsedProcess]:
    """Parse and check one BPMN resource; raise DeploymentError naming what is wrong."""
    try:
        parser_xml = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
        root = etree.fromstring(xml, parser_xml)
    except etree.XMLSyntaxError as exc:
        raise DeploymentError(f"{resource_name}: not well-formed XML: {exc}") from exc
    if _local(root.tag) != "definitions" or _ns(root.tag) != BPMN_NS:
        raise DeploymentError(f"{resource_name}: not a BPMN 2.0 definitions document")

    messages: dict[str, str] = {}
    for message in root.iter(f"{{{BPMN_NS}}}message"):
        if not message.get("name"):
            raise DeploymentError(f"{resource_name}: bpmn:message '{message.get('id')}' has no name")
        messages[message.get("id")] = message.get("name")
    for tag in ("signal", "escalation", "dataStore", "itemDefinition"):
        found = root.find(f"{{{BPMN_NS}}}{tag}")
        if found is not None and tag in ("signal", "escalation"):
            raise DeploymentError(f"{resource_name}: bpmn:{tag} is not supported by the embedded engine")

    configs = _read_configs(root, messages)
    _check_message_subscriptions(root, configs)

    parser = ZeebeBpmnParser()
    try:
        parser.add_bpmn_xml(root, filename=resource_name)
    except ValidationException as exc:
        raise DeploymentError(f"{resource_name}: {exc}") from exc

    result: list[ParsedProcess] = []
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        if process.get("isExecutable") != "true":
            continue
        pid = process.get("id")
        try:
            spec = parser.get_spec(pid)
            subprocess_specs = parser.get_subprocess_specs(pid)
        except ValidationException as exc:
            raise DeploymentError(f"{resource_name}: {exc}") from exc
        for owner, task_spec in _all_task_specs(spec, subprocess_specs):
            bpmn_id = getattr(task_spec, "bpmn_id", None)
            task_spec.zeebe = configs.get(bpmn_id) if bpmn_id else None
            if isinstance(task_spec, NoneTask):
                task_spec.manual = False  # Zeebe passes straight through an undefined task
            if isinstance(task_spec, MultiInstanceTask):
                # Spiff connects an instance's completion to the merge only when it
                # creates an instance; connect it up front so a restored instance merges too.
                body = owner.task_specs[task_spec.task_spec]
                if not body.completed_event.is_connected(task_spec.merge_child):
                    body.completed_event.connect(task_spec.merge_child)
        _prepare_event_subprocesses(spec)
        parsed = ParsedProcess(
            bpmn_process_id=pid,
            name=process.get("name"),
            spec=spec,
            subprocess_specs=subprocess_specs,
            configs=configs,
        )
        for start in process.findall(f"{{{BPMN_NS}}}startEvent"):
            config = configs[start.get("id")]
            if config.message_name:
                parsed.message_starts[config.message_name] = config.element_id
            elif start.find(f"{{{BPMN_NS}}}timerEventDefinition") is not None:
                raise DeploymentError(
                    f"startEvent '{config.element_id}': timer start events are not supported by the embedded engine"
                )
            else:
                parsed.has_none_start = True
        for sub in process.findall(f"{{{BPMN_NS}}}subProcess[@triggeredByEvent='true']"):
            for start in sub.findall(f"{{{BPMN_NS}}}startEvent"):
                config = configs[start.get("id")]
                if not config.message_name:
                    raise DeploymentError(
                        f"event subprocess '{sub.get('id')}': only message start events are supported"
                    )
                parsed.event_subprocess_messages.append(
                    (sub.get("id"), config.element_id, config.message_name, config.correlation_key)
                )
        for config in configs.values():
            if config.form_id:
                parsed.form_ids.add(config.form_id)
        result.append(parsed)
    if not result:
        raise DeploymentError(f"{resource_name}: no executable process (isExecutable=\"true\")")
    return result


def _check_message_subscriptions(root, configs: dict[str, ElementConfig]) -> None:
    """Catch events need a correlation key, except message start events of a process."""
    for node in root.iter(f"{{{BPMN_NS}}}messageEventDefinition"):
        event = node.getparent()
        element_id = event.get("id")
        config = configs.get(element_id)
        if config is None:
            continue
        kind = _local(event.tag)
        if kind in ("endEvent", "intermediateThrowEvent"):
            raise DeploymentError(
                f"{kind} '{element_id}': message throw events are not supported; use a service task"
            )
        ref = node.get("messageRef")
        message = root.find(f".//{{{BPMN_NS}}}message[@id='{ref}']")
        subscription = (
            message.find(f"{{{BPMN_NS}}}extensionElements/{{{ZEEBE_NS}}}subscription")
            if message is not None
            else None
        )
        key = subscription.get("correlationKey") if subscription is not None else None
        is_process_start = kind == "startEvent" and _local(event.getparent().tag) == "process"
        if not is_process_start:
            if not key:
                raise DeploymentError(
                    f"{kind} '{element_id}': message '{config.message_name}' needs a zeebe:subscription correlationKey"
                )
            _check_feel(key, f"{kind} '{element_id}' correlationKey")
        config.correlation_key = key


def _prepare_event_subprocesses(spec) -> None:
    """Spiff wires an event subprocess to the process the first time it triggers,
    changing the shared spec; a spec parsed again after a restart would lack that
    wiring. Wire it once here, without making it an output of the start (which would
    run it at once)."""
    for name in spec.start.trigger_specs:
        task_spec = spec.task_specs[name]
        if spec.start not in task_spec.inputs:
            task_spec._connect_notify(spec.start)
            task_spec.connect(spec.end)


def _all_task_specs(spec, subprocess_specs):
    for owner in (spec, *subprocess_specs.values()):
        for task_spec in owner.task_specs.values():
            yield owner, task_spec
