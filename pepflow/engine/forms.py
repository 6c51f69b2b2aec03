"""Camunda Forms (form-js schema) as the engine needs them: id and the rules of each
field (:mod:`pepflow.engine.form_validation`).

Tasklist checks a form in the browser; the embedded engine checks every completion
again on the server against the same form, so no client can skip a rule or add a
variable the form does not have.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .errors import DeploymentError
from .form_validation import FieldRule, FormRules, OptionSource, compile_rules, validate_submission


@dataclass(frozen=True)
class FormSchema:
    form_id: str
    rules: FormRules
    schema: dict[str, Any]

    @property
    def fields(self) -> tuple[FieldRule, ...]:
        return self.rules.fields

    def validate(
        self, submitted: Mapping[str, Any], context: Mapping[str, Any], *, now: datetime,
        options: OptionSource | None = None, process_variables: frozenset[str] = frozenset(),
        partial: bool = False,
    ) -> dict[str, Any]:
        """The checked values of a submission (see :func:`validate_submission`)."""
        return validate_submission(self.rules, submitted, context, now=now, options=options,
                                   process_variables=process_variables, partial=partial)


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
    return FormSchema(form_id=form_id, rules=compile_rules(schema, resource_name), schema=schema)
