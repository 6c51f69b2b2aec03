"""What every browser test shares: Debian's Chromium (never a downloaded browser), the
web app and the process runtime served live on one event loop in a thread, signing in,
and the check each page state of a journey gets (screenshots at 1366 and 390 px, no
sideways scrolling at 390 px, axe-core with no violations)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .conftest import PASSWORD, WebWorld

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
NO_CHROMIUM = "Debian's Chromium (/usr/bin/chromium) is not installed: apt-get install chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(world: WebWorld, *, close: bool = True) -> Iterator[str]:
    """The world's web app and its workers and timers, live; yields the base address."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(world.app, host="127.0.0.1", port=port, log_level="warning"))
    stop = asyncio.Event()

    async def main():
        workers = asyncio.create_task(world.runtime.serve(stop, max_idle=0.2))
        await server.serve()
        stop.set()
        await workers

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        if close:
            world.close()


@contextmanager
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/**")


class Visit:
    """A signed-in page, and the check every page state of a journey gets.

    ``wide`` is the element whose width must fit 390 px: the whole document, or the
    page's main content where the journey checks only that."""

    def __init__(self, browser, base: str, username: str, shots: Path, *, wide: str = "document.documentElement") -> None:
        self.context = browser.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True)
        self.page = self.context.new_page()
        self.base, self.shots, self.errors, self.wide = base, shots, [], wide
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        sign_in(self.page, base, username)
        shots.mkdir(parents=True, exist_ok=True)

    def go(self, path: str) -> None:
        self.page.goto(f"{self.base}{path}")

    def check(self, name: str) -> None:
        """Screenshots at 1366 and 390 px, no sideways scrolling at 390, no axe violations."""
        page = self.page
        page.set_viewport_size({"width": 1366, "height": 900})
        page.screenshot(path=str(self.shots / f"{name}-1366.png"), full_page=True)
        self._axe(name, 1366)
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(100)
        page.screenshot(path=str(self.shots / f"{name}-390.png"), full_page=True)
        width = page.evaluate(f"() => {self.wide}.scrollWidth")
        assert width <= 390, f"{name}: {self.wide} is {width} px wide at 390 px"
        self._axe(name, 390)
        page.set_viewport_size({"width": 1366, "height": 900})
        assert not self.errors, self.errors

    def _axe(self, name: str, width: int) -> None:
        if not self.page.evaluate("() => typeof window.axe !== 'undefined'"):
            # evaluated through the DevTools protocol: the app's CSP (script-src 'self')
            # stays on, as it is for users, and still blocks any inline script of the page
            self.page.evaluate("() => {" + AXE.read_text() + "\n}")
        result = self.page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                                    ".map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))")
        assert result == [], f"{name} at {width} px: " + json.dumps(result, indent=1)

    def close(self) -> None:
        self.context.close()
