"""Camunda Forms (form-js schema) as the engine needs them: id and required fields.

Tasklist checks a form's required fields in the browser; the embedded engine checks
them again when a user task is completed, so no client can skip them. A field hidden
by its ``conditional.hide`` expression is not required.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .errors import DeploymentError, InvalidVariables
from .feel import FeelError, compile_feel

# component types that hold no value
_DISPLAY_ONLY = {"text", "html", "image", "spacer", "separator", "button", "iframe", "documentPreview"}


@dataclass(frozen=True)
class FormField:
    key: str
    label: str
    required: bool
    hide_expression: str | None
    component_type: str


@dataclass(frozen=True)
class FormSchema:
    form_id: str
    fields: tuple[FormField, ...]
    schema: dict[str, Any]

    def check_required(self, variables: dict[str, Any]) -> None:
        missing: list[str] = []
        for field in self.fields:
            if not field.required:
                continue
            if field.hide_expression and _hidden(field.hide_expression, variables):
                continue
            value = _lookup(variables, field.key)
            if value is None or value == "" or value == [] or (field.component_type == "checkbox" and value is False):
                missing.append(field.label or field.key)
        if missing:
            raise InvalidVariables(
                f"form '{self.form_id}' needs: {', '.join(missing)}", problems=[f"{m} is required" for m in missing]
            )


def _lookup(variables: dict[str, Any], key: str) -> Any:
    value: Any = variables
    for part in key.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _hidden(expression: str, variables: dict[str, Any]) -> bool:
    text = expression.strip()
    if not text.startswith("="):
        return text == "true"
    return compile_feel(text[1:]).evaluate(variables) is True


def parse_form(content: bytes, resource_name: str) -> FormSchema:
    try:
        schema = json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DeploymentError(f"{resource_name}: not a JSON form: {exc}") from exc
    if not isinstance(schema, dict) or not isinstance(schema.get("components"), list):
        raise DeploymentError(f"{resource_name}: a Camunda form needs a list of components")
    form_id = schema.get("id")
    if not form_id:
        raise DeploymentError(f"{resource_name}: the form has no id (the formId user tasks link)")
    fields: list[FormField] = []
    _collect(schema["components"], fields, resource_name)
    return FormSchema(form_id=form_id, fields=tuple(fields), schema=schema)


def _collect(components: list, fields: list[FormField], resource_name: str) -> None:
    for component in components:
        if not isinstance(component, dict):
            raise DeploymentError(f"{resource_name}: a form component must be an object")
        children = component.get("components")
        if isinstance(children, list):
            _collect(children, fields, resource_name)
        kind = component.get("type", "")
        key = component.get("key")
        if kind in _DISPLAY_ONLY or not key:
            continue
        hide = (component.get("conditional") or {}).get("hide")
        if hide and str(hide).strip().startswith("="):
            try:
                compile_feel(str(hide).strip()[1:])
            except FeelError as exc:
                raise DeploymentError(f"{resource_name}: field '{key}' conditional: {exc}") from exc
        fields.append(
            FormField(
                key=key,
                label=component.get("label") or key,
                required=bool((component.get("validate") or {}).get("required")),
                hide_expression=hide,
                component_type=kind,
            )
        )
