"""The PEP casework the workers do, split by the stages of the council's flowchart.

``Casework`` (:mod:`.service`) is the one object callers hold; each step is done by
the stage it belongs to, over one shared context (:mod:`.context`):

- :mod:`.entry`: boxes 1 and 2 - entry into care, the initial meeting arranged;
- :mod:`.termly_form`: boxes 3 and 4 - the term's dates, the form sent, reminders,
  the returned form taken in;
- :mod:`.meeting`: the meeting-date rule, the meeting recorded, typing up, escalations;
- :mod:`.final_pep`: boxes 6 and 7 - the final PEP, the next term's PEP;
- :mod:`.closing`: a change of setting, leaving care;
- shared: :mod:`.base` (time on process variables, settings), :mod:`.secure_mail`
  (queued and protected mail, passwords, addresses), :mod:`.deadlines` (dates that
  follow from a meeting).
"""

from .base import DOCX, LONDON, SYSTEM, CaseworkConfig, at_local, casework_config, iso, local_date, parse_instant
from .context import CaseContext
from .deadlines import Deadlines
from .meeting import FINALISE_FORM_CLEARED, TYPE_UP_FORM_CLEARED
from .secure_mail import SecureMail
from .service import Casework
from .termly_form import CYCLE_FORMS_CLEARED, REVIEW_FORM_CLEARED

__all__ = [
    "CYCLE_FORMS_CLEARED", "DOCX", "FINALISE_FORM_CLEARED", "LONDON", "REVIEW_FORM_CLEARED", "SYSTEM",
    "TYPE_UP_FORM_CLEARED", "CaseContext", "Casework", "CaseworkConfig", "Deadlines", "SecureMail",
    "at_local", "casework_config", "iso", "local_date", "parse_instant",
]
