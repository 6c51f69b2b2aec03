from datetime import datetime, timezone
from pathlib import Path

import pytest

from pepflow.casework import Casework, CaseworkConfig
from pepflow.clock import SimulationClock
from pepflow.engine.runtime import Engine
from pepflow.engine.worker import EmbeddedRuntime
from pepflow.mail.transport import RecordingMailer
from pepflow.sample_data import load_sample_data
from pepflow.store import RecordsStore
from pepflow.store.migrate import migrate
from workers import build_routers

ROOT = Path(__file__).resolve().parents[2]


class PepWorld:
    """The whole embedded product on a simulation clock with a recording mailer."""

    def __init__(self, url: str, start: datetime, tmp: Path) -> None:
        self.url = url
        self.clock = SimulationClock(start)
        migrate(url)
        self.store = RecordsStore(url, self.clock)
        load_sample_data(self.store)
        self.mailer = RecordingMailer()
        self.casework = Casework(self.store, self.mailer, self.clock, CaseworkConfig(documents_dir=tmp / "documents"))
        self.engine = Engine(url, self.clock)
        self.engine.deploy(sorted((ROOT / "bpmn").glob("*.bpmn")) + sorted((ROOT / "forms").glob("*.form")))
        self.runtime = EmbeddedRuntime(self.engine, build_routers(self.casework))

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
