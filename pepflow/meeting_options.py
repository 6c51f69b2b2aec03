"""Who can be invited to or recorded at a PEP meeting, as the process variable
``contactOptions`` that the forms ``arrange-initial-meeting`` and ``record-pep-meeting``
read (``valuesKey``).

Camunda Tasklist renders a form from the process variables only, so the option list
must be a process variable set by a worker before the task - and process variables
carry identifiers, dates and codes, never people's names. Each option is labelled by
role and reference instead:

- the setting's designated teacher: ``Designated teacher (ES-0001)``, value the
  setting id (a label is checked against the process contract: a known role and the
  option's own reference, nothing else - ``pepflow/domain/variables.py``);
- each of the child's contacts with an e-mail address (they receive the PEP
  securely): ``Foster carer (CT-0006)``, value the contact id;
- the child's workers allocated today (``pepflow/store/allocations.py``):
  ``Social worker (ST-0001)``, ``Leaving care worker (ST-0003)``, value the staff id.

A person who needs the name looks the reference up in the product (the web shows it).
"""

from __future__ import annotations

from pepflow.domain.enums import ContactRole

ROLE_LABELS = {
    ContactRole.HEALTH_VISITOR: "Health visitor",
    ContactRole.FOSTER_CARER: "Foster carer",
    ContactRole.PARENT: "Parent",
    ContactRole.OTHER: "Other contact",
}


def contact_options(store, child_id: str, setting_id: str | None) -> list[dict[str, str]]:
    from zoneinfo import ZoneInfo

    from pepflow.store.allocations import ROLE_LABELS as WORKER_LABELS

    child = store.child(child_id)
    options: list[dict[str, str]] = []
    if setting_id:
        setting = store.setting(setting_id)
        options.append({"label": f"Designated teacher ({setting.id})", "value": setting.id})
    for contact in store.contacts_for(child.id):
        if contact.email:
            options.append({"label": f"{ROLE_LABELS[contact.role]} ({contact.id})", "value": contact.id})
    today = store.clock.now().astimezone(ZoneInfo("Europe/London")).date()
    seen: set[str] = set()
    for allocation in store.allocations.current_for_child(child.id, today):
        if allocation.staff_id not in seen:
            seen.add(allocation.staff_id)
            label = WORKER_LABELS[allocation.role].capitalize()
            options.append({"label": f"{label} ({allocation.staff_id})", "value": allocation.staff_id})
    return options
