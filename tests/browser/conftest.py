"""A live server on a fresh seeded SQLite database, and Debian's Chromium driven by Playwright.

The tests skip when /usr/bin/chromium is missing, unless CI=true or LEDGER_REQUIRE_BROWSER=1,
where they fail instead. Screenshots go to test-artifacts/screenshots (printed at the start).
"""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ops.helpers import live_app

ROOT = Path(__file__).resolve().parent.parent.parent
CHROMIUM = Path(os.environ.get("LEDGER_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
WIDTHS = (1280, 390)


def _browser_required() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("LEDGER_REQUIRE_BROWSER") == "1"


def _skip_or_fail(reason: str) -> None:
    if _browser_required():
        pytest.fail(reason + " (required because CI=true or LEDGER_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


class LiveServer:
    """A uvicorn process serving the app on a seeded database, plus helpers around it."""

    def __init__(self, url: str, db_url: str, env: dict[str, str]) -> None:
        self.url = url
        self.db_url = db_url
        self.env = env
        self.worker: subprocess.Popen[bytes] | None = None

    def token(self, name: str, scopes: list[str]) -> str:
        """Create an API token directly in the database."""
        from sqlmodel import Session

        from app.auth.service import create_token
        from app.core.db import make_engine

        engine = make_engine(self.db_url)
        with Session(engine) as session:
            _row, plaintext = create_token(session, name=name, scopes=scopes)
        engine.dispose()
        return plaintext

    def start_worker(self) -> None:
        """Start a `ledger worker` process that executes queued runs."""
        if self.worker is None:
            self.worker = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from app.cli import main; main()",
                    "worker",
                    "--poll",
                    "0.2",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    def stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.terminate()
            try:
                self.worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.worker.kill()
            self.worker = None


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        _skip_or_fail(
            f"{CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium)"
        )
    if not (ROOT / "static" / "vendor" / "htmx.min.js").exists():
        _skip_or_fail("static/vendor/ is empty: run `npm ci` to install htmx and Chart.js")
    return CHROMIUM


@pytest.fixture(scope="session")
def live_server(
    chromium_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    from tests.conftest import migrate_and_seed

    db_path = tmp_path_factory.mktemp("browser") / "ledger.db"
    db_url = f"sqlite:///{db_path}"
    previous = os.environ.get("LEDGER_DATABASE_URL")
    migrate_and_seed(db_url)
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": db_url,
        # Runs wait in the queue until a test starts a worker, so their progress is observable.
        "LEDGER_INPROCESS_WORKER": "false",
        "LEDGER_LOG_LEVEL": "WARNING",
    }
    # Generous: on a loaded machine a cold interpreter takes a while to import the app.
    with live_app(env, "/api/v1/capabilities", timeout=120) as url:
        server = LiveServer(url, db_url, env)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        print(f"\nBrowser-test screenshots: {SCREENSHOTS}")
        yield server
        server.stop_worker()
    if previous is not None:
        os.environ["LEDGER_DATABASE_URL"] = previous


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(chromium_path), args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


class ConsoleLog:
    """Console errors, uncaught page errors and failed requests seen by a page."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def attach(self, page: Any) -> None:
        page.on(
            "console",
            lambda m: (
                self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None
            ),
        )
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("requestfailed", self._request_failed)

    def _request_failed(self, request: Any) -> None:
        # A navigation cancels what the old page was still fetching (the favicon, a poll):
        # Chromium reports net::ERR_ABORTED for those, which is not a fault of the page.
        if "ERR_ABORTED" in (request.failure or ""):
            return
        self.errors.append(f"requestfailed: {request.url} ({request.failure})")


@pytest.fixture
def context(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    ctx = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def console() -> ConsoleLog:
    return ConsoleLog()


@pytest.fixture
def page(context: Any, console: ConsoleLog) -> Iterator[Any]:
    tab = context.new_page()
    console.attach(tab)
    yield tab
    assert not console.errors, "browser console errors:\n" + "\n".join(console.errors)


def screenshot(page: Any, name: str) -> None:
    """Save full-page screenshots of the current page at desktop and phone widths."""
    original = page.viewport_size
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(150)  # let charts re-layout at the new width
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size(original)


def sign_in(page: Any, token: str) -> None:
    """Sign in through the form with an API token."""
    page.goto("/signin")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/signin" not in url)
