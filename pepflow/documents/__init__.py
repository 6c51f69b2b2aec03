"""Word documents for the PEP process: the form, reading it back, the final PEP.

- :func:`render_pep_form` builds the .docx sent to the designated teacher (or the
  Health Visitor and carers): locked prefilled parts, content controls to fill.
- :func:`read_school_return` checks a returned file (right PEP, not hostile) and reads
  the designated teacher's part and the meeting part by tag, alias or label.
- :func:`render_final_pep` merges everything into the final, versioned PEP.
- :func:`protect` / :func:`unprotect` password-protect the files that leave the council
  (AES-256 agile); :func:`document_password` derives each document's password.
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
    SubjectAttainment,
    TargetReview,
    Variant,
    check_value_matches,
    form_check_value,
    target_id,
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
    WrongPassword,
    WrongPep,
    read_school_return,
)
from pepflow.documents.protection import (
    ProtectionInfo,
    document_password,
    new_setting_secret,
    protect,
    protection_info,
    spell_password,
    unprotect,
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
    "ProtectionInfo",
    "ReadBackResult",
    "ReadLimits",
    "SchoolReturn",
    "SenStatus",
    "SettingDetails",
    "SmartTarget",
    "SocialWorkerPart",
    "SubjectAttainment",
    "TargetReview",
    "TooLarge",
    "UnsafeXml",
    "Variant",
    "WrongPassword",
    "WrongPep",
    "check_value_matches",
    "document_password",
    "form_check_value",
    "new_setting_secret",
    "protect",
    "protection_info",
    "read_school_return",
    "render_final_pep",
    "render_pep_form",
    "spell_password",
    "target_id",
    "unprotect",
]
