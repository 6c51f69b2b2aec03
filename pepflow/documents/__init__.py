"""Word documents for the PEP process: the form, reading it back, the final PEP.

- :func:`render_pep_form` builds the .docx sent to the designated teacher (or the
  Health Visitor and carers): locked prefilled parts, content controls to fill.
- :func:`read_school_return` checks a returned file (right PEP, not hostile) and reads
  the designated teacher's part and the meeting part by tag, alias or label.
- :func:`render_final_pep` merges everything into the final, versioned PEP.
"""

from pepflow.documents.final import render_final_pep
from pepflow.documents.forms import DEFAULT_COUNCIL_NAME, render_pep_form
from pepflow.documents.model import (
    SEN_STATUS_LABELS,
    VARIANTS,
    AgreedAction,
    Attendee,
    ChildDetails,
    MeetingArrangements,
    MeetingRecord,
    PepFormContent,
    PepIdentity,
    SchoolReturn,
    SenStatus,
    SettingDetails,
    SmartTarget,
    SocialWorkerPart,
    Variant,
    check_value_matches,
    form_check_value,
)
from pepflow.documents.readback import (
    DocumentRejected,
    Encrypted,
    MacroEnabled,
    NotAPepForm,
    NotAWordFile,
    ReadBackResult,
    ReadLimits,
    TooLarge,
    UnsafeXml,
    WrongPep,
    read_school_return,
)

__all__ = [
    "DEFAULT_COUNCIL_NAME",
    "SEN_STATUS_LABELS",
    "VARIANTS",
    "AgreedAction",
    "Attendee",
    "ChildDetails",
    "DocumentRejected",
    "Encrypted",
    "MacroEnabled",
    "MeetingArrangements",
    "MeetingRecord",
    "NotAPepForm",
    "NotAWordFile",
    "PepFormContent",
    "PepIdentity",
    "ReadBackResult",
    "ReadLimits",
    "SchoolReturn",
    "SenStatus",
    "SettingDetails",
    "SmartTarget",
    "SocialWorkerPart",
    "TooLarge",
    "UnsafeXml",
    "Variant",
    "WrongPep",
    "check_value_matches",
    "form_check_value",
    "read_school_return",
    "render_final_pep",
    "render_pep_form",
]
