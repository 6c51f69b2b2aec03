"""``Casework``: the one object the workers, the CLI, the web and the demo hold.

It owns one :class:`~pepflow.casework.context.CaseContext` (the services, the clock,
the settings) and one object per stage of the flowchart over it; each step is
forwarded, by the table below, to the stage that does it. A forwarded step keeps the
stage method's name, signature and docstring (``functools.wraps``), and can still be
replaced on one instance (a test's ``casework.generate_pep_form = ...``)."""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

from ..clock import Clock
from ..documents.final_pdf import FinalPdf
from ..documents.spin_pool import DocumentPool
from ..mail.outbox import OutboxSender
from ..mail.transport import Mailer
from ..store import RecordsStore
from .base import CaseworkConfig
from .closing import ClosingStage
from .context import CaseContext
from .entry import EntryStage
from .final_pep import FinalPepStage
from .meeting import MeetingStage
from .secure_mail import SecureMail
from .termly_form import TermlyFormStage


def _step(part: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """``Casework.<name>`` calls ``self.<part>.<name>``."""
    name = method.__name__
    if inspect.iscoroutinefunction(method):
        @functools.wraps(method)
        async def forwarded_async(self: Casework, *args: Any, **kwargs: Any) -> Any:
            return await getattr(getattr(self, part), name)(*args, **kwargs)
        return forwarded_async

    @functools.wraps(method)
    def forwarded(self: Casework, *args: Any, **kwargs: Any) -> Any:
        return getattr(getattr(self, part), name)(*args, **kwargs)
    return forwarded


class Casework:
    """The PEP casework the workers do: records, dates, documents and mail together.

    Each step is one box of the council's flowchart, called by a thin pyzeebe handler
    in ``workers/``. Steps take identifiers and dates (what process variables carry)
    and return the identifiers and dates the diagram needs next; names, addresses and
    notes stay in the records store and the documents. Every change goes through the
    records store, which audits it.

    Steps are safe to run again (a job can be retried or handed out twice): they look
    for what an earlier run already did before doing it."""

    def __init__(self, store: RecordsStore, mailer: Mailer, clock: Clock, config: CaseworkConfig | None = None, *, sender: OutboxSender | None = None, pdf: FinalPdf | None = None, spins: DocumentPool | None = None) -> None:
        self.context = context = CaseContext(store, mailer, clock, config, sender=sender, pdf=pdf, spins=spins)
        # the context's services, the same objects (only ``config`` is ever replaced)
        self.store, self.mailer, self.clock, self.pdf = context.store, context.mailer, context.clock, context.pdf
        self.working_days, self.meetings, self.protected = context.working_days, context.meetings, context.protected
        self.sender, self.deliver_after_steps = context.sender, context.deliver_after_steps
        #: where password spins and python-docx work run (``DocumentPool``)
        self.spins = context.spins
        #: queued and protected mail, passwords, addresses; the dates that follow from a meeting
        self.mail, self.deadlines = context.mail, context.deadlines
        self.entry = EntryStage(self.context)
        self.termly_form = TermlyFormStage(self.context)
        self.meeting = MeetingStage(self.context)
        self.final_pep = FinalPepStage(self.context)
        self.closing = ClosingStage(self.context)

    @property
    def config(self) -> CaseworkConfig:
        """The casework settings; setting them reaches every stage."""
        return self.context.config

    @config.setter
    def config(self, value: CaseworkConfig) -> None:
        self.context.config = value

    # ------------------------------------------------------------ boxes 1 and 2
    create_pep_record = _step("entry", EntryStage.create_pep_record)
    resume_pep_cycle = _step("entry", EntryStage.resume_pep_cycle)
    notify_virtual_school = _step("entry", EntryStage.notify_virtual_school)
    inform_pep_coordinator = _step("entry", EntryStage.inform_pep_coordinator)
    venue_of = _step("entry", EntryStage.venue_of)
    record_venue_details = _step("entry", EntryStage.record_venue_details)

    # ------------------------------------------------------------ boxes 3 and 4
    schedule_pep_dates = _step("termly_form", TermlyFormStage.schedule_pep_dates)
    generate_pep_form = _step("termly_form", TermlyFormStage.generate_pep_form)
    send_secure_email = _step("termly_form", TermlyFormStage.send_secure_email)
    send_reminder = _step("termly_form", TermlyFormStage.send_reminder)
    receive_school_form = _step("termly_form", TermlyFormStage.receive_school_form)
    take_in_school_form = _step("termly_form", TermlyFormStage.take_in_school_form)
    decide_school_return = _step("termly_form", TermlyFormStage.decide_school_return)

    @property
    def returns(self):
        """Returned forms read, flagged, reviewed and merged (:mod:`pepflow.school_returns`)."""
        return self.termly_form.returns

    # ------------------------------------------------------------ meeting and typing up
    meeting_date_problem = _step("meeting", MeetingStage.meeting_date_problem)
    check_meeting_dates = _step("meeting", MeetingStage.check_meeting_dates)
    record_pep_meeting = _step("meeting", MeetingStage.record_pep_meeting)
    update_pep_status = _step("meeting", MeetingStage.update_pep_status)
    escalate_overdue = _step("meeting", MeetingStage.escalate_overdue)

    # ------------------------------------------------------------ boxes 6 and 7
    finalise_problem = _step("final_pep", FinalPepStage.finalise_problem)
    check_finalise = _step("final_pep", FinalPepStage.check_finalise)
    generate_final_pep = _step("final_pep", FinalPepStage.generate_final_pep)
    complete_pep = _step("final_pep", FinalPepStage.complete_pep)

    # ------------------------------------------------------------ closing
    schedule_setting_change_pep = _step("closing", ClosingStage.schedule_setting_change_pep)
    close_pep_case = _step("closing", ClosingStage.close_pep_case)

    # ------------------------------------------------------------ passwords and mail
    document_password = _step("mail", SecureMail.document_password)
    give_password = _step("mail", SecureMail.give_password)
    reader_role = _step("mail", SecureMail.reader_role)
    current_address = _step("mail", SecureMail.current_address)
    retry_mail = _step("mail", SecureMail.retry_mail)
