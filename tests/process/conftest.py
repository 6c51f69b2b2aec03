from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import re

import pytest

from pepflow.casework import Casework, CaseworkConfig, local_date
from pepflow.handover import Handover
from pepflow.clock import SimulationClock
from pepflow.engine.runtime import Engine
from pepflow.engine.worker import EmbeddedRuntime
from pepflow.events import CouncilEvents
from pepflow.task_checks import TaskChecks
from pepflow.mail.message import OutgoingMail
from pepflow.mail.transport import RecordingMailer, SendResult
from pepflow.sample_data import load_sample_data
from pepflow.store import RecordsStore
from pepflow.store.migrate import migrate
from workers import build_routers

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ClockedRecordingMailer(RecordingMailer):
    """A RecordingMailer that also notes when (by the simulation clock) each mail went:
    ``sent_at[i]`` is the instant ``sent[i]`` was handed over."""

    clock: SimulationClock | None = None
    sent_at: list[datetime] = field(default_factory=list)

    async def send(self, mail: OutgoingMail) -> SendResult:
        result = await super().send(mail)
        self.sent_at.append(self.clock.now())
        return result


class PepWorld:
    """The whole embedded product on a simulation clock with a recording mailer."""

    def __init__(self, url: str, start: datetime, tmp: Path) -> None:
        self.url = url
        self.tmp = tmp
        self.clock = SimulationClock(start)
        migrate(url)
        self.store = RecordsStore(url, self.clock)
        load_sample_data(self.store)
        self.mailer = ClockedRecordingMailer(clock=self.clock)
        self._mail_seen = 0
        self._open()
        self.engine.deploy(sorted((ROOT / "bpmn").glob("*.bpmn")) + sorted((ROOT / "forms").glob("*.form")))

    def _open(self) -> None:
        self.casework = Casework(self.store, self.mailer, self.clock, CaseworkConfig(documents_dir=self.tmp / "documents", final_pdf=False))
        self.engine = Engine(self.url, self.clock)
        self.engine.add_completion_check(TaskChecks(self.casework).check)
        self.runtime = EmbeddedRuntime(self.engine, build_routers(self.casework))
        self.handover = Handover(self.store, self.engine, self.clock)
        self.runtime.tickers.append(self.handover.tick)
        self.events = CouncilEvents(self.store, self.engine, self.casework, self.clock)

    def new_mail(self) -> list[tuple[datetime, OutgoingMail]]:
        """(when, mail) for every mail sent since the last call."""
        fresh = list(zip(self.mailer.sent_at[self._mail_seen:], self.mailer.sent[self._mail_seen:]))
        self._mail_seen = len(self.mailer.sent)
        return fresh

    def restart(self) -> None:
        """Stop the product and start it again on the same database (the save/restore
        round-trip): nothing in memory survives but the mail already sent."""
        now = self.clock.now()
        self.close()
        self.clock = SimulationClock(now)
        self.mailer.clock = self.clock
        self.store = RecordsStore(self.url, self.clock)
        self._open()

    def close(self) -> None:
        self.engine.close()
        self.store.close()


@pytest.fixture
def world_factory(tmp_path):
    worlds = []

    def make(url: str, start: datetime) -> PepWorld:
        world = PepWorld(url, start, tmp_path)
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        world.close()


T0 = datetime(2026, 9, 14, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def make_world(database_url, world_factory):
    """A world on this test's database; afterwards, no mail of any world named a child."""
    made: list[PepWorld] = []

    def make(start_at: datetime) -> PepWorld:
        world = world_factory(database_url, start_at)
        made.append(world)
        return world

    yield make
    for world in made:
        names = {n for c in world.store.children() for n in (c.given_name, c.family_name)}
        for mail in world.mailer.sent:
            assert re.search(r"PEP-C-\d{4}-\d{4}-(AUT|SPR|SUM)", mail.subject), mail.subject
            for text in (mail.subject, mail.text_body, mail.html_body or "", *[a.filename for a in mail.attachments]):
                assert not [n for n in names if n in text], f"a child's name in mail {mail.subject!r}"



