"""The PEP content model: the sections of part 3 (the school's, Health Visitor's and
carers', or education provider's part) and part 4 (the meeting), by phase and variant.

One catalogue, used by the Word form (``forms``), its read-back (``readback``), the
final PEP (``final``) and the web PEP page (``view``). ``docs/pep-content.md`` maps each
section key to the council templates it comes from.
"""

from __future__ import annotations

from pepflow.documents._shape import LAYOUT_V1, PHASE_MOVE_YEARS, FormShape
from pepflow.documents._spec import (
    ACTION_ROWS,
    ATTENDEE_ROWS,
    NEXT_MEETING_ROWS,
    TARGET_ROWS,
    Row,
    Section,
    field as _f,
    grid_section,
)
from pepflow.documents import _sections_v1 as v1
from pepflow.documents.model import ATTENDANCE_LABELS, PRIMARY_NEED_LABELS, TARGET_OUTCOME_LABELS

SUBJECT_ROWS = 6

EYFS_ROWS = v1.EYFS_ROWS


def _choices(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(labels.items())


def _section(key: str, title: str, *rows: Row, note: str | None = None) -> Section:
    return Section(title, tuple(rows), key=key, note=note)


def review_section() -> Section:
    return grid_section(
        "review", "Review of last term's targets", "school", "target_reviews", "Last term's target", TARGET_ROWS,
        (("target", "Target set last term", "text", ""), ("outcome", "Outcome", "choice", "outcome"),
         ("comment", "Evidence and comment", "text", "comment")),
        numbered=True, choices={"outcome": _choices(TARGET_OUTCOME_LABELS)},
        widths=(1700, 3600, 1700, 2638),  # the evidence column is as wide as the target's
        note="Last term's targets, filled in from the last PEP where we hold it (otherwise please copy them): "
             "say how far each was met and how you know.",
    )


def targets_section(title: str = "SMART targets") -> Section:
    return grid_section(
        "targets", title, "school", "targets", "Target", TARGET_ROWS,
        (("target", "SMART target (specific, measurable, achievable, relevant, timed)", "text", ""),
         ("who", "Who", "line", "who"), ("by_when", "By when", "date", "by when")),
        numbered=True,
        note="Each target keeps its number: a Pupil Premium Plus request names the target it pays for.",
    )


def _attendance(shape: FormShape) -> Section:
    rows = [
        _f("attendance_percent", "Attendance this academic year (%)", "decimal"),
        _f("sessions_missed", "Sessions missed this term", "int"),
    ]
    if shape.phase == "early-years":
        rows += [
            _f("funded_hours", "Funded early education hours a week", "decimal"),
            _f("key_person", "The child's key person", "line"),
        ]
        return _section("attendance", "Attendance and early education place", *rows)
    rows += [
        _f("authorised_absence_sessions", "Authorised absence this term (sessions)", "int"),
        _f("unauthorised_absence_sessions", "Unauthorised absence this term (sessions)", "int"),
        _f("reduced_timetable", "Is the young person on a reduced (part-time) timetable?", "bool"),
        _f("reduced_timetable_hours", "Hours a week on the part-time timetable", "decimal"),
        _f("reduced_timetable_plan", "Plan and date to return to full time", "text"),
        _f("alternative_provision", "Does the young person attend alternative provision?", "bool"),
        _f("alternative_provision_details", "Alternative provision: where, days and hours", "text"),
    ]
    return _section("attendance", "Attendance", *rows)


def _not_on_roll(shape: FormShape) -> Section:
    post16 = shape.phase == "post-16"
    return _section(
        "not-on-roll",
        "Education, employment or training while not enrolled" if post16 else "Education while not on a school roll",
        _f("not_on_roll_reason", "Why the young person is not on a roll" if post16 else "Why the child is not on a school roll",
           "text", "Awaiting a place, education otherwise than at school (EOTAS), permanently excluded, moved area..."),
        _f("off_roll_since", "Not on a roll since", "date"),
        _f("current_provision", "Education in place now", "text", "Tuition, alternative provision, EOTAS package: who provides it."),
        _f("provision_hours", "Hours of education a week", "decimal"),
        _f("attendance_percent", "Attendance at the provision (%)", "decimal"),
        _f("school_place_actions", "Actions to secure a place" if post16 else "Actions to secure a school place",
           "text", "Applications, fair access panel, EHCP named setting; who and by when."),
    )


def _behaviour() -> Section:
    return _section(
        "behaviour", "Behaviour and avoiding exclusion",
        _f("behaviour", "Behaviour and relationships in school", "text"),
        _f("exclusions_count", "Suspensions and exclusions this term (number)", "int"),
        _f("exclusion_days", "Days lost to suspension or exclusion", "decimal"),
        _f("exclusion_risk", "Is the young person at risk of exclusion?", "bool"),
        _f("exclusion_avoidance", "What is in place to avoid exclusion", "text",
           "Support, adjustments, alternatives to exclusion agreed with the Virtual School."),
    )


def _subjects() -> Section:
    return grid_section(
        "attainment-subjects", "Attainment by subject", "school", "subjects", "Subject", SUBJECT_ROWS,
        (("subject", "Subject", "line", ""), ("current", "Working at now", "line", "working at now"),
         ("expected", "Expected by the end of the year", "line", "expected"), ("target", "Target", "line", "target")),
        note="English, mathematics and science first, then other subjects; use the school's own grades or steps.",
    )


def _attainment(shape: FormShape) -> Section:
    if shape.phase == "post-16":
        return _section(
            "attainment", "Education, employment or training",
            _f("course", "Course, level and provider", "text"),
            _f("key_stage_results", "GCSE and other qualifications achieved", "text"),
            _f("attainment", "Attainment and predicted grades", "text"),
            _f("progress", "Progress since the last PEP", "text"),
            _f("neet_risk", "Is the young person at risk of becoming NEET?", "bool"),
            _f("bursary_applied", "Has the 16–19 Bursary been applied for?", "bool"),
        )
    return _section(
        "attainment", "Attainment and progress",
        _f("key_stage_results", "Key stage results", "text",
           "EYFS profile, phonics check, Key Stage 1, multiplication check, Key Stage 2, GCSE: as they apply."),
        _f("reading_age", "Reading age", "line"),
        _f("reading_age_tested_on", "Reading age tested on", "date"),
        _f("attainment", "Current attainment overall", "text"),
        _f("progress", "Progress since the last PEP", "text"),
    )


def _early_development(shape: FormShape) -> list[Section]:
    no_setting = shape.variant == "early-years-no-setting"
    check = _section(
        "two-year-check", "Progress check at age two and health review",
        _f("two_year_review_date", "Date of the 2-year health and development review" if no_setting
           else "Date of the progress check at age two", "date"),
        _f("two_year_review_outcome", "What the 2-year check found", "text"),
        *((_f("early_years_place_sought", "Is an early years place being sought?", "bool"),) if no_setting else ()),
    )
    eyfs = Section("Development (EYFS areas of learning)", EYFS_ROWS, key="development",
                   note="What the child can do now in each area, from the Health Visitor's and carers' observations."
                   if no_setting else None)
    progress = _section("attainment", "Progress", _f("progress", "Progress since the last PEP", "text"))
    return [check, eyfs, progress]


def _send() -> Section:
    return _section(
        "send", "Special educational needs and disabilities",
        _f("sen_status", "SEN/EHCP status", "sen"),
        _f("sen_primary_need", "Primary need", "choice", choices=_choices(PRIMARY_NEED_LABELS)),
        _f("ehcp_last_review_date", "Date of the last EHCP annual review", "date"),
        _f("ehcp_next_review_date", "Date of the next EHCP annual review", "date"),
        _f("agencies", "Other agencies involved", "text",
           "Educational psychologist, speech and language therapy, CAMHS, early help...: who and what they do."),
    )


def _wellbeing() -> Section:
    return _section(
        "wellbeing", "Health and well-being",
        _f("wellbeing", "Health and well-being", "text", "Emotional well-being, friendships, any concerns."),
        _f("sdq_score", "Latest SDQ score (0–40)", "int"),
        _f("sdq_follow_up", "SDQ follow-up", "text",
           "If the score is above 17 (a concern): the support or referral in place, and who leads it."),
    )


def _voice(shape: FormShape) -> Section:
    if shape.variant == "early-years-no-setting":
        return _section(
            "child-voice", "The child's voice",
            _f("child_attended", "Did the child come to the meeting (all or part)?", "bool"),
            _f("child_views", "The child's presentation and views", "text"),
            _f("child_views_how", "How the child's views were gathered", "text"),
        )
    return _section(
        "child-voice", "The child's voice",
        _f("child_attended", "Did the child come to the meeting (all or part)?", "bool"),
        _f("child_views_going_well", "What is going well (in the child's words)", "text"),
        _f("child_views_finding_hard", "What the child finds hard", "text"),
        _f("child_views_help", "What would help", "text"),
        _f("child_views", "Anything else the child wants to say", "text"),
        _f("child_views_how", "How the child's views were gathered", "text",
           "Talking with a trusted adult, a questionnaire, drawings, at the meeting..."),
    )


def _views(shape: FormShape) -> Section:
    carers = "The carers' views" if shape.variant == "early-years-no-setting" else "The carer's views"
    return _section(
        "views", "Carers' and parents' views",
        _f("carer_views", carers, "text"),
        _f("parent_views", "The parents' views (where appropriate)", "text"),
    )


def _strengths() -> Section:
    return _section("strengths", "Strengths and achievements",
                    _f("strengths_achievements", "Strengths and achievements this term", "text"))


def _enrichment() -> Section:
    return _section(
        "enrichment", "Enrichment and home learning",
        _f("enrichment", "Clubs, activities and interests", "text"),
        _f("home_learning", "Learning at home", "text", "Reading at home, homework, tutoring, how the carers help."),
    )


def _aspirations(shape: FormShape) -> Section:
    rows = [_f("aspirations", "The young person's hopes and aspirations", "text")]
    if shape.careers:
        label = "Careers guidance and next steps" if shape.phase == "post-16" else "Careers guidance and options"
        rows.append(_f("transition_careers", label, "text",
                       "Independent careers guidance, work experience, options and post-16 plans."))
    return _section("aspirations", "Aspirations and careers", *rows)


def _transition(shape: FormShape) -> Section:
    return _section(
        "transition", "Transition",
        _f("transition_plan", "Transition plan", "text",
           "The move coming up (" + ", ".join(PHASE_MOVE_YEARS.values()) + ", or a new school): visits, "
           "information shared, who supports the child, and when."),
    )


def _funding(shape: FormShape) -> Section:
    if shape.phase == "early-years":
        names = ("Early Years Pupil Premium", "Early Years Pupil Premium: how it is being used",
                 "Early Years Pupil Premium amount requested (£)")
    elif shape.phase == "post-16":
        names = ("Post-16 funding", "Post-16 funding: how it is being used", "Post-16 funding amount requested (£)")
    else:
        names = ("Pupil Premium Plus", "Pupil Premium Plus: how it is being used", "Pupil Premium Plus amount requested (£)")
    rows = [_f("ppp_use", names[1], "text"), _f("ppp_amount", names[2], "money")]
    if shape.review == "termly":
        rows.append(_f("ppp_impact", "Impact of last term's spend", "text"))
    return _section("funding", names[0], *rows)


COMPLETED = _section(
    "completed", "Completed by",
    _f("completed_by", "Completed by (name and role)", "line"),
    _f("completed_on", "Date completed", "date"),
)


def school_sections(shape: FormShape) -> tuple[Section, ...]:
    """The sections of part 3 for a form of this shape, in order."""
    if shape.version == LAYOUT_V1:
        return v1.school_sections_for(shape.variant, shape.careers)
    out: list[Section] = []
    if shape.review == "termly":
        out.append(review_section())
    if shape.phase == "early-years":
        if shape.variant == "early-years":
            out.append(_attendance(shape))
        out += _early_development(shape)
        if shape.variant == "early-years":
            out.append(_send())
    else:
        out.append(_not_on_roll(shape) if shape.not_on_roll else _attendance(shape))
        if not shape.not_on_roll:
            out.append(_behaviour())
        out.append(_attainment(shape))
        if shape.phase == "school-age":
            out.append(_subjects())
        out.append(_send())
    out += [_wellbeing(), _strengths()]
    if shape.phase != "early-years" or shape.variant == "early-years":
        out.append(_enrichment())
    out += [_voice(shape), _views(shape)]
    if shape.aspirations or shape.careers:
        out.append(_aspirations(shape))
    if shape.transition:
        out.append(_transition(shape))
    title = "Targets to support the child's development" if shape.variant == "early-years-no-setting" else "SMART targets"
    out.append(targets_section(title))
    if shape.variant != "early-years-no-setting":
        out.append(_funding(shape))
    out.append(COMPLETED)
    return tuple(out)


def meeting_sections(shape: FormShape | None = None) -> tuple[Section, ...]:
    """Part 4, the meeting record. A ``v1`` form (or no shape) has the first layout's."""
    if shape is None or shape.version == LAYOUT_V1:
        return v1.meeting_sections()
    m = "meeting"
    attendees = grid_section(
        "attendees", "Invited and attended", m, "attendees", "Attendee", ATTENDEE_ROWS,
        (("name", "Name", "line", ""), ("role", "Role", "line", "role"),
         ("attendance", "Attended?", "choice", "attended")),
        choices={"attendance": _choices(ATTENDANCE_LABELS)},
        note="Everyone invited: whether they attended or sent apologies.",
    )
    actions = grid_section(
        "actions", "Actions agreed", m, "actions", "Action", ACTION_ROWS,
        (("action", "Action", "text", ""), ("who", "Who", "line", "who"), ("by_when", "By when", "date", "by when")),
    )
    record = Section(
        "Meeting record",
        (
            _f("held_on", "Date the meeting was held", "date", part=m),
            _f("updates_agreed", "Updates agreed at the meeting", "text", part=m),
        )
        + tuple(
            _f(f"next_meeting_dates.{i}", f"Next PEP meeting date {i}", "date", part=m)
            for i in range(1, NEXT_MEETING_ROWS + 1)
        ),
        key="meeting-record",
    )
    lead = {"early-years-no-setting": "Health Visitor"}.get(shape.variant, "Education provider" if shape.not_on_roll
                                                          else "Designated teacher")
    worker = "Leaving care worker or personal adviser" if shape.phase == "post-16" else "Social worker"
    sign_off = _section(
        "sign-off", "Sign-off",
        _f("signed_designated_teacher", f"{lead}: name", "line", part=m),
        _f("signed_designated_teacher_on", f"{lead}: date signed", "date", part=m),
        _f("signed_social_worker", f"{worker}: name", "line", part=m),
        _f("signed_social_worker_on", f"{worker}: date signed", "date", part=m),
    )
    return (attendees, record, actions, sign_off)
