"""Errors the engine raises to its callers (CLI, web, gRPC facade)."""


class EngineError(Exception):
    """Base class of every error the engine reports to a caller."""


class DeploymentError(EngineError):
    """A resource cannot be deployed; nothing of the deployment was stored."""


class NotFound(EngineError):
    """No such process, instance, job, user task or incident."""


class InvalidState(EngineError):
    """The operation does not fit the current state (e.g. completing a completed task)."""


class InvalidVariables(EngineError):
    """Variables that a form or mapping requires are missing or malformed."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class ExpressionError(EngineError):
    """A FEEL expression failed; the message names the expression and the element."""
