"""The records store: a small facade over one repository per aggregate.

``RecordsStore(url, clock)`` opens one :class:`~pepflow.store.unit_of_work.UnitOfWork`
(the database, its transactions and the audit written in them: every change and its
audit entry commit together; :meth:`RecordsStore.atomic` groups several changes) and
hands out the repositories that share it:

- ``store.children_repo``: children, contacts, enrolments, care episodes;
- ``store.settings_repo``: settings, designated teachers, term dates, INSET days, calendars;
- ``store.staff_repo``: staff, their roles and logins, addresses and groups by role;
- ``store.peps_repo``: PEPs, sections, views, document versions;
- ``store.mail_repo``: the mail log and its summaries;
- ``store.outbox_repo``: the mail outbox (queue, claim, send, retry, withdraw);
- ``store.audit_repo``: the audit log read back, events that change no data;
- ``store.uow``: the unit of work itself (``transaction``, ``read``, ``audit``);

and, beside them, ``store.allocations``, ``store.cover``, ``store.events``,
``store.escalations`` and ``store.returns`` (their own modules).

Every public method of those repositories is also a method of the store under the
same name and signature (``store.pep(...)`` is ``store.peps_repo.pep(...)``): the
forwarding table below, so the store's callers need not know which repository answers.
The class is therefore wide (one entry per method) but holds no logic of its own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any, Concatenate, ParamSpec, TypeVar

from pepflow.clock import Clock
from pepflow.store.allocations import Owner, pep_owner
from pepflow.store.audit_repo import AuditRepository
from pepflow.store.children_repo import ChildrenRepository
from pepflow.store.mail_repo import MailLogRepository
from pepflow.store.outbox_repo import OutboxRepository
from pepflow.store.peps_repo import PepRepository
from pepflow.store.settings_repo import SettingsRepository
from pepflow.store.staff_repo import StaffRepository
from pepflow.store.unit_of_work import UnitOfWork, create_store_engine  # noqa: F401
# Importable from here as before the split (their homes are ``unit_of_work`` and ``values``).
from pepflow.store.values import COUNCIL, UNSET, check_login  # noqa: F401


P = ParamSpec("P")
R = TypeVar("R")


def _forward(
    attribute: str, method: Callable[Concatenate[Any, P], R]
) -> Callable[Concatenate[RecordsStore, P], R]:
    """``store.<name>(...)`` calls ``method`` on ``store.<attribute>``; the signature,
    name and docstring are the method's (``help()``, ``inspect.signature`` and type
    checkers see the repository's)."""

    @functools.wraps(method)
    def forwarded(self: RecordsStore, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return method(getattr(self, attribute), *args, **kwargs)

    return forwarded


class RecordsStore:
    """The records of children in care and their PEPs, over one database.

    ``url`` is a SQLAlchemy URL (SQLite or PostgreSQL with psycopg 3); the schema is
    created by :func:`pepflow.store.migrate`. ``clock`` stamps every audit entry.
    Close the store (or use it as a context manager) to release connections.
    """

    def __init__(self, url: str, clock: Clock) -> None:
        self.url = url
        self.uow = UnitOfWork(url, clock)
        self.staff_repo = StaffRepository(self.uow)
        self.settings_repo = SettingsRepository(self.uow)
        self.children_repo = ChildrenRepository(self.uow, self.settings_repo)
        self.peps_repo = PepRepository(self.uow, self.children_repo, self._pep_owner)
        self.mail_repo = MailLogRepository(self.uow)
        self.outbox_repo = OutboxRepository(self.uow, self.mail_repo)
        self.audit_repo = AuditRepository(self.uow)

    @property
    def clock(self) -> Clock:
        return self.uow.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self.uow.clock = clock

    def _pep_owner(self, child_id: str, pep_day: date, today: date) -> Owner:
        return pep_owner(self, child_id, pep_day, today)

    # -- lifecycle and transactions --------------------------------------------

    def close(self) -> None:
        self.uow.close()

    def __enter__(self) -> RecordsStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Group changes into one transaction: all of them (with their audit) or none."""
        with self.uow.atomic():
            yield

    # -- the store's neighbours, each in its own module ---------------------------

    @property
    def events(self):
        """The council's events about children (:class:`pepflow.store.facts.EventLog`)."""
        from pepflow.store.facts import EventLog

        return EventLog(self)

    @property
    def returns(self):
        """Returned forms as read and reviewed (:class:`pepflow.store.returns.SchoolReturns`)."""
        from pepflow.store.returns import SchoolReturns

        return SchoolReturns(self)

    @property
    def escalations(self):
        """Late waits told to the PEP co-ordinator (:class:`pepflow.store.facts.Escalations`)."""
        from pepflow.store.facts import Escalations

        return Escalations(self)

    @property
    def allocations(self):
        """Staff allocated to children by role and date (:mod:`pepflow.store.allocations`)."""
        from pepflow.store.allocations import StaffAllocations

        return StaffAllocations(self)

    @property
    def cover(self):
        """Absences with their cover, and single tasks given to a colleague (:mod:`pepflow.store.cover`)."""
        from pepflow.store.cover import StaffCover

        return StaffCover(self)

    # -- the forwarding table: each repository's methods as the store's -------------

    save_staff = _forward("staff_repo", StaffRepository.save_staff)
    staff = _forward("staff_repo", StaffRepository.staff)
    staff_with_role = _forward("staff_repo", StaffRepository.staff_with_role)
    all_staff = _forward("staff_repo", StaffRepository.all_staff)
    staff_by_login = _forward("staff_repo", StaffRepository.staff_by_login)
    business_support_group = _forward("staff_repo", StaffRepository.business_support_group)
    virtual_school_address = _forward("staff_repo", StaffRepository.virtual_school_address)
    pep_coordinator_address = _forward("staff_repo", StaffRepository.pep_coordinator_address)

    save_setting = _forward("settings_repo", SettingsRepository.save_setting)
    setting = _forward("settings_repo", SettingsRepository.setting)
    settings = _forward("settings_repo", SettingsRepository.settings)
    designated_teacher_address = _forward(
        "settings_repo", SettingsRepository.designated_teacher_address
    )
    save_term = _forward("settings_repo", SettingsRepository.save_term)
    save_inset_day = _forward("settings_repo", SettingsRepository.save_inset_day)
    school_calendar_for = _forward("settings_repo", SettingsRepository.school_calendar_for)

    save_child = _forward("children_repo", ChildrenRepository.save_child)
    child = _forward("children_repo", ChildrenRepository.child)
    children = _forward("children_repo", ChildrenRepository.children)
    save_contact = _forward("children_repo", ChildrenRepository.save_contact)
    set_carer = _forward("children_repo", ChildrenRepository.set_carer)
    contact = _forward("children_repo", ChildrenRepository.contact)
    contacts_for = _forward("children_repo", ChildrenRepository.contacts_for)
    early_years_recipients = _forward("children_repo", ChildrenRepository.early_years_recipients)
    address_for = _forward("children_repo", ChildrenRepository.address_for)
    enrol = _forward("children_repo", ChildrenRepository.enrol)
    enrolments = _forward("children_repo", ChildrenRepository.enrolments)
    setting_for = _forward("children_repo", ChildrenRepository.setting_for)
    open_care_episode = _forward("children_repo", ChildrenRepository.open_care_episode)
    close_care_episode = _forward("children_repo", ChildrenRepository.close_care_episode)
    care_episode = _forward("children_repo", ChildrenRepository.care_episode)
    care_episodes = _forward("children_repo", ChildrenRepository.care_episodes)
    current_care_episode = _forward("children_repo", ChildrenRepository.current_care_episode)

    create_pep = _forward("peps_repo", PepRepository.create_pep)
    update_pep = _forward("peps_repo", PepRepository.update_pep)
    pep = _forward("peps_repo", PepRepository.pep)
    peps_for = _forward("peps_repo", PepRepository.peps_for)
    open_pep = _forward("peps_repo", PepRepository.open_pep)
    current_pep = _forward("peps_repo", PepRepository.current_pep)
    record_pep_view = _forward("peps_repo", PepRepository.record_pep_view)
    save_section = _forward("peps_repo", PepRepository.save_section)
    section = _forward("peps_repo", PepRepository.section)
    record_document = _forward("peps_repo", PepRepository.record_document)
    document_for = _forward("peps_repo", PepRepository.document_for)
    documents = _forward("peps_repo", PepRepository.documents)
    latest_document = _forward("peps_repo", PepRepository.latest_document)
    document_content = _forward("peps_repo", PepRepository.document_content)

    record_mail = _forward("mail_repo", MailLogRepository.record_mail)
    set_mail_status = _forward("mail_repo", MailLogRepository.set_mail_status)
    mail_entry = _forward("mail_repo", MailLogRepository.mail_entry)
    mail_log = _forward("mail_repo", MailLogRepository.mail_log)
    mail_summaries = _forward("mail_repo", MailLogRepository.mail_summaries)
    mail_summary = _forward("mail_repo", MailLogRepository.mail_summary)

    enqueue_mail = _forward("outbox_repo", OutboxRepository.enqueue_mail)
    claim_mail = _forward("outbox_repo", OutboxRepository.claim_mail)
    release_mail = _forward("outbox_repo", OutboxRepository.release_mail)
    release_orphaned_mail = _forward("outbox_repo", OutboxRepository.release_orphaned_mail)
    outbox_messages = _forward("outbox_repo", OutboxRepository.outbox_messages)
    outbox_message = _forward("outbox_repo", OutboxRepository.outbox_message)
    mark_mail_sent = _forward("outbox_repo", OutboxRepository.mark_mail_sent)
    withdraw_queued_mail = _forward("outbox_repo", OutboxRepository.withdraw_queued_mail)
    schedule_mail_retry = _forward("outbox_repo", OutboxRepository.schedule_mail_retry)
    mark_mail_failed = _forward("outbox_repo", OutboxRepository.mark_mail_failed)
    requeue_mail = _forward("outbox_repo", OutboxRepository.requeue_mail)
    next_mail_due = _forward("outbox_repo", OutboxRepository.next_mail_due)

    record_event = _forward("audit_repo", AuditRepository.record_event)
    audit_entries = _forward("audit_repo", AuditRepository.audit_entries)


#: Every public name a repository answers for, by the store's attribute for it
#: (checked by ``tests/store/test_facade.py``: nothing public is left unforwarded).
FORWARDED: dict[str, type] = {
    "staff_repo": StaffRepository,
    "settings_repo": SettingsRepository,
    "children_repo": ChildrenRepository,
    "peps_repo": PepRepository,
    "mail_repo": MailLogRepository,
    "outbox_repo": OutboxRepository,
    "audit_repo": AuditRepository,
}
