"""The text of every message the PEP process sends.

Each kind has three Jinja2 templates in ``templates/``: ``<kind>.subject.j2``,
``<kind>.txt.j2`` and ``<kind>.html.j2`` (autoescaped). Messages name the plan by its
reference (``PEP-C-0001-2026-AUT``), never the child: subjects are read by anyone who
sees an inbox, and mail gateways log them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import jinja2
from jinja2 import meta

from .wording import wording

__all__ = [
    "KINDS",
    "RenderedMail",
    "TemplateContextError",
    "UnknownMailKindError",
    "render",
    "template_variables",
]

TEMPLATE_DIR = Path(__file__).parent / "templates"

KINDS: tuple[str, ...] = (
    "initial-pep",
    "virtual-school-notice",
    "initial-meeting-arranged",
    "initial-meeting-reminder",
    "initial-meeting-overdue",
    "pep-form",
    "pep-form-health-visitor",
    "pep-form-reminder",
    "pep-form-query",
    "final-pep",
    "form-password",
    "pep-escalation",
    "final-pep-corrected",
    "pep-quality-returned",  # the Virtual School rated a final PEP red (pepflow/quality.py)
)

PEP_REFERENCE = re.compile(r"^PEP-[A-Z0-9]+(-[A-Z0-9]+)*$")


class UnknownMailKindError(LookupError):
    pass


class TemplateContextError(ValueError):
    """The context does not fit the template: a variable is missing or malformed."""


class RenderedMail(NamedTuple):
    subject: str
    text: str
    html: str


def _long_date(value: date | datetime | str) -> str:
    """``2026-10-05`` -> ``Monday 5 October 2026`` (the GOV.UK style)."""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return f"{value:%A} {value.day} {value:%B %Y}"


def _short_time(value: time | datetime | str) -> str:
    """``time(14, 5)`` -> ``14:05``."""
    if isinstance(value, str):
        value = time.fromisoformat(value)
    return f"{value:%H:%M}"


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html.j2",), disabled_extensions=(), default=False
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["long_date"] = _long_date
    env.filters["short_time"] = _short_time
    return env


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise UnknownMailKindError(
            f"unknown mail kind {kind!r}; known kinds: {', '.join(KINDS)}"
        )


def _variables_of(env: jinja2.Environment, name: str, seen: set[str]) -> set[str]:
    if name in seen:
        return set()
    seen.add(name)
    source = env.loader.get_source(env, name)[0]  # type: ignore[union-attr]
    ast = env.parse(source)
    found = set(meta.find_undeclared_variables(ast))
    for child in meta.find_referenced_templates(ast):
        if child is not None:
            found |= _variables_of(env, child, seen)
    return found


@cache
def template_variables(kind: str) -> frozenset[str]:
    """Every context variable the templates of ``kind`` use (all of them are required)."""
    _check_kind(kind)
    env = _environment()
    names: set[str] = set()
    for suffix in ("subject.j2", "txt.j2", "html.j2"):
        names |= _variables_of(env, f"{kind}.{suffix}", set())
    if names & _READER_WORDS:  # the greeting and the reader's words come from their role
        names = (names - _READER_WORDS) | {"recipient_role"}
    return frozenset(names)


_READER_WORDS = frozenset({"greeting", "audience", "setting_word"})


def render(kind: str, context: Mapping[str, Any]) -> RenderedMail:
    """Render ``(subject, text, html)`` for one kind of message.

    ``recipient_role`` in the context (see :mod:`pepflow.mail.wording`) supplies the
    greeting and the reader's words. Raises :class:`UnknownMailKindError` for a kind
    without templates and :class:`TemplateContextError` when a variable is missing or
    ``pep_reference`` is not a PEP reference.
    """
    _check_kind(kind)
    missing = sorted(template_variables(kind) - context.keys())
    if missing:
        raise TemplateContextError(
            f"mail {kind!r} needs context variable(s) {', '.join(missing)}"
        )
    if "recipient_role" in context:
        try:
            context = {**context, **wording(context["recipient_role"])}
        except ValueError as exc:
            raise TemplateContextError(f"mail {kind!r}: {exc}") from None
    if missing:
        raise TemplateContextError(
            f"mail {kind!r} needs context variable(s) {', '.join(missing)}"
        )
    reference = context["pep_reference"]
    if not isinstance(reference, str) or not PEP_REFERENCE.match(reference):
        raise TemplateContextError(
            f"pep_reference must look like 'PEP-C-0001-2026-AUT', got {reference!r}"
        )
    env = _environment()
    try:
        subject = env.get_template(f"{kind}.subject.j2").render(context)
        text = env.get_template(f"{kind}.txt.j2").render(context)
        html = env.get_template(f"{kind}.html.j2").render(context)
    except jinja2.UndefinedError as exc:
        raise TemplateContextError(f"mail {kind!r}: {exc.message}") from exc
    except (ValueError, TypeError) as exc:
        raise TemplateContextError(f"mail {kind!r}: bad context value: {exc}") from exc
    return RenderedMail(subject=" ".join(subject.split()), text=text, html=html)
