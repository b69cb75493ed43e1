"""Static maps (``geo.staticmap``, ``pipelines export map``) on the real PostGIS test database.

Three months of generated feeds (with the generator's planted hotspots) go through the real
ingest once for the module. The maps are then checked as a planner would receive them: the PNG
is a real PNG of the promised size and shows the 99 % hot colour where a hotspot is planted and
nowhere when no report matches; the PDF is vector (no embedded raster) and its text, extracted
from the file itself, carries the attribution read from ``api.boundary_source`` and says when
no report matches; wrong files, folders and filters fail with a :class:`PantauError` before
anything is drawn; the command line prints one line, or one error line and a non-zero exit.
Render times are printed (``pytest -s``) and bounded generously.
"""

from __future__ import annotations

import gc
import json
import re
import sys
import time
import zlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import matplotlib.image
import numpy as np
import psycopg
import pytest
from matplotlib import _pylab_helpers
from matplotlib.figure import Figure
from typer.testing import CliRunner

from geo import db
from geo.analytics import Filters, hotspot_cells
from geo.errors import PantauError
from geo.staticmap import (
    BIN_COLOURS,
    DPI,
    PAGE_SIZE,
    format_day,
    format_number,
    render_map,
)
from geo.taxonomy import load_taxonomy
from pipelines.export_cli import export_app
from pipelines.run import run_cli
from tests.conftest import clear_reports, ensure_bps2020, ingest_generated

START, END = date(2024, 1, 1), date(2024, 3, 31)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Generous bound on one render (the target is a few seconds; CI machines vary).
MAX_SECONDS = 15.0


@pytest.fixture(scope="module")
def world(
    writer_url: str, bps2020_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """BPS 2020 boundaries and three months of both feeds; the generator's manifest."""
    ensure_bps2020(writer_url, bps2020_path)
    clear_reports(writer_url)
    out = ingest_generated(
        writer_url, tmp_path_factory.mktemp("staticmap"), start=START, end=END, seed=11,
        per_day=150, defects=0.01, boundaries=bps2020_path,
    )  # fmt: skip
    yield json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    clear_reports(writer_url)


@pytest.fixture
def conn(reader_url: str, world: dict[str, Any]) -> Iterator[psycopg.Connection]:
    """A read-only connection (what the dashboard and the command line use)."""
    with db.connect(reader_url) as connection:
        yield connection


def timed_render(conn: psycopg.Connection, **kwargs: Any) -> float:
    started = time.perf_counter()
    render_map(conn, **kwargs)
    seconds = time.perf_counter() - started
    print(f"render {kwargs['out'].name}: {seconds:.2f} s")
    assert seconds < MAX_SECONDS
    return seconds


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def pixels_of(path: Path, colour: str) -> int:
    """How many pixels of the PNG have exactly ``colour``."""
    image = np.round(matplotlib.image.imread(path)[..., :3] * 255).astype(int)
    return int(np.all(image == rgb(colour), axis=-1).sum())


# -- text of a PDF, read from the file --------------------------------------------------------
# matplotlib ends a stream with b"\nendstream": an optional "\r" before it would be taken from
# compressed data that happens to end with byte 13 (it did, once in a few runs).
_STREAM = re.compile(rb"stream\r?\n(.*?)\nendstream", re.S)
_SHOW_ARRAY = re.compile(rb"\[(.*?)\]\s*TJ", re.S)
_LITERAL = re.compile(rb"\((?:[^()\\]|\\.)*\)", re.S)
_ESCAPE = re.compile(rb"\\([0-7]{1,3}|.)", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _unescape(literal: bytes) -> bytes:
    def one(match: re.Match[bytes]) -> bytes:
        code = match.group(1)
        if code[:1].isdigit():
            return bytes([int(code, 8)])
        return _ESCAPES.get(code, code)

    return _ESCAPE.sub(one, literal)


def pdf_text(path: Path) -> str:
    """The text shown by a matplotlib PDF with TrueType (Type 42) fonts.

    matplotlib writes each string as a ``[...] TJ`` array of two-byte (UTF-16BE) codes for
    the characters up to U+00FF; characters beyond (an en dash) are drawn another way and are
    not searched for here.
    """
    shown = []
    for stream in _STREAM.findall(path.read_bytes()):
        try:
            content = zlib.decompress(stream)
        except zlib.error:
            continue
        for array in _SHOW_ARRAY.findall(content):
            raw = b"".join(_unescape(lit[1:-1]) for lit in _LITERAL.findall(array))
            shown.append(raw.decode("utf-16-be", errors="replace"))
    return "\n".join(shown)


def boundary_credit(conn: psycopg.Connection) -> tuple[str, str]:
    row = conn.execute("SELECT attribution, licence FROM api.boundary_source").fetchone()
    assert row is not None and row[0] and row[1]
    return row[0], row[1]


def planted(world: dict[str, Any]) -> dict[str, Any]:
    """A persistent planted hotspot (the same category in one or two cells all period)."""
    return next(h for h in world["hotspots"] if h["kind"] == "persistent")


def quiet_day_and_category(conn: psycopg.Connection) -> tuple[date, str]:
    """A day of the period and a category without any report that day.

    Over three months every category has reports, but a rare one (pollution, say) is absent
    on most single days.
    """
    rows = conn.execute("SELECT DISTINCT day, category FROM api.daily_counts").fetchall()
    categories = list(load_taxonomy().categories)
    for day in sorted({d for d, _ in rows}):
        present = {c for d, c in rows if d == day}
        absent = [c for c in categories if c not in present]
        if absent:
            return day, absent[-1]
    pytest.fail("every category has reports every day: generate fewer reports for this test")


# == PNG and PDF ===================================================================================
def test_png_of_a_planted_hotspot_shows_the_hot_colour(
    conn: psycopg.Connection, world: dict[str, Any], tmp_path: Path
) -> None:
    hotspot = planted(world)
    filters = Filters(start=START, end=END, categories=(hotspot["category"],))
    # Precondition: the statistic finds the planted cells hot at 99 % (else the test is empty).
    frame = hotspot_cells(conn, res=8, k=1, filters=filters)
    assert frame.loc[frame["cell"].isin(hotspot["cells"]), "gi_bin"].max() == 3
    hot_cells = int((frame["gi_bin"] == 3).sum())

    out = tmp_path / "hot.png"
    timed_render(conn, layer="hotspots", res=8, filters=filters, out=out)
    data = out.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    image = matplotlib.image.imread(out)
    assert image.shape[:2] == (round(PAGE_SIZE[1] * DPI), round(PAGE_SIZE[0] * DPI))
    hot = pixels_of(out, BIN_COLOURS[3])
    # A res-8 cell is about 900 m across: 30 x 30 pixels or more on the main map.
    assert hot > 400 * hot_cells * 0.5, (hot, hot_cells)
    # ... and the legend's swatch alone is far smaller than one cell.
    assert pixels_of(out, BIN_COLOURS[-3]) < 2000


def test_pdf_is_vector_and_carries_the_attribution(
    conn: psycopg.Connection, world: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "hot.pdf"
    filters = Filters(start=START, end=END, categories=(planted(world)["category"],))
    timed_render(conn, layer="hotspots", filters=filters, out=out)
    data = out.read_bytes()
    assert data.startswith(b"%PDF")
    assert b"/Subtype /Image" not in data  # no raster inside: vector all through
    text = pdf_text(out)
    attribution, licence = boundary_credit(conn)
    assert f"Batas wilayah: {attribution} ({licence})" in text
    assert "Laporan: JAKI & Qlue" in text
    assert "Dibuat dengan Pantau" in text
    assert "Titik panas 99 %" in text
    assert "Periode: 1 Jan 2024" in text
    assert "Tidak ada laporan" not in text


def test_a_filter_without_reports_draws_an_empty_map_that_says_so(
    conn: psycopg.Connection, world: dict[str, Any], tmp_path: Path
) -> None:
    day, category = quiet_day_and_category(conn)
    filters = Filters(start=day, end=day, categories=(category,))
    pdf, png = tmp_path / "empty.pdf", tmp_path / "empty.png"
    timed_render(conn, layer="hotspots", filters=filters, out=pdf)
    timed_render(conn, layer="reports", level="kelurahan", filters=filters, out=png)
    text = pdf_text(pdf)
    assert "Tidak ada laporan untuk filter ini" in text
    assert load_taxonomy().categories[category].split(" ")[0] in text
    assert pixels_of(png, BIN_COLOURS[3]) == 0
    assert png.read_bytes().startswith(PNG_SIGNATURE)


def test_report_maps_name_their_denominator(
    conn: psycopg.Connection, world: dict[str, Any], tmp_path: Path
) -> None:
    cells, areas = tmp_path / "cells.pdf", tmp_path / "areas.pdf"
    timed_render(conn, layer="reports", res=8, per_km2=True, out=cells)
    timed_render(conn, layer="reports", level="kecamatan", out=areas)
    cell_text, area_text = pdf_text(cells), pdf_text(areas)
    assert "laporan per km" in cell_text and "(luas sel H3)" in cell_text
    assert "Kepadatan laporan warga" in cell_text
    assert "laporan per kecamatan" in area_text and "Batas kecamatan" in area_text
    total = conn.execute(
        "SELECT sum(reports) FROM api.daily_counts WHERE kecamatan_code IS NOT NULL"
    ).fetchone()
    assert total is not None
    assert f"{format_number(int(total[0]))} laporan" in area_text


def test_a_custom_title_and_open_period(
    conn: psycopg.Connection, world: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "title.pdf"
    render_map(conn, layer="reports", title="Peta untuk Musrenbang 2025", out=out)
    text = pdf_text(out)
    assert "Peta untuk Musrenbang 2025" in text
    first = conn.execute("SELECT min(day) FROM api.daily_counts").fetchone()
    assert first is not None
    assert f"Periode: {format_day(first[0])}" in text  # the data's own first day


def test_no_figure_outlives_a_render(
    conn: psycopg.Connection, world: dict[str, Any], tmp_path: Path
) -> None:
    for i in range(3):
        render_map(conn, layer="reports", level="kota", out=tmp_path / f"{i}.png")
    gc.collect()
    assert _pylab_helpers.Gcf.get_all_fig_managers() == []
    assert not [o for o in gc.get_objects() if isinstance(o, Figure)]


# == refusals ======================================================================================
@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("map.svg", {}, "use a .png or .pdf"),
        ("map", {}, "use a .png or .pdf"),
        ("no-such-folder/map.png", {}, "does not exist"),
        ("map.png", {"layer": "heat"}, "Unknown map layer"),
        ("map.png", {"level": "rw"}, "Unknown level"),
        ("map.png", {"k": 0}, "k must be at least 1"),
        ("map.png", {"res": 12}, "too small to see"),
    ],
)
def test_bad_requests_fail_before_drawing(
    conn: psycopg.Connection, tmp_path: Path, name: str, kwargs: dict[str, Any], message: str
) -> None:
    out = tmp_path / name
    with pytest.raises(PantauError, match=message):
        render_map(conn, out=out, **kwargs)
    assert not out.exists()


def test_an_unknown_category_is_refused() -> None:
    with pytest.raises(PantauError, match="Unknown category"):
        Filters(categories=("sampah_liar",))


# == the command line ==============================================================================
def test_cli_writes_a_map_and_says_so(
    world: dict[str, Any], test_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "cli.png"
    args = ["map", "--out", str(out), "--layer", "reports", "--level", "kecamatan",
            "--start", "2024-01-01", "--end", "2024-03-31", "--category",
            planted(world)["category"], "--source", "jaki", "--per-km2"]  # fmt: skip
    result = CliRunner().invoke(export_app, args, env=test_env)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"Wrote a report-density map of kecamatan (PNG) to {out}")
    assert out.read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "map.svg"], "use a .png or .pdf"),
        (["--out", "nowhere/map.png"], "does not exist"),
        (["--out", "map.png", "--category", "sampah_liar"], "Unknown category sampah_liar"),
        (["--out", "map.png", "--k", "0"], "--k must be at least 1"),
    ],
)
def test_cli_errors_are_one_line_and_non_zero(
    test_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(export_app, ["map", *args], env=test_env)
    assert result.exit_code != 0
    assert isinstance(result.exception, PantauError)
    # As `python -m pipelines` runs it: one line on stderr, exit status 1.
    monkeypatch.setattr(sys, "argv", ["pipelines", "map", *args])
    assert run_cli(export_app) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: ") and message in err[0]
    assert not list(tmp_path.iterdir())


# == Indonesian formatting =========================================================================
def test_indonesian_numbers_and_days() -> None:
    assert format_number(12345) == "12.345"
    assert format_number(1234567.891, 2) == "1.234.567,89"
    assert format_number(2.5, 1) == "2,5"
    assert format_number(-0.001, 1) == "0,0"
    assert format_day(date(2024, 1, 1)) == "1 Jan 2024"
    assert format_day(date(2024, 8, 17)) == "17 Agt 2024"
    assert format_day(date(2024, 12, 31)) == "31 Des 2024"
