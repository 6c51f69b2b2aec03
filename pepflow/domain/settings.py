"""The clocks of the PEP process, each one a setting.

Defaults follow ``/work/shared/domain.md``: where the council's flowchart and the
statutory guidance differ, the flowchart is the default and the difference is a
setting. The flowchart says the initial meeting is held "within 10 days"; which
kind of day is a council choice (default: working days, England bank holidays).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DayKind = Literal["calendar", "working"]
AgeOutRule = Literal["end-of-academic-year", "birthday"]


class Settings(BaseModel):
    """Deadline and age settings of the PEP process (immutable, validated)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    initial_meeting_days: int = Field(10, ge=1, description="Initial PEP meeting after entry")
    initial_meeting_day_kind: DayKind = "working"
    initial_meeting_reminder_working_days: int = Field(
        3, ge=0, description="Reminder this many working days before the initial meeting is due"
    )
    initial_cla_review_working_days: int = Field(
        20, ge=1, description="The initial CLA review is held within this many working days"
    )
    form_send_school_weeks: int = Field(
        3, ge=0, description="The PEP form goes to the setting this many school weeks before"
    )
    form_reminder_school_days: int = Field(
        5, ge=0, description="Reminder to the setting this many school days before the meeting"
    )
    setting_change_pep_working_days: int = Field(
        10, ge=1, description="A new PEP after a change of education setting"
    )
    sw_part_escalation_school_days: int = Field(
        5, ge=0, description="Escalate when the social worker's part is not done this many school days before the form must go"
    )
    meeting_record_working_days: int = Field(
        2, ge=0, description="Escalate when a meeting is not recorded this many working days after its date"
    )
    finalise_school_days: int = Field(
        20, ge=1, description="The council's standard: a PEP is final within this many school days of the meeting"
    )
    event_message_days: int = Field(
        180, ge=1, description="How long the process keeps an event it cannot act on yet (a change of school before the termly cycle, a form returned before it is awaited)"
    )
    max_months_between_reviews: int = Field(4, ge=1)
    age_limit: int = Field(18, ge=16, le=25, description="PEPs stop after this age")
    age_out_rule: AgeOutRule = "end-of-academic-year"
