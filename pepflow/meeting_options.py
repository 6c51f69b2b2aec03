"""Who can be invited to or recorded at a PEP meeting, as the process variable
``contactOptions`` that the forms ``arrange-initial-meeting`` and ``record-pep-meeting``
read (``valuesKey``).

Camunda Tasklist renders a form from the process variables only, so the option list
must be a process variable set by a worker before the task - and process variables
carry identifiers, dates and codes, never people's names. Each option is labelled by
role and reference instead:

- the setting's designated teacher: ``Designated teacher, Oakridge Primary (ES-0001)``
  (a school's name is not personal data), value the setting id;
- each of the child's contacts with an e-mail address (they receive the PEP
  securely): ``Foster carer (CT-0006)``, value the contact id;
- the child's social worker: ``Social worker (ST-0001)``, value the staff id.

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
    child = store.child(child_id)
    options: list[dict[str, str]] = []
    if setting_id:
        setting = store.setting(setting_id)
        options.append({"label": f"Designated teacher, {setting.name} ({setting.id})", "value": setting.id})
    for contact in store.contacts_for(child.id):
        if contact.email:
            options.append({"label": f"{ROLE_LABELS[contact.role]} ({contact.id})", "value": contact.id})
    if child.social_worker_id:
        options.append({"label": f"Social worker ({child.social_worker_id})", "value": child.social_worker_id})
    return options
