"""The process-variable contract, enforced by the embedded engine.

A process with a contract (:mod:`pepflow.domain.variables`) may hold only the
variables the contract names, each of its kind. The engine checks

* at deploy: every variable the diagram's expressions read or its mappings write,
  and every field key of the forms its user tasks link, is in the contract;
* at run time: every value that enters an instance - start variables, message
  payloads, job results (complete, fail, throw error), user task completions and
  set-variables calls - fits the contract, else the call is refused with
  :class:`InvalidVariables` (nothing changes; the problems name variables, never
  values).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from lxml import etree

from pepflow.domain.variables import Kind, check_variables, contract_for

from .errors import DeploymentError, InvalidVariables
from .feel import FeelError, compile_feel

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
ZEEBE = "http://camunda.org/schema/zeebe/1.0"
# attributes that name a variable rather than hold an expression
_NAME_ATTRIBUTES = {"target", "inputElement", "outputElement", "outputCollection", "resultVariable"}
_FEEL_BUILTINS = {"item", "now", "today"}


class ContractGuard:
    def __init__(self) -> None:
        # process id -> message names its diagram declares
        self._messages: dict[str, set[str]] = {}

    def register(self, bpmn_process_id: str, xml: bytes | str) -> None:
        if contract_for(bpmn_process_id) is None:
            return
        root = _parse(xml)
        self._messages[bpmn_process_id] = {m.get("name") for m in root.iter(f"{{{BPMN}}}message") if m.get("name")}

    # ------------------------------------------------------------------ deploy
    def check_deploy(self, bpmn_process_id: str, xml: bytes, resource_name: str,
                     form_keys: Callable[[str], Iterable[str]], form_ids: Iterable[str]) -> None:
        contract = contract_for(bpmn_process_id)
        if contract is None:
            return
        used = diagram_variables(xml)
        for form_id in form_ids:
            used |= {(key, f"form '{form_id}'") for key in form_keys(form_id)}
        unknown = sorted({f"'{name}' ({where})" for name, where in used if name not in contract})
        if unknown:
            raise DeploymentError(
                f"{resource_name}: process '{bpmn_process_id}' uses variables its contract does not allow "
                f"(pepflow/domain/variables.py: identifiers, dates and codes only): {', '.join(unknown)}"
            )

    # ------------------------------------------------------------------ run time
    def check(self, bpmn_process_id: str, variables: Mapping[str, Any], where: str) -> None:
        contract = contract_for(bpmn_process_id)
        if contract is None or not variables:
            return
        problems = check_variables(contract, variables)
        if problems:
            raise InvalidVariables(f"{where}: {'; '.join(problems)}", problems=problems)

    def check_message(self, name: str, payload: Mapping[str, Any]) -> None:
        for process_id, names in self._messages.items():
            if name in names:
                self.check(process_id, payload, f"message '{name}'")

    @staticmethod
    def process_variables(bpmn_process_id: str) -> frozenset[str]:
        contract = contract_for(bpmn_process_id)
        return frozenset(contract or ())

    @staticmethod
    def has_contract(bpmn_process_id: str) -> bool:
        return contract_for(bpmn_process_id) is not None

    @staticmethod
    def kind(bpmn_process_id: str, name: str) -> Kind | None:
        contract = contract_for(bpmn_process_id)
        return contract.get(name) if contract else None


def _parse(xml: bytes | str):
    data = xml.encode() if isinstance(xml, str) else xml
    return etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True))


def diagram_variables(xml: bytes | str) -> set[tuple[str, str]]:
    """(variable, element id) for every variable a diagram's FEEL expressions read and
    its mappings and loops write."""
    root = _parse(xml)
    found: set[tuple[str, str]] = set()
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        owner = _owner_id(element)
        for attribute, value in element.attrib.items():
            local = attribute.rsplit("}", 1)[-1]
            if local in _NAME_ATTRIBUTES and element.tag.startswith(f"{{{ZEEBE}}}"):
                if value and re.fullmatch(r"[A-Za-z_]\w*", value):
                    found.add((value, owner))
                elif value:
                    found.add((value.split(".")[0], owner))
            elif isinstance(value, str) and value.strip().startswith("="):
                found |= {(n, owner) for n in _names(value)}
        text = (element.text or "").strip()
        if text.startswith("=") and element.tag.startswith(f"{{{BPMN}}}"):
            found |= {(n, owner) for n in _names(text)}
    return found


def _names(expression: str) -> set[str]:
    try:
        return set(compile_feel(expression.strip()[1:]).names) - _FEEL_BUILTINS
    except FeelError:
        return set()  # the parser refuses it with the real error


def _owner_id(element) -> str:
    while element is not None:
        if element.get("id"):
            return element.get("id")
        element = element.getparent()
    return "?"
