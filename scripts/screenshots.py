"""Screenshots of every dashboard page, for the docs and for reviewing the UI by eye.

Usage, against a running server (``make serve``)::

    .venv/bin/python scripts/screenshots.py --url http://localhost:8501 --out docs/screenshots

Each page is opened in Debian's Chromium (``/usr/bin/chromium``, driven by Playwright; the
flags are the browser tests' own) at 1440x900, the wall screen at 1920x1080. A shot is taken
once the page is idle: the app connected, no script run going on and no placeholder left for
half a second, every map canvas drawn, and a short pause for deck.gl and Vega to paint.

Files: ``overview.png``, ``hotspots.png``, ``trends.png``, ``sla.png``, ``area.png``,
``export.png``, ``wall.png``. ``area.png`` shows ``/area?area=CODE``; without ``--area`` the
code is the kelurahan with the most reports in the database of the environment (the same one
``python -m pipelines db url`` names). ``--full-page`` makes the window as tall as the page
(Streamlit scrolls inside the page, so a plain full-page shot would stop at the fold).

Exit status 1 when a page showed a Streamlit exception or an error message (the shot is still
written, so it can be looked at), 2 when the browser or the server cannot be used.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, ViewportSize, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's packages
from tests.e2e.browser import CHROMIUM, CHROMIUM_FLAGS, IDLE_JS

DESKTOP: ViewportSize = {"width": 1440, "height": 900}
WALL: ViewportSize = {"width": 1920, "height": 1080}


@dataclass(frozen=True)
class Shot:
    """One page to photograph."""

    name: str
    path: str
    viewport: ViewportSize


SHOTS = (
    Shot("overview", "/", DESKTOP),
    Shot("hotspots", "/hotspots", DESKTOP),
    Shot("trends", "/trends", DESKTOP),
    Shot("sla", "/sla", DESKTOP),
    Shot("area", "/area?area={area}", DESKTOP),
    Shot("export", "/export", DESKTOP),
    Shot("wall", "/?mode=wall", WALL),
)

DECK_CANVAS = '[data-testid="stDeckGlJsonChart"] canvas'
SCROLL_TO_TOP_JS = """() => {
  for (const el of [document.scrollingElement, ...document.querySelectorAll("*")]) {
    if (el && el.scrollTop > 0) el.scrollTop = 0;
  }
}"""
#: Height of the content that Streamlit scrolls inside its main area.
CONTENT_HEIGHT_JS = """() => {
  const main = document.querySelector('[data-testid="stMain"]')
    || document.querySelector('[data-testid="stAppViewContainer"]');
  const sidebar = document.querySelector('[data-testid="stSidebarContent"]');
  return Math.max(main ? main.scrollHeight : 0, sidebar ? sidebar.scrollHeight : 0,
                  document.documentElement.scrollHeight);
}"""
#: After idle: deck.gl and Vega paint on the next frames.
PAINT_PAUSE_MS = 1500
#: A map still blank after this long is photographed as it is.
MAP_DRAW_TIMEOUT_S = 15


def busiest_kelurahan() -> str:
    """The kelurahan with the most reports in the database of the environment."""
    from geo import db  # the project's settings: DATABASE_URL or the local cluster

    with db.connect(db.reader_url()) as conn:
        row = conn.execute(
            "SELECT kelurahan_code FROM api.reports WHERE kelurahan_code IS NOT NULL "
            "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
        ).fetchone()
    if row is None:
        msg = "the database has no report in a kelurahan: pass --area CODE"
        raise SystemExit(msg)
    return str(row[0])


def drawn(png: bytes) -> bool:
    """True when at least 2 % of the image differs from its most common colour."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=image.width * image.height) or []
    most = max((count for count, _ in colours), default=0)
    return most < 0.98 * image.width * image.height


def wait_until_idle(page: Page, timeout_ms: float) -> None:
    """Wait for the app to finish, its maps to draw, and the paint that follows."""
    page.wait_for_function(IDLE_JS, timeout=timeout_ms, polling=100)
    deadline = time.monotonic() + MAP_DRAW_TIMEOUT_S
    for canvas in page.locator(DECK_CANVAS).all():
        while not drawn(canvas.screenshot()) and time.monotonic() < deadline:
            page.wait_for_timeout(250)
    page.evaluate(SCROLL_TO_TOP_JS)  # a shot of an element scrolls it into view
    page.wait_for_timeout(PAINT_PAUSE_MS)


def problems_on(page: Page) -> list[str]:
    """Streamlit exceptions and error messages on the page."""
    found = [
        f"exception: {text.strip()[:300]}"
        for text in page.locator('[data-testid="stException"]').all_inner_texts()
    ]
    found += [
        f"error message: {text.strip()[:300]}"
        for text in page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
    ]
    return found


def take(page: Page, url: str, out: Path, *, full_page: bool, timeout_ms: float) -> list[str]:
    """Open ``url``, wait until idle, write ``out``; the problems seen on the page."""
    page.goto(url)
    wait_until_idle(page, timeout_ms)
    if full_page:
        viewport = page.viewport_size or DESKTOP
        height = int(page.evaluate(CONTENT_HEIGHT_JS))
        if height > viewport["height"]:
            page.set_viewport_size({"width": viewport["width"], "height": height})
            wait_until_idle(page, timeout_ms)
    page.screenshot(path=out)
    return problems_on(page)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://localhost:8501", help="the dashboard's address")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"), help="folder")
    parser.add_argument("--area", help="kelurahan code of area.png (default: the busiest)")
    parser.add_argument(
        "--pages",
        default=",".join(s.name for s in SHOTS),
        help="comma-separated subset of: " + ", ".join(s.name for s in SHOTS),
    )
    parser.add_argument("--full-page", action="store_true", help="the whole page, not the fold")
    parser.add_argument("--chromium", default=CHROMIUM, help="the Chromium executable")
    parser.add_argument("--timeout", type=float, default=90, help="seconds per page")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.pages.split(",") if n.strip()]
    unknown = sorted(set(names) - {s.name for s in SHOTS})
    if unknown:
        parser.error(f"unknown page(s): {', '.join(unknown)}")
    args.shots = [s for s in SHOTS if s.name in names]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = args.url.rstrip("/")
    area = args.area
    if area is None and any("{area}" in s.path for s in args.shots):
        area = busiest_kelurahan()
    if not Path(args.chromium).exists():
        print(f"error: {args.chromium} not found (apt-get install chromium)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    failed = False
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=args.chromium, args=list(CHROMIUM_FLAGS), headless=True
        )
        try:
            for shot in args.shots:
                out = args.out / f"{shot.name}.png"
                context = browser.new_context(viewport=shot.viewport)
                page = context.new_page()
                started = time.monotonic()
                try:
                    problems = take(
                        page,
                        base + shot.path.format(area=area),
                        out,
                        full_page=args.full_page,
                        timeout_ms=args.timeout * 1000,
                    )
                except PlaywrightError as exc:
                    print(f"error: {shot.name}: {exc}".splitlines()[0], file=sys.stderr)
                    return 2
                finally:
                    context.close()
                print(f"{out} ({time.monotonic() - started:.1f} s)")
                for problem in problems:
                    failed = True
                    print(f"  {shot.name}: {problem}", file=sys.stderr)
        finally:
            browser.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
