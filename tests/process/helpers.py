"""Helpers for the process tests: the sample data's people and addresses, the clock,
and a caseworker completing tasks (tests/process/test_*.py)."""

import re
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from pepflow.documents import SchoolReturn, SmartTarget
from pepflow.roleplay import RolePlayer

from .conftest import PepWorld

LONDON = ZoneInfo("Europe/London")

VIRTUAL_SCHOOL = ("virtual.school@council.example.org",)
PEP_COORDINATOR = ("ingrid.larkspur@council.example.org",)
AMIRA_SW = ("amira.quillfeather@council.example.org",)  # ST-0001, social worker (north)
OAKRIDGE_DT = ("designated.teacher@oakridge-primary.example.org",)  # ES-0001
FERNHOLLOW_DT = ("designated.teacher@fernhollow-academy.example.org",)  # ES-0002
RIVERBEND_DP = ("designated.person@riverbend-college.example.org",)  # ES-0003
KESTREL_DT = ("designated.teacher@kestrel-park.example.org",)  # ES-0004
C0001_CARER = ("beryl.kindlewood@carers.example.org",)  # CT-0006
C0005_PEP_RECIPIENTS = {  # health visitor, two foster carers, the parent flagged to receive it
    ("hazel.pretendton@health.example.org",),
    ("rowan.fosterling@carers.example.org",),
    ("sage.fosterling@carers.example.org",),
    ("morgan.fictionley@example.net",),
}

INITIAL_STEPS = ("InitiatePepTask", "GenerateInitialPepTask", "SendInitialPepTask", "NotifyVirtualSchoolTask")


# --------------------------------------------------------------------------- helpers
def local(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """A wall-clock time in England."""
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def z(instant: datetime) -> str:
    """An instant as the process variables carry it: ISO, UTC, ``Z``."""
    return instant.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def active(world: PepWorld, key: int) -> list[str]:
    return sorted(world.engine.instance(key).active_elements)


def variables(world: PepWorld, key: int) -> dict:
    return world.engine.instance(key).variables


def elements(world: PepWorld, key: int, event: str = "COMPLETED") -> list[str]:
    return [h.element_id for h in world.engine.history(key) if h.event == event]


def fired_at(world: PepWorld, key: int, element_id: str) -> list[datetime]:
    """When a timer or message event completed (it fired)."""
    return [h.at for h in world.engine.history(key) if h.element_id == element_id and h.event == "COMPLETED"]


def attachments(mail) -> list[str]:
    return [a.filename for a in mail.attachments]


def documents(world: PepWorld, pep_id: str) -> list[tuple[str, int, str]]:
    return [(d.kind.value, d.version, d.filename) for d in world.store.documents(pep_id)]


def status_changes(world: PepWorld, pep_id: str) -> list[list[str]]:
    return [a.diff["status"] for a in world.store.audit_entries("pep", pep_id) if a.action == "update" and "status" in a.diff]


def mail_kinds(world: PepWorld, pep_id: str) -> Counter:
    return Counter(entry.kind for entry in world.store.mail_log(pep_id))


def start(world: PepWorld, message: str, child_id: str, **payload) -> int:
    """The council records the event (pepflow.events): the fact first, then the process
    starts; returns the new instance's key."""
    if message == "child-already-in-care":
        outcome = world.events.already_in_care(child_id, actor="test")
    else:
        outcome = world.events.looked_after(
            child_id, date.fromisoformat(payload["enteredCareOn"]), emergency=message == "child-entered-care-emergency",
            actor="test",
        )
    [key] = outcome.started_instances
    return key


async def advance_to(world: PepWorld, instant: datetime) -> None:
    await world.runtime.advance(instant - world.clock.now())


def the_task(world: PepWorld, key: int, element_id: str):
    [task] = world.engine.user_tasks(process_instance_key=key, element_id=element_id)
    return task


async def complete(world: PepWorld, key: int, element_id: str, values: dict | None = None, *, actor: str | None = None) -> None:
    """A person completes the open user task ``element_id``: with ``values``, or with
    what the role-played caseworker would enter."""
    task = the_task(world, key, element_id)
    roles = RolePlayer(world.store, return_pep_at_first_check=False)
    if values is None:
        values = roles.variables_for(task, world.clock.now())
    world.engine.complete_user_task(task.user_task_key, values, actor=actor or roles.actor_for(task))
    await world.runtime.run_until_idle()


async def play_until(world: PepWorld, key: int, done, *, limit: int = 100) -> None:
    """Every caseworker does their task as soon as it is there; otherwise the clock
    moves to the next timer. Stops when ``done()`` holds."""
    roles = RolePlayer(world.store, return_pep_at_first_check=False)
    for _ in range(limit):
        if done():
            return
        tasks = [t for t in world.engine.user_tasks(process_instance_key=key) if not roles.waits(t)]
        if tasks:
            for task in tasks:
                world.engine.complete_user_task(task.user_task_key, roles.variables_for(task, world.clock.now()), actor=roles.actor_for(task))
            await world.runtime.run_until_idle()
            continue
        due = world.engine.next_timer_due()
        assert due is not None, f"stuck at {active(world, key)}"
        await advance_to(world, max(due, world.clock.now()))
    raise AssertionError(f"not done after {limit} steps, at {active(world, key)}")


def return_by_in(form_mail) -> date:
    """The return-by date a PEP form e-mail asks for."""
    found = re.search(r"return by \w+ (\d{1,2} \w+ \d{4})", form_mail.subject)
    assert found, form_mail.subject
    return datetime.strptime(found.group(1), "%d %B %Y").date()


def school_answers(on: date) -> SchoolReturn:
    return SchoolReturn(
        completed_by="Designated teacher", completed_on=on, attendance_percent=Decimal("96.2"),
        sessions_missed=6, exclusions_count=0, sen_status="sen-support", wellbeing="Settled, friendships growing",
        child_views="Enjoys art and PE", sdq_score=14,
        targets=[SmartTarget(target="Read 10 minutes daily with carer", who="Carer and class teacher", by_when=on + timedelta(days=42))],
    )


ARRANGED_C0001 = {  # the social worker arranges the initial meeting (step 2)
    "meetingAt": "2026-09-22T13:30:00Z",  # Tuesday 22 September 2026, 14:30 in England
    "venueCode": "education-setting",  # the room goes in the records, never in the process
    "inviteeIds": ["ES-0001", "CT-0006", "ST-0001"],
}
MEETING_C0001 = local(2026, 9, 22, 14, 30)
SW_PART_DONE = {"swSectionComplete": True}
SW_PART_DONE_NO_SETTING = {"swSectionComplete": True, "developmentInfoRecorded": True}
# the logins the council's Identity knows the sample staff by (staff.csv)
LOGIN = {
    "ST-0001": "amira.quillfeather@council.example.org", "ST-0002": "bartholomew.nettleby@council.example.org",
    "ST-0003": "cressida.fairbrook@council.example.org", "ST-0004": "dorian.pemberwick@council.example.org",
}


