"""Browser tests: the real server, a real Chromium, the test database with a small feed.

What only a browser shows: the pages render without an exception or an error banner, deck.gl
really draws the maps (WebGL in software), a click on a hexagon selects it, the wall screen
rotates, and a link's filters survive a page switch in the address bar.

- ``e2e_database``: the test database (``PANTAU_TEST_DB``; ``pantau_test_e2e`` keeps these
  runs apart from other checkouts on the same server) with the BPS 2020 boundaries and four
  months of generated JAKI and Qlue reports (2024-01..2024-04, about 60 a day), ingested the
  way ``pipelines ingest`` does (which refreshes the marts). Emptied again at the end, so the
  integration tests that run after this package find no reports of ours.
- ``server``: ``python -m streamlit run dashboard/app.py`` as a subprocess on a free port of
  127.0.0.1, on that database, stopped at the end. Its log is kept in ``test-artifacts/e2e``.
- ``browser``: Debian's Chromium (``/usr/bin/chromium``, apt package ``chromium``) driven by
  Playwright; ``playwright install`` cannot download its own browsers here.
- ``tab``: a fresh browser context (1440x900) per test that records console errors and
  uncaught page errors; ``tab.assert_no_errors()`` checks them against :data:`HARMLESS`.

Without ``/usr/bin/chromium`` (a developer machine without the package) ``test_browser`` is
skipped with the reason; under CI (``CI`` set) the ``browser`` fixture fails instead, so a
missing install step cannot turn the browser tests into silent skips.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    ViewportSize,
    sync_playwright,
)

from geo import db
from tests.conftest import clear_reports, ensure_bps2020, ingest_generated
from tests.e2e.browser import CHROMIUM as BROWSER_BINARY
from tests.e2e.browser import CHROMIUM_FLAGS, IDLE_JS

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "e2e"
CHROMIUM = Path(BROWSER_BINARY)
VIEWPORT: ViewportSize = {"width": 1440, "height": 900}
START, END, PER_DAY, SEED = date(2024, 1, 1), date(2024, 4, 30), 60.0, 11
#: The first run imports geopandas, pydeck and the analytics stack.
SERVER_START_TIMEOUT_S = 90

#: Console errors that are not the app's fault, each with why it is harmless.
HARMLESS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        # Opened directly on a page's path (/sla), Streamlit's frontend first looks for the
        # server under that path (/sla/_stcore/health, /sla/_stcore/host-config), gets 404 and
        # then finds it at the root: streamlit/streamlit#7074, open since 2023.
        re.compile(r"^/[a-z]+/_stcore/(health|host-config)$"),
        "streamlit#7074: health/host-config probed under the page's path first",
    ),
)

# -- the database -------------------------------------------------------------------------------
#: What the reports of a run fill (emptied before and after, as the analytics tests do).


@pytest.fixture(scope="package")
def e2e_database(
    admin_url: str, writer_url: str, bps2020_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The admin URL of the test database, with boundaries and four months of reports."""
    ensure_bps2020(writer_url, bps2020_path)
    clear_reports(writer_url)
    ingest_generated(
        writer_url, tmp_path_factory.mktemp("e2e-feeds"), min_inserted=301, start=START,
        end=END, seed=SEED, per_day=PER_DAY, defects=0.02, boundaries=bps2020_path,
    )  # fmt: skip
    yield admin_url
    clear_reports(writer_url)


@pytest.fixture(scope="package")
def busiest_kelurahan(e2e_database: str) -> str:
    """The code of the kelurahan with the most reports (a page on it has data)."""
    with db.connect(e2e_database) as conn:
        row = conn.execute(
            "SELECT kelurahan_code FROM api.reports WHERE kelurahan_code IS NOT NULL "
            "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
        ).fetchone()
    assert row is not None
    return str(row[0])


# -- the server ---------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="package")
def server(e2e_database: str) -> Iterator[str]:
    """The dashboard served by ``streamlit run`` on the test database; its base URL."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": e2e_database}
    env.pop("PANTAU_WRITER_URL", None)
    env.pop("PANTAU_READER_URL", None)
    log_path = ARTIFACTS / "server.log"
    command = [
        sys.executable, "-m", "streamlit", "run", "dashboard/app.py",
        "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not _healthy(base_url):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
                pytest.fail(f"streamlit did not come up on {base_url}:\n{tail}")
            time.sleep(0.3)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


# -- the browser --------------------------------------------------------------------------------
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, through Playwright."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: .ci/run installs Debian's chromium for these tests.")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_FLAGS), headless=True
        )
        yield chromium
        chromium.close()


@dataclass
class Tab:
    """One page of a fresh browser context, with what its console said."""

    page: Page
    base_url: str
    errors: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def record_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        text = message.text
        url = message.location.get("url", "")
        path = urllib.parse.urlsplit(url).path
        for pattern, why in HARMLESS:
            if pattern.search(path):
                self.ignored.append(f"{text} [{url}] ({why})")
                return
        self.errors.append(f"console error: {text} [{url}]")

    def record_page_error(self, error: Error) -> None:
        self.errors.append(f"uncaught page error: {error}")

    def assert_no_errors(self) -> None:
        assert not self.errors, "\n".join(self.errors)

    def open(self, path: str) -> None:
        """Go to ``path`` of the server and wait until the app is idle."""
        self.page.goto(self.base_url + path)
        self.wait_idle()

    def wait_idle(self, timeout_ms: float = 60_000) -> None:
        """Wait until the script has finished and stayed finished for half a second."""
        self.page.wait_for_function(IDLE_JS, timeout=timeout_ms, polling=100)

    def screenshot(self, name: str) -> Path:
        """Save what the viewport shows as ``test-artifacts/e2e/<name>.png``."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=path)
        return path


@pytest.fixture
def open_tab(browser: Browser, server: str) -> Iterator[Callable[..., Tab]]:
    """Open a page in a new context (``viewport``: 1440x900 unless given); closed at the end."""
    contexts: list[BrowserContext] = []

    def opener(viewport: ViewportSize = VIEWPORT) -> Tab:
        context = browser.new_context(viewport=viewport)
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = context.new_page()
        opened = Tab(page, server)
        page.on("console", opened.record_console)
        page.on("pageerror", opened.record_page_error)
        return opened

    yield opener
    for context in contexts:
        context.close()


@pytest.fixture
def tab(open_tab: Callable[..., Tab]) -> Tab:
    """A page (1440x900) recording console and page errors."""
    return open_tab()
