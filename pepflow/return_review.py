"""Business support's decision on a returned form, from the web or the CLI (issue 12).

The decision is recorded in the records store with who made it (and the edits, checked
against the school part of the form, or the query in words), then the process is told
by completing its ``ReviewReturnedFormTask`` (the variables checked against the task's
form like any submission). When no review task waits for the return - the form came
back before it was asked for, or the meeting started while it waited - the decision
takes effect here: an accepted form is taken in, a query mailed to the school.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .domain.enums import PepStatus
from .engine.errors import EngineError

REVIEW_TASK = "ReviewReturnedFormTask"


def review_task(engine, return_id: int):
    """The open review task of a returned form, or ``None``."""
    try:
        tasks = engine.user_tasks(element_id=REVIEW_TASK)
    except (NotImplementedError, EngineError):  # Camunda 8: the task is in Tasklist, where
        return None  # completing it finds the decision recorded here (decide-school-return)
    return next((t for t in tasks if t.variables.get("schoolReturnId") == return_id), None)


async def decide(product, return_id: int, decision: str, *, actor: str, edits: dict[str, Any] | None = None,
                 query: str | None = None):
    """Accept (with ``edits``) or ask the school again (``query`` in words)."""
    casework = product.casework
    returns = casework.returns
    if decision == "accept":
        report = await asyncio.to_thread(returns.accept, return_id, actor=actor, edits=edits)
        variables = {"reviewDecision": "accept"}
    elif decision == "ask-again":
        report = await asyncio.to_thread(returns.ask_again, return_id, actor=actor, query=query)
        variables = {"reviewDecision": "ask-again", "queryReasonCode": "other"}
    else:
        raise ValueError(f"a review is accepted or asked again, not {decision!r}")
    task = await asyncio.to_thread(review_task, product.engine, return_id)
    if task is not None:
        await asyncio.to_thread(product.engine.complete_user_task, task.user_task_key, variables, actor=actor)
    elif decision == "accept":
        if casework.store.pep(report.pep_id).status == PepStatus.FORM_SENT:
            await asyncio.to_thread(casework.context.mark_form_returned, report.pep_id)
    else:
        await returns.send_query(return_id)
    return returns.report(return_id)
