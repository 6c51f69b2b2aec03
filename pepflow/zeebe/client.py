"""``pep`` in Camunda 8 mode: deploy, start and publish on Zeebe with pyzeebe's ZeebeClient.

:class:`ZeebeEngine` offers the part of :class:`pepflow.engine.interface.WorkflowEngine`
that belongs to the gateway (``deploy``, ``create_instance``, ``publish_message``,
``cancel_instance``) with the same names, arguments and return types as the embedded
engine, and the same errors (:mod:`pepflow.engine.errors`), so a command prints and
fails the same way in both modes. User tasks, instances, history and incidents are
Tasklist's and Operate's business in Camunda 8; those methods say so.

Its methods are synchronous, like the embedded engine's: the gRPC channel lives on a
private event loop in a background thread, so they work from plain code and from code
already running inside ``asyncio.run`` (the ``pep event`` commands).

:func:`open_zeebe_app` is the Camunda 8 twin of :func:`pepflow.app.open_app` for the
``pep event`` commands: the same records store, with ``engine`` publishing to Zeebe.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import tempfile
import threading
from collections.abc import AsyncIterator, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import grpc
from pyzeebe import ZeebeClient
from pyzeebe import errors as zerrors
from pyzeebe.grpc_internals.types import DeployResourceResponse

from pepflow.casework import Casework, casework_config
from pepflow.clock import Clock, SystemClock
from pepflow.config import AppSettings
from pepflow.engine.errors import DeploymentError, EngineError, InvalidState, InvalidVariables, NotFound
from pepflow.engine.views import DeployedForm, DeployedProcess, Deployment, PublishedMessage
from pepflow.store import RecordsStore

from .channel import create_channel, describe
from .diagnosis import diagnose
from .settings import ZeebeSettings

log = logging.getLogger(__name__)

T = TypeVar("T")
DEFAULT_MESSAGE_TTL = timedelta(hours=1)  # the embedded engine's default
CALL_TIMEOUT = 60.0


class ZeebeUnavailable(EngineError):
    """The gateway did not answer (not running, wrong address, TLS or credentials)."""


def _details(exc: BaseException) -> str:
    cause = exc.__cause__ or getattr(exc, "grpc_error", None)
    if isinstance(cause, grpc.aio.AioRpcError):
        return cause.details() or str(cause.code())
    return str(exc) or type(exc).__name__


def model_files(paths: Iterable[Path]) -> list[Path]:
    """``.bpmn`` and ``.form`` files of the given files and folders, in a stable order."""
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in {".bpmn", ".form"}))
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"{path} does not exist")
    if not files:
        raise DeploymentError("nothing to deploy")
    return files


class ZeebeEngine:
    """Deploy, start, publish and cancel on a Zeebe gateway (synchronous)."""

    def __init__(self, settings: ZeebeSettings | None = None) -> None:
        self.settings = settings or ZeebeSettings()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="zeebe-client", daemon=True)
        self._thread.start()
        self._client: ZeebeClient | None = None
        self._channel: grpc.aio.Channel | None = None
        self._run(self._open())

    async def _open(self) -> None:
        self._channel = create_channel(self.settings)
        self._client = ZeebeClient(self._channel, max_connection_retries=1)

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float = CALL_TIMEOUT) -> T:
        if self._loop.is_closed():
            raise EngineError("the Zeebe client is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a client call; pyzeebe's errors become the engine's."""
        try:
            return self._run(coro)
        except (zerrors.ZeebeGatewayUnavailableError, zerrors.ZeebeDeadlineExceeded, zerrors.ZeebeInternalError) as exc:
            found = diagnose(self.settings)  # the TLS or token error gRPC reports as "unavailable"
            if found is not None:
                raise ZeebeUnavailable(found.message) from exc
            raise ZeebeUnavailable(f"Zeebe gateway at {describe(self.settings)}: {_details(exc)}") from exc
        except zerrors.UnknownGrpcStatusCodeError as exc:
            raise EngineError(f"Zeebe gateway: {_details(exc)}") from exc
        except zerrors.ZeebeBackPressureError as exc:
            raise ZeebeUnavailable(f"Zeebe is under back pressure, try again: {_details(exc)}") from exc
        except zerrors.InvalidOAuthCredentialsError as exc:
            raise ZeebeUnavailable(f"OAuth client credentials refused: {exc}") from exc
        except concurrent.futures.TimeoutError as exc:
            raise ZeebeUnavailable(f"Zeebe gateway at {describe(self.settings)} did not answer in {CALL_TIMEOUT:.0f} s") from exc

    # ---------------------------------------------------------------- gateway
    def topology(self):
        return self._call(self._client.topology())

    def deploy(self, resources: Iterable[Path | tuple[str, bytes]]) -> Deployment:
        """Deploy diagrams and forms in one deployment (all or nothing, as in Zeebe);
        a user task's form is linked by its ``formId``."""
        resources = list(resources)
        if not resources:
            raise DeploymentError("nothing to deploy")
        with tempfile.TemporaryDirectory(prefix="pep-deploy-") as tmp:
            paths: list[Path] = []
            for resource in resources:
                if isinstance(resource, tuple):  # named bytes: the gateway sees that name
                    name, content = resource
                    path = Path(tmp) / Path(name).name
                    path.write_bytes(content)
                    paths.append(path)
                else:
                    paths.append(Path(resource))
            try:
                response: DeployResourceResponse = self._call(
                    self._client.deploy_resource(*paths, tenant_id=self.settings.tenant_id)
                )
            except zerrors.ProcessInvalidError as exc:
                raise DeploymentError(f"Zeebe refused the deployment: {_details(exc)}") from exc
        processes: list[DeployedProcess] = []
        forms: list[DeployedForm] = []
        for item in response.deployments:
            if isinstance(item, DeployResourceResponse.ProcessMetadata):
                processes.append(DeployedProcess(item.bpmn_process_id, item.version, item.process_definition_key, item.resource_name))
            elif isinstance(item, DeployResourceResponse.FormMetadata):
                forms.append(DeployedForm(item.form_id, item.version, item.form_key, item.resource_name))
        return Deployment(response.key, processes, forms)

    def create_instance(
        self, bpmn_process_id: str, variables: Mapping[str, Any] | None = None, *, version: int | None = None
    ) -> int:
        try:
            response = self._call(
                self._client.run_process(
                    bpmn_process_id, dict(variables or {}), version=-1 if version is None else version,
                    tenant_id=self.settings.tenant_id,
                )
            )
        except zerrors.ProcessDefinitionNotFoundError as exc:
            raise NotFound(f"no process '{bpmn_process_id}' is deployed on Zeebe") from exc
        except zerrors.ProcessDefinitionHasNoStartEventError as exc:
            raise InvalidState(
                f"process '{bpmn_process_id}' has no none start event; start it by publishing a message"
            ) from exc
        except zerrors.InvalidJSONError as exc:
            raise InvalidVariables(f"variables refused: {_details(exc)}") from exc
        return response.process_instance_key

    def publish_message(
        self,
        name: str,
        correlation_key: str = "",
        variables: Mapping[str, Any] | None = None,
        *,
        time_to_live: timedelta = DEFAULT_MESSAGE_TTL,
        message_id: str | None = None,
    ) -> PublishedMessage:
        """Publish a message. Zeebe answers with the message key only: which instances
        it started or reached is for Operate to show, so those lists are empty."""
        try:
            response = self._call(
                self._client.publish_message(
                    name, str(correlation_key), dict(variables or {}),
                    time_to_live_in_milliseconds=int(time_to_live.total_seconds() * 1000), message_id=message_id,
                    tenant_id=self.settings.tenant_id,
                )
            )
        except zerrors.MessageAlreadyExistsError as exc:
            raise InvalidState(f"message '{name}' with id '{message_id}' was already published") from exc
        return PublishedMessage(response.key, [], [], time_to_live > timedelta(0))

    def cancel_instance(self, process_instance_key: int) -> None:
        try:
            self._call(self._client.cancel_process_instance(process_instance_key))
        except zerrors.ProcessInstanceNotFoundError as exc:
            raise NotFound(f"no active process instance {process_instance_key} on Zeebe") from exc

    # ------------------------------------------------------ Operate / Tasklist
    def _elsewhere(self, what: str, where: str):
        raise EngineError(f"in Camunda 8 mode {what} are in {where}, not in the pep command")

    def user_tasks(self, **_filters: Any):
        self._elsewhere("user tasks", "Tasklist")

    def instances(self, **_filters: Any):
        self._elsewhere("process instances", "Operate")

    def incidents(self, **_filters: Any):
        self._elsewhere("incidents", "Operate")

    # --------------------------------------------------------------- lifecycle
    def close(self) -> None:
        if self._loop.is_closed():
            return
        if self._channel is not None:
            with contextlib.suppress(Exception):
                self._run(self._channel.close(), timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> ZeebeEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def deploy_models(paths: Iterable[Path], settings: ZeebeSettings | None = None) -> Deployment:
    """``pep deploy --zeebe bpmn forms``: one deployment of every diagram and form."""
    with ZeebeEngine(settings) as engine:
        return engine.deploy(model_files(paths))


class _NoMail:
    """The CLI never sends mail in Camunda 8 mode: the worker service does."""

    async def send(self, mail):  # pragma: no cover - a guard
        raise RuntimeError("in Camunda 8 mode mail is sent by the worker service, not by the pep command")


@dataclass
class ZeebeApp:
    """What the ``pep event`` commands use: the records store, and an engine that
    publishes to Zeebe. ``runtime.run_until_idle()`` does nothing: Zeebe and the
    worker service run the process."""

    settings: AppSettings
    clock: Clock
    store: RecordsStore
    engine: ZeebeEngine
    casework: Casework
    runtime: _Idle
    outbox: None = None


class _Idle:
    async def run_until_idle(self) -> None:
        return None


@contextlib.asynccontextmanager
async def open_zeebe_app(
    settings: AppSettings, clock: Clock | None = None, zeebe_settings: ZeebeSettings | None = None
) -> AsyncIterator[ZeebeApp]:
    from pepflow.app import open_records

    clock = clock or SystemClock()
    store = open_records(settings, clock)
    engine: ZeebeEngine | None = None
    try:
        engine = await asyncio.to_thread(ZeebeEngine, zeebe_settings)
        casework = Casework(
            store, _NoMail(), clock,
            casework_config(settings),
        )
        yield ZeebeApp(settings, clock, store, engine, casework, _Idle())
    finally:
        if engine is not None:
            await asyncio.to_thread(engine.close)
        store.close()
