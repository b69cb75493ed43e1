"""How Pantau drives Debian's Chromium: shared by the browser tests and scripts/screenshots.py.

Plain constants (no pytest), so the screenshot script can import them.
"""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)

#: True once the app is connected, no script run is going on and no placeholder is left, for
#: 500 ms in a row (a run that finishes and a rerun that starts at once are not "idle").
IDLE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const idle = app !== null
    && app.dataset.testConnectionState === "CONNECTED"
    && app.dataset.testScriptState === "notRunning"
    && document.querySelector('[data-testid="stSkeleton"]') === null;
  if (!idle) { window.__pantauIdleSince = undefined; return false; }
  window.__pantauIdleSince ??= performance.now();
  return performance.now() - window.__pantauIdleSince >= 500;
}"""
