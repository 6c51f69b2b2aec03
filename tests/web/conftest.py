"""A whole embedded product on a simulation clock, with the web app over it."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pepflow.casework import Casework, CaseworkConfig, local_date
from pepflow.handover import Handover
from pepflow.clock import SimulationClock
from pepflow.engine.runtime import Engine
from pepflow.engine.worker import EmbeddedRuntime
from pepflow.task_checks import TaskChecks
from pepflow.mail.transport import RecordingMailer
from pepflow.sample_data import load_sample_data
from pepflow.store import RecordsStore
from pepflow.store.migrate import migrate
from pepflow.web import WebBackend, WebSettings, create_app
from pepflow.web.accounts import Accounts
from pepflow.web.seed import seed_sample_accounts
from workers import build_routers

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 9, 14, 8, 0, tzinfo=timezone.utc)
PASSWORD = "correct-horse-battery-staple"
SECRET = "test-secret-key-that-is-long-enough-0123456789"


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives Debian's Chromium with Playwright")


class WebWorld:
    def __init__(self, tmp: Path, start: datetime = T0) -> None:
        self.url = f"sqlite:///{tmp / 'pep.sqlite3'}"
        self.clock = SimulationClock(start)
        migrate(self.url)
        self.store = RecordsStore(self.url, self.clock)
        load_sample_data(self.store)
        self.mailer = RecordingMailer()
        self.casework = Casework(self.store, self.mailer, self.clock, CaseworkConfig(documents_dir=tmp / "documents", final_pdf=False))
        self.engine = Engine(self.url, self.clock)
        self.engine.deploy(sorted((ROOT / "bpmn").glob("*.bpmn")) + sorted((ROOT / "forms").glob("*.form")))
        self.engine.add_completion_check(TaskChecks(self.casework).check)
        self.runtime = EmbeddedRuntime(self.engine, build_routers(self.casework))
        self.handover = Handover(self.store, self.engine, self.clock)
        self.runtime.tickers.append(self.handover.tick)
        self.accounts = Accounts(self.url, self.clock)
        seed_sample_accounts(self.accounts, self.store, PASSWORD)
        self.backend = WebBackend(self.engine, self.store, self.casework, self.clock, self.accounts, self.url, tmp, self.runtime)
        self.app = create_app(self.backend, WebSettings(secret_key=SECRET, _env_file=None))

    def idle(self) -> None:
        asyncio.run(self.runtime.run_until_idle())

    def child_looked_after(self, child_id: str = "C-0001", on: str = "2026-09-14") -> None:
        from datetime import date

        from pepflow.events import CouncilEvents

        CouncilEvents(self.store, self.engine, self.casework, self.clock).looked_after(
            child_id, date.fromisoformat(on), actor="test")
        self.idle()

    def close(self) -> None:
        self.backend.close()
        self.accounts.close()
        self.engine.close()
        self.store.close()


@pytest.fixture
def world(tmp_path):
    w = WebWorld(tmp_path)
    yield w
    w.close()


def sign_in(client: TestClient, username: str, password: str = PASSWORD):
    page = client.get("/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.post("/sign-in", data={"username": username, "password": password, "csrf_token": token, "next": "/"},
                           follow_redirects=False)
    return response


def csrf_of(client: TestClient) -> str:
    page = client.get("/tasks")
    match = re.search(r'name="csrf-token" content="([^"]*)"', page.text)
    return match.group(1) if match else ""


class Session:
    """A signed-in TestClient that sends the CSRF header."""

    def __init__(self, app, username: str) -> None:
        self.client = TestClient(app, base_url="http://localhost")
        response = sign_in(self.client, username)
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/"
        page = self.client.get("/api/v1/openapi.json")  # any page would do; the token is in the cookie
        assert page.status_code == 200
        from pepflow.web.security import SESSION_COOKIE

        data = app.state.web.sessions.read(self.client.cookies.get(SESSION_COOKIE))
        self.csrf = data["c"]

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def post(self, url, **kw):
        return self.client.post(url, headers={"X-CSRF-Token": self.csrf}, **kw)

    def put(self, url, **kw):
        return self.client.put(url, headers={"X-CSRF-Token": self.csrf}, **kw)

    def delete(self, url, **kw):
        return self.client.delete(url, headers={"X-CSRF-Token": self.csrf}, **kw)

    def close(self):
        self.client.close()


@pytest.fixture
def session_for(world):
    sessions = []

    def make(username: str) -> Session:
        s = Session(world.app, username)
        sessions.append(s)
        return s

    yield make
    for s in sessions:
        s.close()


def drive_until(world: WebWorld, element_id: str, child_id: str = "C-0001", max_days: int = 120):
    """Play every role (pepflow.roleplay) and the schools (pepflow.demo) day by day
    until a task ``element_id`` for ``child_id`` is open; return it."""
    from datetime import timedelta

    from pepflow.calendar import WorkingDays
    from pepflow.casework import local_date
    from pepflow.demo import SimulatedSchools
    from pepflow.roleplay import RolePlayer

    roles = RolePlayer(world.store, return_pep_at_first_check=False)

    class _App:  # what SimulatedSchools uses of an App
        store, casework, engine, clock = world.store, world.casework, world.engine, world.clock

    schools = SimulatedSchools(_App)
    schools.returns = lambda pep_id: True
    working = WorkingDays()
    for _ in range(max_days):
        world.idle()
        day = local_date(world.clock.now())
        for task in world.engine.user_tasks():
            if task.element_id == element_id and task.variables.get("childId") == child_id:
                return task
        if working.is_working_day(day):
            for task in world.engine.user_tasks():
                world.engine.complete_user_task(task.user_task_key, roles.variables_for(task, world.clock.now()),
                                                actor=roles.actor_for(task))
                world.idle()
            asyncio.run(schools.work(day, lambda *a: None))
        asyncio.run(world.runtime.advance(timedelta(days=1)))
    raise AssertionError(f"no {element_id} for {child_id} within {max_days} days")
