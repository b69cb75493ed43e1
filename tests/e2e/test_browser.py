"""The dashboard in a real browser (Debian's Chromium through Playwright), on the real server.

1. Every page loads: its header, no Streamlit exception, no error banner (the database
   banner among them), no console error but the known harmless ones (``conftest.HARMLESS``).
2. deck.gl draws the maps on ``/`` and ``/hotspots``: the canvas exists and is not blank.
3. A click on a drawn hexagon of ``/hotspots`` selects it: the page then shows "Sel <id>"
   with its details, and the id is the cell under the pointer (the click's pixel projected to
   latitude and longitude through the map's initial view).
4. Wall mode (``?mode=wall&rotate=10``) has no sidebar and moves to the next view by itself.
5. A link's filters survive the browser's page switch: ``/sla?area=3171&level=kecamatan`` and
   then the sidebar's link to ``/hotspots`` keep Kota Jakarta Selatan, in the page and the URL.
6. ``scripts/screenshots.py`` works against the server (two of its pages, to keep it short).

Each page's screenshot is written to ``test-artifacts/e2e/`` on every run.
"""

from __future__ import annotations

import io
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import h3
import numpy as np
import pytest
from PIL import Image

from dashboard.components.hexmap import CITY_ZOOM
from dashboard.components.labels import GI_BIN_LABELS
from dashboard.components.layers import JAKARTA_LATITUDE, JAKARTA_LONGITUDE
from tests.e2e.conftest import ARTIFACTS, CHROMIUM, REPO_ROOT, Tab

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason=f"{CHROMIUM} not found: the browser tests need Debian's chromium "
        "(apt-get install chromium); CI installs it (.ci/run).",
    ),
]

DECK_CANVAS = '[data-testid="stDeckGlJsonChart"] canvas'
#: Page -> (path, the header it must show); ``{kelurahan}`` is the busiest kelurahan's code.
PAGES = {
    "overview": ("/", r"^Ringkasan — Seluruh DKI Jakarta$"),
    "hotspots": ("/hotspots", r"^Titik panas — Seluruh DKI Jakarta$"),
    "trends": ("/trends", r"^Tren — Seluruh DKI Jakarta$"),
    "sla": ("/sla", r"^SLA — Seluruh DKI Jakarta$"),
    "area": ("/area?area={kelurahan}", r"^Kota .+ › .+ › Kel\. .+$"),
    "export": ("/export", r"^Ekspor$"),
}
DATABASE_DOWN = "Basis data tidak dapat dihubungi"
WALL_ROTATE_S = 10


def header_text(tab: Tab) -> str:
    """The page's header (``st.header`` is the first h2 of the main area)."""
    return tab.page.locator('[data-testid="stMain"] h2').first.inner_text().strip()


def assert_page_ok(tab: Tab) -> None:
    """No exception element, no error alert, no console error but the harmless ones."""
    exceptions = tab.page.locator('[data-testid="stException"]')
    assert exceptions.count() == 0, exceptions.first.inner_text()
    errors = tab.page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
    assert not [e for e in errors if DATABASE_DOWN in e], errors
    assert not errors, errors
    tab.assert_no_errors()


def canvas_pixels(tab: Tab) -> np.ndarray:
    """The map canvas as an RGB array (a screenshot of the element: what is on screen)."""
    png = tab.page.locator(DECK_CANVAS).first.screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def drawn_share(pixels: np.ndarray) -> float:
    """The share of pixels that differ from the canvas's most common colour."""
    flat = pixels.reshape(-1, 3)
    _, counts = np.unique(flat, axis=0, return_counts=True)
    return 1.0 - counts.max() / len(flat)


def wait_for_map(tab: Tab, timeout_s: float = 20.0) -> np.ndarray:
    """The canvas once deck.gl has drawn something on it (fails after ``timeout_s``)."""
    tab.page.locator(DECK_CANVAS).first.wait_for(state="visible")
    deadline = time.monotonic() + timeout_s
    while True:
        pixels = canvas_pixels(tab)
        if drawn_share(pixels) > 0.02 or time.monotonic() > deadline:
            return pixels
        time.sleep(0.3)


# -- 1. every page loads ------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(PAGES))
def test_page_loads_without_errors(tab: Tab, busiest_kelurahan: str, name: str) -> None:
    path, header = PAGES[name]
    tab.open(path.format(kelurahan=busiest_kelurahan))
    tab.screenshot(name)
    assert re.match(header, header_text(tab)), header_text(tab)
    assert_page_ok(tab)


# -- 2. the maps draw ---------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/hotspots"])
def test_map_canvas_draws(tab: Tab, path: str) -> None:
    tab.open(path)
    pixels = wait_for_map(tab)
    height, width, _ = pixels.shape
    assert width > 300 and height > 300, (width, height)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 10, "the map has almost no colours"
    assert drawn_share(pixels) > 0.02, f"the map canvas of {path} is blank"
    assert_page_ok(tab)


# -- 3. a click on a hexagon selects it ---------------------------------------------------------
def interior_pixel(mask: np.ndarray, margin: int = 4) -> tuple[int, int]:
    """A pixel (x, y) of ``mask`` whose whole (2*margin+1)^2 neighbourhood is in ``mask``."""
    size = 2 * margin + 1
    padded = np.pad(mask.astype(np.int32), ((1, 0), (1, 0)))
    sums = padded.cumsum(0).cumsum(1)
    window = sums[size:, size:] - sums[:-size, size:] - sums[size:, :-size] + sums[:-size, :-size]
    ys, xs = np.nonzero(window == size * size)
    assert len(ys), "no hexagon drawn in a significant colour"
    middle = len(ys) // 2  # any of them; the middle one of the scan is away from the edges
    return int(xs[middle]) + margin, int(ys[middle]) + margin


def pixel_to_latlng(x: float, y: float, width: float, height: float) -> tuple[float, float]:
    """Latitude and longitude at a canvas pixel, for the maps' initial view (Web Mercator)."""
    world = 512 * 2**CITY_ZOOM  # deck.gl: the world is 512 px wide at zoom 0
    cx = (JAKARTA_LONGITUDE + 180) / 360 * world
    phi = math.radians(JAKARTA_LATITUDE)
    cy = (1 - math.log(math.tan(math.pi / 4 + phi / 2)) / math.pi) / 2 * world
    wx, wy = cx + (x - width / 2), cy + (y - height / 2)
    lng = wx / world * 360 - 180
    lat = math.degrees(2 * math.atan(math.exp(math.pi * (1 - 2 * wy / world))) - math.pi / 2)
    return lat, lng


def test_click_on_hexagon_selects_it(tab: Tab) -> None:
    tab.open("/hotspots")
    pixels = wait_for_map(tab).astype(int)
    # Gi* view: significant cells are saturated reds and blues; "not significant" cells, the
    # kelurahan outlines and the background are greys.
    saturated = (pixels.max(axis=2) - pixels.min(axis=2)) > 80
    x, y = interior_pixel(saturated)
    box = tab.page.locator(DECK_CANVAS).first.bounding_box()
    assert box is not None
    tab.page.mouse.click(box["x"] + x, box["y"] + y)

    heading = tab.page.get_by_role("heading", name=re.compile(r"^Sel "))
    heading.wait_for()
    tab.wait_idle()
    tab.screenshot("hotspots-selected")
    cell = heading.inner_text().strip().removeprefix("Sel ")
    assert h3.is_valid_cell(cell), cell
    assert h3.get_resolution(cell) == 8  # the page's default resolution
    lat, lng = pixel_to_latlng(x, y, box["width"], box["height"])
    under_pointer = h3.latlng_to_cell(lat, lng, 8)
    assert h3.grid_distance(cell, under_pointer) <= 1, (cell, under_pointer, lat, lng)
    metrics = dict(
        zip(
            tab.page.locator('[data-testid="stMetricLabel"]').all_inner_texts(),
            tab.page.locator('[data-testid="stMetricValue"]').all_inner_texts(),
            strict=True,
        )
    )
    assert int(metrics["Laporan"].replace(".", "")) > 0, metrics
    assert metrics["Kelas"] != GI_BIN_LABELS[0], "a saturated colour was clicked: significant"
    assert tab.page.locator('[data-testid="stDataFrame"]').count() >= 1  # categories of the cell
    assert_page_ok(tab)


# -- 4. wall mode -------------------------------------------------------------------------------
def test_wall_mode_rotates_without_sidebar(open_tab: Callable[..., Tab]) -> None:
    tab = open_tab(viewport={"width": 1920, "height": 1080})
    tab.open(f"/?mode=wall&rotate={WALL_ROTATE_S}")
    title = tab.page.locator('[data-testid="stMain"] h1').first
    first = title.inner_text().strip()
    shown_at = time.monotonic()
    assert first.startswith("Pantau · "), first
    tab.screenshot("wall-1")
    assert not tab.page.locator('[data-testid="stSidebar"]').is_visible()
    assert not tab.page.locator('[data-testid="stSidebarNav"]').is_visible()

    tab.page.wait_for_function(
        "([selector, first]) => { const t = document.querySelector(selector); "
        "return t !== null && t.innerText.trim() !== first; }",
        arg=['[data-testid="stMain"] h1', first],
        timeout=(WALL_ROTATE_S + 6) * 1000,
        polling=200,
    )
    waited = time.monotonic() - shown_at
    tab.wait_idle()
    tab.screenshot("wall-2")
    second = title.inner_text().strip()
    assert second.startswith("Pantau · ") and second != first, (first, second)
    # Not at once (a rerun), but on the timer: the first title was read after it appeared.
    assert waited > WALL_ROTATE_S / 2, f"rotated after {waited:.1f} s, not {WALL_ROTATE_S}"
    assert not tab.page.locator('[data-testid="stSidebar"]').is_visible()
    assert_page_ok(tab)


# -- 5. a link's filters survive a page switch --------------------------------------------------
def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_url_filters_round_trip(tab: Tab) -> None:
    tab.open("/sla?area=3171&level=kecamatan")
    assert header_text(tab) == "SLA — Kota Jakarta Selatan"
    assert query_of(tab.page.url).get("area") == ["3171"], tab.page.url
    tab.screenshot("sla-jakarta-selatan")

    tab.page.locator('[data-testid="stSidebarNav"] a[href$="/hotspots"]').click()
    tab.page.wait_for_url(re.compile(r"/hotspots\?(.*&)?area=3171(&|$)"))
    tab.wait_idle()
    tab.screenshot("hotspots-jakarta-selatan")
    assert header_text(tab) == "Titik panas — Kota Jakarta Selatan"
    query = query_of(tab.page.url)
    assert query.get("area") == ["3171"], tab.page.url
    assert query.get("level") == ["kecamatan"], tab.page.url
    area_box = tab.page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first
    assert area_box.locator("input").input_value() == "Kota Jakarta Selatan"
    assert_page_ok(tab)


# -- 6. the screenshot script -------------------------------------------------------------------
def test_screenshots_script(server: str) -> None:
    """``scripts/screenshots.py`` writes idle, non-blank shots at the documented sizes."""
    out = ARTIFACTS / "screenshots"
    done = subprocess.run(
        [sys.executable, "scripts/screenshots.py", "--url", server, "--out", str(out),
         "--pages", "hotspots,wall"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    # The wall's first view is large text on a dark background: fewer drawn pixels than a map.
    for name, size, least in (("hotspots", (1440, 900), 0.05), ("wall", (1920, 1080), 0.01)):
        with Image.open(out / f"{name}.png") as image:
            assert image.size == size, (name, image.size)
            pixels = np.asarray(image.convert("RGB"))
        assert drawn_share(pixels) > least, f"{name}.png is blank"
