"""``python -m pepflow.zeebe``: deploy and publish on Camunda 8 before ``pep`` has the
``--zeebe`` switch (and from the workers' image, which has no repository checkout).

    python -m pepflow.zeebe deploy bpmn forms
    python -m pepflow.zeebe publish child-looked-after C-0001 childId=C-0001 enteredCareOn=2026-09-14
    python -m pepflow.zeebe topology

Settings: ``PEP_ZEEBE_*`` (see ``docs/camunda8.md``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pepflow.engine.errors import EngineError

from .client import ZeebeEngine, deploy_models


def _value(raw: str):
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pepflow.zeebe", description="Deploy and publish on Zeebe.")
    sub = parser.add_subparsers(dest="command", required=True)
    deploy = sub.add_parser("deploy", help="deploy .bpmn and .form files or folders in one deployment")
    deploy.add_argument("paths", nargs="+", type=Path)
    publish = sub.add_parser("publish", help="publish a message")
    publish.add_argument("name")
    publish.add_argument("correlation_key", nargs="?", default="")
    publish.add_argument("vars", nargs="*", help="key=value (value read as JSON if it parses)")
    publish.add_argument("--message-id")
    sub.add_parser("topology", help="the gateway's view of the cluster")
    args = parser.parse_args(argv)
    try:
        if args.command == "deploy":
            deployment = deploy_models(args.paths)
            for process in deployment.processes:
                print(f"process {process.bpmn_process_id} version {process.version} ({process.resource_name})")
            for form in deployment.forms:
                print(f"form {form.form_id} version {form.version}")
        elif args.command == "publish":
            variables = {}
            for pair in args.vars:
                if "=" not in pair:
                    parser.error(f"'{pair}' is not key=value")
                key, raw = pair.split("=", 1)
                variables[key] = _value(raw)
            with ZeebeEngine() as engine:
                result = engine.publish_message(args.name, args.correlation_key, variables, message_id=args.message_id)
            print(f"message {result.message_key} published")
        else:
            with ZeebeEngine() as engine:
                topology = engine.topology()
            print(f"gateway {topology.gateway_version}: {topology.cluster_size} broker(s), {topology.partitions_count} partition(s)")
    except (EngineError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
