"""Generate JAKI and Qlue feeds, day by day, in chunks, with a truth table.

Memory stays flat: days are generated in chunks of at most :data:`CHUNK_REPORTS` reports and
written out before the next chunk is drawn. Each chunk draws from its own random stream
(``seed`` and the chunk's first day), so the output depends only on the arguments.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from geo.errors import PantauError
from pipelines.simulate import calibration as cal
from pipelines.simulate import defects as dfx
from pipelines.simulate.feeds import QLUE_HEADER, MonthlyFiles, TruthWriter
from pipelines.simulate.lifecycle import CANONICAL, JAKI_STATUSES, QLUE_STATUS, simulate_lifecycle
from pipelines.simulate.space import sample_in_area, sample_in_cells
from pipelines.simulate.world import World, build_world, load_kelurahan

CHUNK_REPORTS = 25_000
MAX_LINES_PER_FILE = 200_000
WIB = np.timedelta64(7 * 3600, "s")
JAKI_FIRST_ID = 4_000_000


@dataclass
class Options:
    """The arguments of ``pipelines simulate``."""

    start: date
    end: date
    seed: int
    out: Path
    per_day: float = cal.PER_DAY
    reports: int | None = None
    defects: float = 0.02
    gzip: bool = False
    boundaries: Path | None = None
    jaki_share: dict[int, float] = field(default_factory=dict)
    progress: bool | None = None  # None: only on a terminal


@dataclass
class Summary:
    """What a run wrote."""

    reports: int = 0
    lines: Counter[str] = field(default_factory=Counter)
    by_source: Counter[str] = field(default_factory=Counter)
    defects: Counter[str] = field(default_factory=Counter)
    files: dict[str, list[str]] = field(default_factory=dict)


# -- volume ------------------------------------------------------------------------------------
def _category_surge(world: World, source: str, month: int) -> np.ndarray:
    """Label weights of ``source`` with the rainy-season surge applied for ``month``."""
    weights = world.label_weights[source].copy()
    surge = np.isin(world.label_category[source], cal.SURGE_CATEGORIES)
    weights[surge] *= cal.SURGE_BY_MONTH[month]
    return weights


def daily_expected(days: list[date], per_day: float, world: World) -> np.ndarray:
    """Expected reports per day: weekday profile x rainy-season surge, averaging ``per_day``."""
    base = world.label_weights["jaki"].sum()
    surge = np.array([_category_surge(world, "jaki", d.month).sum() / base for d in days])
    weekday = np.array([cal.WEEKDAY_FACTOR[d.weekday()] for d in days])
    raw = surge * weekday
    mean_year = np.mean([_category_surge(world, "jaki", m).sum() / base for m in range(1, 13)])
    return per_day * raw / (mean_year * np.mean(cal.WEEKDAY_FACTOR))


def daily_counts(days: list[date], opts: Options, world: World) -> np.ndarray:
    """Reports per day: gamma-Poisson around the expectation, or exactly ``opts.reports``."""
    rng = np.random.default_rng([opts.seed, 1])
    expected = daily_expected(days, opts.per_day, world)
    events = rng.random(len(days)) < cal.EVENT_DAY_PROBABILITY
    expected = expected * np.where(events, rng.uniform(*cal.EVENT_DAY_FACTOR, len(days)), 1.0)
    if opts.reports is not None:
        return rng.multinomial(opts.reports, expected / expected.sum())
    lam = expected * rng.gamma(cal.DAILY_GAMMA_SHAPE, 1 / cal.DAILY_GAMMA_SHAPE, len(days))
    return rng.poisson(lam)


def _jaki_share(year: int, overrides: dict[int, float]) -> float:
    return overrides.get(year, cal.JAKI_SHARE_BY_YEAR.get(year, cal.JAKI_SHARE_DEFAULT))


# -- one chunk -------------------------------------------------------------------------------
@dataclass
class Chunk:
    """The reports of a run of consecutive days, as columns."""

    source: np.ndarray  # "jaki" | "qlue"
    created: np.ndarray  # datetime64[s], UTC
    k: np.ndarray  # kelurahan index
    lng: np.ndarray
    lat: np.ndarray
    label: np.ndarray  # source label
    category: np.ndarray  # canonical
    hotspot: np.ndarray  # hotspot id or ""


def _draw_chunk(days: list[date], counts: np.ndarray, opts: Options, world: World) -> Chunk:
    rng = np.random.default_rng([opts.seed, 2, days[0].toordinal()])
    n = int(counts.sum())
    day_idx = np.repeat(np.arange(len(days)), counts)
    hotspot = np.full(n, "", dtype=object)
    # Planted hotspot reports are carved out of the day's volume.
    for h in world.hotspots:
        for i, d in enumerate(days):
            want = rng.poisson(h.rate(d))
            free = np.flatnonzero((day_idx == i) & (hotspot == ""))
            if want and len(free):
                hotspot[rng.choice(free, min(want, len(free)), replace=False)] = h.hotspot_id
    years = np.array([days[i].year for i in day_idx])
    share = np.array([_jaki_share(y, opts.jaki_share) for y in years])
    source = np.where(rng.random(n) < share, "jaki", "qlue").astype(object)

    label = np.empty(n, dtype=object)
    category = np.empty(n, dtype=object)
    months = np.array([days[i].month for i in day_idx])
    for src in ("jaki", "qlue"):
        for month in np.unique(months):
            sel = np.flatnonzero((source == src) & (months == month) & (hotspot == ""))
            weights = _category_surge(world, src, int(month))
            pick = rng.choice(len(weights), len(sel), p=weights / weights.sum())
            label[sel] = np.asarray(world.labels[src], dtype=object)[pick]
            category[sel] = world.label_category[src][pick]
    by_id = {h.hotspot_id: h for h in world.hotspots}
    for hid in set(hotspot[hotspot != ""]):
        h = by_id[hid]
        sel = np.flatnonzero(hotspot == hid)
        category[sel] = h.category
        for src in ("jaki", "qlue"):
            mine = sel[source[sel] == src]
            label[mine] = _main_label(world, src, h.category)

    # Places: hotspot reports inside their cells, the others in a kelurahan by weight.
    k = rng.choice(len(world.areas), n, p=world.weights)
    lng = np.empty(n)
    lat = np.empty(n)
    for hid in sorted(set(hotspot[hotspot != ""])):
        sel = np.flatnonzero(hotspot == hid)
        x, y, owner = sample_in_cells(by_id[hid].cells, len(sel), world.tree, rng)
        lng[sel], lat[sel], k[sel] = x, y, owner
    plain = hotspot == ""
    for area_index in np.unique(k[plain]):
        sel = np.flatnonzero(plain & (k == area_index))
        lng[sel], lat[sel] = sample_in_area(world.areas[area_index], len(sel), rng)

    # Times: the day in WIB, an hour from the daily profile, converted to UTC.
    hours = np.array(cal.HOUR_WEIGHTS)
    hour = rng.choice(24, n, p=hours / hours.sum())
    seconds = hour * 3600 + rng.integers(0, 3600, n)
    midnight_wib = np.array([np.datetime64(days[i], "s") for i in day_idx], dtype="datetime64[s]")
    created = midnight_wib + seconds.astype("timedelta64[s]") - WIB
    order = np.lexsort((rng.random(n), created))
    return Chunk(
        source[order],
        created[order],
        k[order],
        lng[order],
        lat[order],
        label[order],
        category[order],
        hotspot[order],
    )


def _main_label(world: World, source: str, category: str) -> str:
    """The source's most frequent label for a canonical category."""
    mask = world.label_category[source] == category
    weights = np.where(mask, world.label_weights[source], -1)
    return str(world.labels[source][int(np.argmax(weights))])


# -- the run -----------------------------------------------------------------------------------
def _day_chunks(days: list[date], counts: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive day ranges holding at most CHUNK_REPORTS reports each (at least one day)."""
    chunks, start, total = [], 0, 0
    for i, c in enumerate(counts):
        if total and total + c > CHUNK_REPORTS:
            chunks.append((start, i))
            start, total = i, 0
        total += int(c)
    chunks.append((start, len(days)))
    return chunks


def simulate(opts: Options) -> Summary:
    """Write the feeds and the truth table for ``opts``; return what was written."""
    if opts.end < opts.start:
        msg = f"--end {opts.end} is before --start {opts.start}."
        raise PantauError(msg)
    if not 0 <= opts.defects <= 1:
        msg = f"--defects must be between 0 and 1, not {opts.defects}."
        raise PantauError(msg)
    days = [opts.start + timedelta(days=i) for i in range((opts.end - opts.start).days + 1)]
    per_day = opts.per_day if opts.reports is None else opts.reports / len(days)
    world = build_world(
        load_kelurahan(opts.boundaries),
        seed=opts.seed,
        start=opts.start,
        end=opts.end,
        per_day=per_day,
    )
    counts = daily_counts(days, opts, world)
    as_of = np.datetime64(opts.end + timedelta(days=1), "s") - WIB

    opts.out.mkdir(parents=True, exist_ok=True)
    jaki = MonthlyFiles(
        opts.out / "jaki", "jaki", "jsonl", gzip_files=opts.gzip, max_lines=MAX_LINES_PER_FILE
    )
    qlue = MonthlyFiles(
        opts.out / "qlue",
        "qlue",
        "csv",
        gzip_files=opts.gzip,
        max_lines=MAX_LINES_PER_FILE,
        header=QLUE_HEADER,
        bom_every=3 if opts.defects > 0 else 0,
    )
    truth = TruthWriter(opts.out / "truth.parquet")
    serial = dfx.Serialiser(world, opts.seed, as_of)
    summary = Summary()
    bar = tqdm(
        total=int(counts.sum()),
        unit="report",
        disable=None if opts.progress is None else not opts.progress,
    )
    try:
        for first, stop in _day_chunks(days, counts):
            if not counts[first:stop].any():
                continue  # nothing to draw (a quiet stretch, or --reports 0)
            chunk = _draw_chunk(days[first:stop], counts[first:stop], opts, world)
            rng = np.random.default_rng([opts.seed, 3, days[first].toordinal()])
            _write_chunk(chunk, world, opts, as_of, rng, serial, jaki, qlue, truth, summary)
            bar.update(len(chunk.source))
    finally:
        bar.close()
        jaki.close()
        qlue.close()
        truth.close()
    summary.files = {"jaki": jaki.files, "qlue": qlue.files}
    _write_manifest(opts, world, summary, qlue.files_with_bom)
    return summary


def _write_chunk(
    chunk: Chunk,
    world: World,
    opts: Options,
    as_of: np.datetime64,
    rng: np.random.Generator,
    serial: dfx.Serialiser,
    jaki: MonthlyFiles,
    qlue: MonthlyFiles,
    truth: TruthWriter,
    summary: Summary,
) -> None:
    n = len(chunk.source)
    agencies = np.array(
        [world.agency(c, k) for c, k in zip(chunk.category, chunk.k, strict=True)], dtype=object
    )
    kota = world.kelurahan["kota_code"].to_numpy()[chunk.k]
    speed = (
        np.array([cal.KOTA_SPEED.get(x, 1.0) for x in kota])
        * np.array([cal.CATEGORY_SPEED.get(c, 1.0) for c in chunk.category])
        * np.array([world.speed_of_agency(a) for a in agencies])
    )
    life = simulate_lifecycle(chunk.created, speed, as_of, rng)
    defect = dfx.choose_defects(chunk.source, opts.defects, rng)
    records = serial.records(chunk, agencies, life, defect, rng)

    columns: dict[str, list[Any]] = {name: [] for name in dfx.TRUTH_COLUMNS}
    for record in records:
        writer = jaki if record.source == "jaki" else qlue
        file_name = writer.write(record.month, record.lines)
        if record.later_lines:
            writer.later(record.later_month, record.later_lines)
        summary.lines[record.source] += len(record.lines) + len(record.later_lines)
        summary.by_source[record.source] += 1
        if record.defect:
            summary.defects[record.defect] += 1
        for name, value in record.truth.items():
            columns[name].append(value)
        columns["file"].append(file_name)
    truth.write({**columns, **_truth_times(chunk.created, life)})
    summary.reports += n


def _truth_times(created: np.ndarray, life: Any) -> dict[str, pd.DatetimeIndex]:
    def utc(values: np.ndarray) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(values).tz_localize("UTC")

    return {
        "created_at": utc(created),
        "coordinated_at": utc(life.disposed),
        "completed_at": utc(life.completed),
        "updated_at": utc(life.updated),
    }


def _write_manifest(opts: Options, world: World, summary: Summary, with_bom: list[str]) -> None:
    manifest = {
        "generator": "pantau simulate",
        "arguments": {
            "start": opts.start.isoformat(),
            "end": opts.end.isoformat(),
            "seed": opts.seed,
            "per_day": opts.per_day if opts.reports is None else None,
            "reports": opts.reports,
            "defects": opts.defects,
            "gzip": opts.gzip,
        },
        "reports": summary.reports,
        "reports_by_source": dict(sorted(summary.by_source.items())),
        "lines_by_source": dict(sorted(summary.lines.items())),
        "defects": dict(sorted(summary.defects.items())),
        "files": summary.files,
        "qlue_files_with_bom": with_bom,
        "hotspots": [
            {
                "hotspot_id": h.hotspot_id,
                "kind": h.kind,
                "category": h.category,
                "cells": h.cells,
                "start": h.start.isoformat(),
                "end": h.end.isoformat(),
                "rate_start_per_day": round(h.rate_start, 3),
                "rate_end_per_day": round(h.rate_end, 3),
            }
            for h in world.hotspots
        ],
        "statuses": {
            "jaki": list(JAKI_STATUSES),
            "canonical": list(CANONICAL),
            "qlue": list(QLUE_STATUS),
        },
    }
    (opts.out / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    )
