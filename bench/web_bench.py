"""Web benchmark: task list and dashboard p95 under load, 2,000 children, a year of history.

Run from the project's environment: ``.venv/bin/python bench/web_bench.py``.
Loads the sample council, adds 2,000 fictional children (each with a care episode,
an autumn and a spring PEP made final and a summer PEP in progress, all audited),
starts each child's PEP process on the embedded engine and moves the simulation
clock until every child has an open task, then serves the real web app with
uvicorn on 127.0.0.1 and sends a bounded number of requests from concurrent
signed-in clients (loopback only). Prints each figure as ``name: value unit``.
"""

from __future__ import annotations

import asyncio
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pepflow.casework import Casework, CaseworkConfig, at_local  # noqa: E402
from pepflow.clock import SimulationClock  # noqa: E402
from pepflow.domain.enums import PepStatus  # noqa: E402
from pepflow.engine.runtime import Engine  # noqa: E402
from pepflow.engine.worker import EmbeddedRuntime  # noqa: E402
from pepflow.mail.transport import RecordingMailer  # noqa: E402
from pepflow.sample_data import load_sample_data  # noqa: E402
from pepflow.store import RecordsStore  # noqa: E402
from pepflow.store.migrate import migrate  # noqa: E402
from pepflow.web import WebBackend, WebSettings, create_app  # noqa: E402
from pepflow.web.accounts import Accounts  # noqa: E402
from pepflow.web.seed import seed_sample_accounts  # noqa: E402
from workers import build_routers  # noqa: E402

CHILDREN = 2000
REQUESTS_PER_ROUTE = 600
CONCURRENCY = 8
PASSWORD = "bench-password-not-for-production"
# In the Easter holidays: every child's next PEP is the summer one, due soon enough that the
# social workers' "complete the PEP form" tasks are open (a realistic start-of-term queue).
START = datetime(2027, 4, 6, 8, 0, tzinfo=timezone.utc)
SETTINGS = ["ES-0001", "ES-0002", "ES-0004"]
WORKERS_BY_LOCALITY = {"north": "ST-0001", "south": "ST-0002"}


def load_council(store: RecordsStore, rng: random.Random) -> list[str]:
    ids = []
    for n in range(CHILDREN):
        child_id = f"C-{1000 + n:04d}"
        locality = "north" if n % 2 else "south"
        born = date(2011, 9, 1) + timedelta(days=rng.randrange(0, 6 * 365))
        with store.atomic():
            store.save_child(
                child_id, given_name=f"Bench{n}", family_name="Fictional", date_of_birth=born,
                legal_status="Care order", locality=locality, social_worker_id=WORKERS_BY_LOCALITY[locality],
                actor="bench",
            )
            store.enrol(child_id, SETTINGS[n % len(SETTINGS)], date(2026, 9, 3), actor="bench")
            # the worker is an allocation (authorisation and assignees read it at each request)
            store.allocations.allocate(child_id, WORKERS_BY_LOCALITY[locality], "social-worker",
                                       starts_on=date(2025, 1, 6), actor="bench")
            episode = store.open_care_episode(child_id, date(2025, 1, 6), actor="bench")
            for term, month, final in (("autumn", 11, True), ("spring", 2, True)):
                year = 2026 if term == "autumn" else 2027
                pep = store.create_pep(
                    child_id, 2026, term, actor="bench", on=date(year, month, 2), care_episode_id=episode.id,
                    meeting_at=at_local(date(year, month, 10), 10),
                )
                if final:
                    for status in (PepStatus.FORM_SENT, PepStatus.MEETING_HELD, PepStatus.TYPED_UP, PepStatus.FINAL):
                        store.update_pep(pep.id, actor="bench", status=status)
        ids.append(child_id)
    return ids


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def sign_in(client: httpx.AsyncClient, username: str) -> None:
    page = await client.get("/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = await client.post("/sign-in", data={"username": username, "password": PASSWORD, "csrf_token": token, "next": "/"})
    if response.status_code not in (200, 303):
        raise RuntimeError(f"sign-in as {username} failed: {response.status_code}")


async def hammer(base: str, username: str, url: str, count: int) -> list[float]:
    latencies: list[float] = []
    clients = [httpx.AsyncClient(base_url=base, follow_redirects=True, timeout=30) for _ in range(CONCURRENCY)]
    try:
        for client in clients:
            await sign_in(client, username)
        per_client = count // CONCURRENCY

        async def run(client: httpx.AsyncClient) -> None:
            for _ in range(per_client):
                began = time.perf_counter()
                response = await client.get(url)
                latencies.append((time.perf_counter() - began) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"{url} as {username}: {response.status_code} {response.text[:200]}")

        await asyncio.gather(*(run(c) for c in clients))
    finally:
        for client in clients:
            await client.aclose()
    return latencies


def main() -> None:
    rng = random.Random(2026)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        url = f"sqlite:///{tmp / 'pep.sqlite3'}"
        clock = SimulationClock(START)
        migrate(url)
        store = RecordsStore(url, clock)
        load_sample_data(store, actor="bench")
        began = time.perf_counter()
        children = load_council(store, rng)
        print(f"load_children: {CHILDREN} children", flush=True)
        print(f"load_time: {time.perf_counter() - began:.1f} s", flush=True)

        casework = Casework(store, RecordingMailer(), clock, CaseworkConfig(documents_dir=tmp / "documents"))
        engine = Engine(url, clock)
        engine.deploy(sorted((ROOT / "bpmn").glob("*.bpmn")) + sorted((ROOT / "forms").glob("*.form")))
        runtime = EmbeddedRuntime(engine, build_routers(casework))
        began = time.perf_counter()
        for child_id in children:
            engine.publish_message("child-already-in-care", child_id, {"childId": child_id})
        asyncio.run(runtime.run_until_idle())
        asyncio.run(runtime.advance(timedelta(days=10)))
        open_tasks = len(engine.user_tasks())
        print(f"instances: {len(engine.instances())} instances", flush=True)
        print(f"open_user_tasks: {open_tasks} tasks", flush=True)
        print(f"start_time: {time.perf_counter() - began:.1f} s", flush=True)

        accounts = Accounts(url, clock)
        seed_sample_accounts(accounts, store, PASSWORD)
        backend = WebBackend(engine, store, casework, clock, accounts, url, tmp, runtime)
        app = create_app(backend, WebSettings(secret_key="bench-secret-key-that-is-long-enough-0123456789", _env_file=None))
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        try:
            routes = [
                ("task_list_mine", "st-0001", "/api/v1/user-tasks?queue=mine"),
                ("task_list_team", "st-0011", "/api/v1/user-tasks?queue=team"),
                ("task_list_all_overdue", "st-0020", "/api/v1/user-tasks?queue=all&overdue=true"),
                ("dashboard", "st-0020", "/api/v1/dashboard"),
            ]
            everything: list[float] = []
            for name, username, route in routes:
                latencies = asyncio.run(hammer(base, username, route, REQUESTS_PER_ROUTE))
                everything += latencies
                print(f"{name}_p50: {statistics.median(latencies):.1f} ms", flush=True)
                print(f"{name}_p95: {percentile(latencies, 0.95):.1f} ms", flush=True)
            print(f"requests: {len(everything)} requests", flush=True)
            print(f"concurrency: {CONCURRENCY} clients", flush=True)
            print(f"overall_p95: {percentile(everything, 0.95):.1f} ms", flush=True)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            backend.close()
            accounts.close()
            engine.close()
            store.close()


if __name__ == "__main__":
    main()
