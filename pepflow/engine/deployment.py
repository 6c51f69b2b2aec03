"""Deployment: BPMN diagrams and Camunda forms deployed together (all or nothing),
versioned as Zeebe versions them, checked against the strict rules and the process
variable contracts; the deployed definitions as the rest of the engine reads them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from . import operations, store as t
from . import strict as strict_rules
from .errors import DeploymentError, NotFound
from .forms import FormSchema, parse_form
from .parser import ParsedProcess, parse_bpmn
from .shared import _check_key, _Definition
from .views import DeployedForm, DeployedProcess, Deployment

if TYPE_CHECKING:  # pragma: no cover
    from .core import EngineCore


class Deployments:
    def __init__(self, core: EngineCore) -> None:
        self.core = core

    def load_definitions(self) -> None:
        with self.core.store.transaction() as conn:
            self.core.deleted = operations.load_deleted(conn)
            rows = conn.execute(
                sa.select(t.process_definitions).order_by(t.process_definitions.c.key)
            ).all()
            for row in rows:
                parsed = {p.bpmn_process_id: p for p in parse_bpmn(row.xml.encode(), row.resource_name)}
                self.core.contracts.register(row.bpmn_process_id, row.xml)
                self.add_definition(row.key, row.bpmn_process_id, row.version, row.resource_name, parsed[row.bpmn_process_id])
            for row in conn.execute(sa.select(t.forms).order_by(t.forms.c.key)).all():
                if row.key in self.core.deleted:
                    continue
                self.core.forms[row.form_id] = parse_form(row.schema.encode(), row.resource_name)

    def add_definition(self, key, process_id, version, resource_name, parsed) -> None:
        self.core.definitions[key] = _Definition(key, process_id, version, resource_name, parsed)
        if key in self.core.deleted:
            return  # running instances still load it; nothing new starts on it
        current = self.core.latest.get(process_id)
        if current is None or self.core.definitions[current].version < version:
            self.core.latest[process_id] = key

    def deploy(self, resources: Iterable[Path | tuple[str, bytes]]) -> Deployment:
        """Deploy BPMN diagrams and Camunda forms together; all or nothing."""
        loaded: list[tuple[str, bytes]] = []
        for resource in resources:
            if isinstance(resource, Path):
                loaded.append((resource.name, resource.read_bytes()))
            else:
                loaded.append(resource)
        if not loaded:
            raise DeploymentError("nothing to deploy")
        processes: list[tuple[str, bytes, ParsedProcess]] = []
        new_forms: dict[str, tuple[str, bytes, FormSchema]] = {}
        for name, content in loaded:
            if name.endswith(".bpmn") or name.endswith(".bpmn20.xml"):
                for parsed in parse_bpmn(content, name):
                    if self.core.strict:
                        strict_rules.check_deployment(parsed.configs)
                    processes.append((name, content, parsed))
            elif name.endswith(".form"):
                schema = parse_form(content, name)
                new_forms[schema.form_id] = (name, content, schema)
            else:
                raise DeploymentError(f"{name}: only .bpmn and .form resources can be deployed")
        for name, _content, parsed in processes:
            for form_id in sorted(parsed.form_ids):
                if form_id not in new_forms and form_id not in self.core.forms:
                    raise DeploymentError(
                        f"{name}: a user task links form '{form_id}', which is neither in this deployment nor deployed"
                    )
            self.core.contracts.check_deploy(
                parsed.bpmn_process_id, _content, name,
                lambda fid: (new_forms[fid][2] if fid in new_forms else self.core.forms[fid]).rules.keys,
                parsed.form_ids,
            )
        with self.core.operation() as op:
            conn = op.conn
            deployment_key = self.core.key(op)
            conn.execute(t.deployments.insert().values(key=deployment_key, deployed_at=op.now))
            deployed_processes: list[DeployedProcess] = []
            added: list[tuple] = []
            for name, content, parsed in processes:
                checksum = hashlib.sha256(content).hexdigest()
                pd = t.process_definitions
                latest = operations.latest_deployed(conn, pd, pd.c.bpmn_process_id, parsed.bpmn_process_id, self.core.deleted)
                if latest is not None and not self.is_new_version(latest, checksum, name):
                    deployed_processes.append(DeployedProcess(parsed.bpmn_process_id, latest.version, latest.key, name))
                    continue
                version = operations.highest_version(conn, pd, pd.c.bpmn_process_id, parsed.bpmn_process_id) + 1
                key = self.core.key(op)
                conn.execute(
                    t.process_definitions.insert().values(
                        key=key, deployment_key=deployment_key, bpmn_process_id=parsed.bpmn_process_id,
                        version=version, resource_name=name, checksum=checksum, xml=content.decode("utf-8"),
                    )
                )
                added.append((key, parsed.bpmn_process_id, version, name, parsed))
                deployed_processes.append(DeployedProcess(parsed.bpmn_process_id, version, key, name))
            deployed_forms: list[DeployedForm] = []
            forms_added: dict[str, FormSchema] = {}
            for form_id, (name, content, schema) in new_forms.items():
                checksum = hashlib.sha256(content).hexdigest()
                latest = operations.latest_deployed(conn, t.forms, t.forms.c.form_id, form_id, self.core.deleted)
                if latest is not None and not self.is_new_version(latest, checksum, name):
                    deployed_forms.append(DeployedForm(form_id, latest.version, latest.key, name))
                    continue
                version = operations.highest_version(conn, t.forms, t.forms.c.form_id, form_id) + 1
                key = self.core.key(op)
                conn.execute(
                    t.forms.insert().values(
                        key=key, deployment_key=deployment_key, form_id=form_id, version=version,
                        resource_name=name, checksum=checksum, schema=content.decode("utf-8"),
                    )
                )
                forms_added[form_id] = schema
                deployed_forms.append(DeployedForm(form_id, version, key, name))
        # only after the commit: nothing is half-deployed in memory either
        for key, process_id, version, name, parsed in added:
            self.add_definition(key, process_id, version, name, parsed)
            self.core.contracts.register(process_id, next(c for n, c, p in processes if p is parsed))
        self.core.forms.update(forms_added)
        return Deployment(deployment_key, deployed_processes, deployed_forms)

    def is_new_version(self, latest, checksum: str, resource_name: str) -> bool:
        if self.core.strict:  # Zeebe: same content under another resource name is a new version
            return strict_rules.is_new_version(latest.checksum, latest.resource_name, checksum, resource_name)
        return latest.checksum != checksum

    def definition_xml(self, process_definition_key: int) -> str:
        _check_key(process_definition_key, "process definition")
        with self.core.store.read() as conn:
            xml = conn.execute(
                sa.select(t.process_definitions.c.xml).where(t.process_definitions.c.key == process_definition_key)
            ).scalar()
        if xml is None:
            raise NotFound(f"no process definition {process_definition_key}")
        return xml

    def latest_definition(self, bpmn_process_id: str) -> DeployedProcess:
        key = self.core.latest.get(bpmn_process_id)
        if key is None:
            raise NotFound(f"no process '{bpmn_process_id}' is deployed")
        d = self.core.definitions[key]
        return DeployedProcess(d.bpmn_process_id, d.version, d.key, d.resource_name)

    def delete_resource(self, key: int) -> str:
        """Delete a deployed process definition or form (:mod:`.operations`)."""
        return operations.delete_resource(self.core, key)

    def definition(self, process_definition_key: int) -> DeployedProcess:
        """A deployed (not deleted) process definition by key."""
        d = self.core.definitions.get(process_definition_key)
        if d is None or d.key in self.core.deleted:
            raise NotFound(f"no process definition with key {process_definition_key}")
        return DeployedProcess(d.bpmn_process_id, d.version, d.key, d.resource_name)
