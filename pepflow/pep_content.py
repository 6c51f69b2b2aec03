"""What goes into a PEP's documents, from the records: the form's content (with the
care context and last term's PEP carried forward), the meeting record (the process's
attendees and dates merged with the meeting part the school filled in), and who
finalised it. Split out of ``casework`` so the documents are built in one place.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from .documents import (
    Attendee,
    ChildDetails,
    MeetingArrangements,
    MeetingRecord,
    PepFormContent,
    SchoolReturn,
    SettingDetails,
    SocialWorkerPart,
)
from .documents._fields import shape_of
from .documents.view import SectionView, meeting_view, role_words, school_view
from .domain.enums import OwnerRole, PepSection, PepStatus, Variant
from .store import RecordsStore
from .store import records as r

LONDON = ZoneInfo("Europe/London")
OWNER_LABELS = {
    OwnerRole.SOCIAL_WORKER: "Social worker",
    OwnerRole.LEAVING_CARE_WORKER: "Leaving Care Worker",
    OwnerRole.PERSONAL_ADVISER: "Personal Adviser",
}
TERM_CODES = {"autumn": "Autumn", "spring": "Spring", "summer": "Summer"}


def _local(instant: datetime) -> date:
    return instant.astimezone(LONDON).date()


def term_words(pep: r.Pep) -> str:
    return f"{TERM_CODES[pep.term.value]} {pep.academic_year if pep.term.value == 'autumn' else pep.academic_year + 1}"


def previous_return(store: RecordsStore, pep: r.Pep) -> tuple[SchoolReturn | None, str | None]:
    """The last final PEP's school return before ``pep``, and its term, to carry forward."""
    earlier = [p for p in store.peps_for(pep.child_id) if p.id != pep.id and p.status == PepStatus.FINAL
               and (p.academic_year, p.term.index, p.sequence) < (pep.academic_year, pep.term.index, pep.sequence)]
    for p in reversed(earlier):
        data = store.section(p.id, PepSection.SCHOOL_RETURN)
        if data:
            try:
                return SchoolReturn.model_validate(data), term_words(p)
            except ValidationError:  # kept by an older version with other rules: not carried, not guessed
                return None, None
    return None, None


def _count(value: Any) -> int | None:
    return int(value) if isinstance(value, int) or (isinstance(value, str) and value.isdigit()) else None


def form_content(store: RecordsStore, pep: r.Pep, today: date) -> PepFormContent:
    child = store.child(pep.child_id)
    carer = store.contact(child.carer_contact_id) if child.carer_contact_id else None
    owner = store.staff(pep.owner_staff_id) if pep.owner_staff_id else None
    social = store.section(pep.id, PepSection.SOCIAL_WORKER) or {}
    not_on_roll = pep.variant in (Variant.SCHOOL_AGE, Variant.POST_16) and not pep.setting_id
    if pep.variant == Variant.EARLY_YEARS_NO_SETTING:
        recipients = store.early_years_recipients(pep.child_id)
        setting = SettingDetails(
            health_visitor_name=", ".join(a.name for a in recipients if a.role == "health-visitor") or None,
            carers_names=", ".join(a.name for a in recipients if a.role != "health-visitor") or None,
        )
    else:
        record = store.setting(pep.setting_id) if pep.setting_id else None
        setting = SettingDetails(
            setting_name=record.name if record else None,
            designated_teacher_name=record.designated_teacher_name if record else None,
        )
    meeting_at = pep.meeting_at
    meeting = MeetingArrangements(
        date=_local(meeting_at) if meeting_at else today,
        time=meeting_at.astimezone(LONDON).time().replace(second=0, microsecond=0) if meeting_at else None,
        venue=social.get("venue"),
    )
    episode = store.care_episode(pep.care_episode_id) if pep.care_episode_id else store.current_care_episode(pep.child_id)
    previous, previous_term = (None, None) if pep.is_initial else previous_return(store, pep)
    school_moves = _count(social.get("school_moves"))
    if school_moves is None and episode is not None:  # from the records: settings started since coming into care
        school_moves = sum(1 for e in store.enrolments(pep.child_id) if episode.entered_care_on < e.starts_on <= today)
    return PepFormContent(
        variant=pep.variant.value,
        review="initial" if pep.is_initial else "termly",
        not_on_roll=not_on_roll,
        previous=previous,
        previous_term=previous_term,
        child=ChildDetails(
            name=f"{child.given_name} {child.family_name}",
            date_of_birth=child.date_of_birth,
            legal_status=child.legal_status or "Not recorded",
            carer_name=carer.name if carer else "Not recorded",
            placement_type=(carer.role.value.replace("-", " ").capitalize() if carer else "Not recorded"),
        ),
        social_worker=SocialWorkerPart(
            owner_role=OWNER_LABELS[pep.owner_role],
            owner_name=owner.name if owner else "Not allocated",
            team=owner.team if owner else None,
            strengths=social.get("strengths"),
            needs=social.get("needs"),
            development_knowledge=social.get("development_knowledge"),
            date_into_care=episode.entered_care_on if episode else None,
            placement_moves=_count(social.get("placement_moves")),
            school_moves=school_moves,
            delegated_authority=social.get("delegated_authority"),
            health=social.get("health"),
        ),
        setting=setting,
        meeting=meeting,
    )


def meeting_record(store: RecordsStore, pep: r.Pep, attendee_ids: list[str] | None,
                   next_meeting_dates: list[datetime], today: date) -> MeetingRecord:
    """The meeting as the process recorded it (who attended, the next dates), with what
    the school wrote in the form's meeting part (actions agreed, updates, apologies,
    sign-off): nothing the school wrote is lost on the way to the final PEP."""
    form = store.section(pep.id, PepSection.SCHOOL_MEETING) or {}
    from_form = MeetingRecord.model_validate(form) if form else MeetingRecord()
    attendees = []
    for attendee_id in attendee_ids or []:
        address = store.address_for(attendee_id)
        attendees.append(Attendee(name=address.name, role=role_words(address.role), attendance="attended"))
    known = {a.name.casefold() for a in attendees}
    attendees += [a.model_copy(update={"role": role_words(a.role)}) for a in from_form.attendees
                  if a.name.casefold() not in known]
    dates = [_local(d) for d in next_meeting_dates] or from_form.next_meeting_dates
    return from_form.model_copy(update={
        "held_on": _local(pep.meeting_at) if pep.meeting_at else (from_form.held_on or today),
        "attendees": attendees,
        "next_meeting_dates": dates,
    })


def finalised_by(store: RecordsStore, pep: r.Pep) -> str | None:
    """Who finalised the PEP, in words: its owner, who checks and finalises it."""
    if not pep.owner_staff_id:
        return None
    owner = store.staff(pep.owner_staff_id)
    return f"{owner.name}, {OWNER_LABELS[pep.owner_role].lower()}"


def answers_view(store: RecordsStore, pep: r.Pep, today: date) -> list[SectionView]:
    """The PEP's answers section by section, as the final PEP shows them (the web PEP
    page): the school's part once returned, then the meeting (as recorded, or as the
    school filled it in before the meeting was recorded). Empty before anything came back."""
    school = store.section(pep.id, PepSection.SCHOOL_RETURN)
    meeting = store.section(pep.id, PepSection.MEETING_RECORD) or store.section(pep.id, PepSection.SCHOOL_MEETING)
    if not school and not meeting:
        return []
    shape = shape_of(form_content(store, pep, today))
    views = school_view(shape, SchoolReturn.model_validate(school)) if school else []
    if meeting:
        views += meeting_view(shape, MeetingRecord.model_validate(meeting))
    return views


__all__: list[str] = ["OWNER_LABELS", "TERM_CODES", "answers_view", "finalised_by", "form_content", "meeting_record",
                      "previous_return", "term_words"]