"""Who a message is written to: the greeting and the words that depend on the reader.

The same step writes to different people: a PEP form goes to a school's designated
teacher, an early-years setting's designated practitioner, a college's designated
person, or - for a young child with no setting - the health visitor, the foster carers
and the parents. Each reads a greeting and sentences written for them ("a child at your
setting" to a school, "a young child you support" to a health visitor or carer).

``recipient_role`` is one of :data:`ROLES`; :func:`wording` gives the template
variables derived from it (``greeting``, ``audience``, ``setting_word``).
"""

from __future__ import annotations

from typing import NamedTuple


class Wording(NamedTuple):
    greeting: str  # after "Dear "
    audience: str  # "setting": an education setting; "home": health visitor, carers, parents; "council": staff
    setting_word: str  # how the reader calls where the child learns ("school", "setting", "college")


ROLES: dict[str, Wording] = {
    "designated-teacher": Wording("Designated Teacher", "setting", "school"),
    "designated-practitioner": Wording("Designated Practitioner", "setting", "setting"),
    "designated-person": Wording("Designated Person", "setting", "college"),
    "health-visitor": Wording("Health Visitor", "home", "setting"),
    "foster-carer": Wording("foster carer", "home", "setting"),
    "parent": Wording("parent", "home", "setting"),
    "other": Wording("colleague", "home", "setting"),
    "social-worker": Wording("Social Worker", "council", "setting"),
    "leaving-care-worker": Wording("Leaving Care Worker", "council", "setting"),
    "personal-adviser": Wording("Personal Adviser", "council", "setting"),
    "pep-coordinator": Wording("PEP Co-ordinator", "council", "setting"),
    "virtual-school": Wording("Virtual School", "council", "setting"),
    "business-support": Wording("colleague", "council", "setting"),
    "staff": Wording("colleague", "council", "setting"),
}

#: the designated person of a setting, by the kind of setting (pepflow.domain.enums.SettingKind)
DESIGNATED_ROLE_BY_SETTING_KIND = {
    "early-years": "designated-practitioner",
    "college": "designated-person",
}


def designated_role(setting_kind: str | None) -> str:
    return DESIGNATED_ROLE_BY_SETTING_KIND.get(setting_kind or "", "designated-teacher")


def wording(recipient_role: str) -> dict[str, str]:
    """The template variables for a reader in ``recipient_role``; an unknown role is an
    error (a message must never go out with the wrong greeting)."""
    try:
        w = ROLES[recipient_role]
    except KeyError:
        raise ValueError(f"no wording for recipient role {recipient_role!r}; known: {', '.join(ROLES)}") from None
    return {"greeting": w.greeting, "audience": w.audience, "setting_word": w.setting_word}
