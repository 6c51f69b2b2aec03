"""Contract between the diagram, its forms and docs/process-contract.md.

`test_models_lint` runs the same offline lint as CI (`scripts/lint-models`: bpmnlint with
Camunda's 8.10 rules, and the forms imported with the form-js viewer). The other tests are
pure Python and need no Node.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

ROOT = Path(__file__).resolve().parents[2]
DIAGRAM = ROOT / "bpmn" / "pep.bpmn"
#: every diagram of the product (the PEP process and the Virtual School's quality review)
DIAGRAMS = sorted((ROOT / "bpmn").glob("*.bpmn"))
FORMS = ROOT / "forms"
CONTRACT = ROOT / "docs" / "process-contract.md"

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
NS = {"bpmn": BPMN_NS, "zeebe": ZEEBE_NS}

# Ids Camunda Modeler generates when nobody names an element.
GENERATED_ID = re.compile(r"(Activity|Gateway|Event|Flow|StartEvent|EndEvent)_[0-9a-z]{5,}")
# What the contract's tables name as element ids.
CONTRACT_ELEMENT_ID = re.compile(r"[A-Z][A-Za-z0-9]*(Task|Event|Gateway|SubProcess)")


def _diagram(path: Path = DIAGRAM) -> etree._ElementTree:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.parse(str(path), parser)


def _semantic_ids() -> set[str]:
    """Ids of the BPMN model elements (not the DI shapes and edges)."""
    return {
        element.get("id")
        for element in _diagram().iter(f"{{{BPMN_NS}}}*")
        if element.get("id") is not None
    }


def _contract_element_ids() -> set[str]:
    ids: set[str] = set()
    for line in CONTRACT.read_text(encoding="utf-8").splitlines():
        if not line.lstrip().startswith("|"):
            continue
        for token in re.findall(r"`([^`]+)`", line):
            if CONTRACT_ELEMENT_ID.fullmatch(token):
                ids.add(token)
    return ids


def _components(components: list[dict]) -> Iterator[dict]:
    for component in components:
        yield component
        yield from _components(component.get("components", []))


def test_models_lint() -> None:
    if not (ROOT / "node_modules").is_dir():
        pytest.skip("node_modules is absent: run `npm ci` to lint the diagram and forms")
    result = subprocess.run(
        [str(ROOT / "scripts" / "lint-models")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"lint-models failed:\n{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.name)
def test_every_form_id_has_a_form_file_with_that_id(path: Path) -> None:
    form_ids = {
        definition.get("formId")
        for definition in _diagram(path).iterfind(".//zeebe:formDefinition", NS)
    }
    assert form_ids, "the diagram links no forms"
    for form_id in sorted(form_ids):
        path = FORMS / f"{form_id}.form"
        assert path.is_file(), f"formId {form_id!r} has no {path.relative_to(ROOT)}"
        schema = json.loads(path.read_text(encoding="utf-8"))
        assert schema.get("id") == form_id, f"{path.name}: id {schema.get('id')!r} != {form_id!r}"


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.name)
def test_every_user_task_links_a_form(path: Path) -> None:
    for task in _diagram(path).iterfind(".//bpmn:userTask", NS):
        assert task.find(".//zeebe:userTask", NS) is not None, f"{task.get('id')}: not a Camunda user task"
        assert task.find(".//zeebe:formDefinition", NS) is not None, f"{task.get('id')}: no form"


DISPLAY_ONLY = {"text", "html", "image", "spacer", "separator", "button", "iframe", "documentPreview"}


def test_every_form_component_has_an_explicit_id_and_key() -> None:
    paths = sorted(FORMS.glob("*.form"))
    assert paths, "no forms"
    for path in paths:
        schema = json.loads(path.read_text(encoding="utf-8"))
        assert schema.get("id") == path.stem, f"{path.name}: id {schema.get('id')!r}"
        for component in _components(schema.get("components", [])):
            what = f"{path.name}: {component.get('type')} component {component.get('label', '')!r}"
            assert component.get("id"), f"{what} has no explicit id"
            if component.get("type") not in DISPLAY_ONLY:  # a text shown to the person holds no value
                assert component.get("key"), f"{what} has no key"


def test_contract_element_ids_exist_in_the_diagram() -> None:
    expected = _contract_element_ids()
    assert len(expected) > 30, f"found too few element ids in the contract: {sorted(expected)}"
    missing = expected - _semantic_ids()
    assert not missing, f"contract element ids missing from the diagram: {sorted(missing)}"


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.name)
def test_no_generated_or_reserved_element_ids(path: Path) -> None:
    ids = {
        element.get("id")
        for element in _diagram(path).iter()
        if isinstance(element.tag, str) and element.get("id") is not None
    }
    bad = sorted(
        i for i in ids if GENERATED_ID.fullmatch(i.removesuffix("_di")) or i == "Start"
    )
    assert not bad, f"generated or reserved ids: {bad}"


def test_process_is_the_executable_pep_process() -> None:
    processes = _diagram().findall("bpmn:process", NS)
    assert [(p.get("id"), p.get("isExecutable")) for p in processes] == [("pep", "true")]


def test_the_quality_review_is_its_own_executable_process_started_by_a_message() -> None:
    tree = _diagram(ROOT / "bpmn" / "pep-quality.bpmn")
    processes = tree.findall("bpmn:process", NS)
    assert [(p.get("id"), p.get("isExecutable")) for p in processes] == [("pep-quality", "true")]
    starts = processes[0].findall("bpmn:startEvent", NS)
    assert len(starts) == 1 and starts[0].find("bpmn:messageEventDefinition", NS) is not None
    names = {m.get("name") for m in tree.findall("bpmn:message", NS)}
    assert names == {"pep-quality-review"}
    ids = {e.get("id") for e in tree.iter() if isinstance(e.tag, str) and e.get("id")}
    assert not ids & _semantic_ids(), "the two diagrams share element ids"
