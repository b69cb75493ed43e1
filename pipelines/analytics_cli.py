"""Analytics commands: refresh the marts, SLA, hotspots, emerging hotspots, trends.

Each command is a thin front door over a function in ``geo/`` (so the dashboard shows exactly
what a planner gets here) and writes CSV, GeoJSON or GeoPackage by the output's extension.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from geo import db
from geo.analytics import Filters
from geo.errors import PantauError
from geo.export import output_format, write_table
from geo.settings import TIMEZONE


class Level(StrEnum):
    """Administrative levels."""

    kota = "kota"
    kecamatan = "kecamatan"
    kelurahan = "kelurahan"


class SlaBy(StrEnum):
    """Second dimension of an SLA table."""

    category = "category"
    week = "week"


DateOption = Annotated[
    datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First creation day (WIB).")
]
EndOption = Annotated[
    datetime | None,
    typer.Option(formats=["%Y-%m-%d"], help="Last creation day (WIB), included."),
]
OutOption = Annotated[Path, typer.Option(help="Output file: .csv, .geojson or .gpkg.")]
CategoryOption = Annotated[
    list[str] | None, typer.Option("--category", help="Canonical category (repeatable).")
]
SourceOption = Annotated[
    list[str] | None, typer.Option("--source", help="jaki or qlue (repeatable).")
]


def wib(moment: datetime) -> str:
    """A moment as Jakarta time, the way users read it."""
    return moment.astimezone(ZoneInfo(TIMEZONE)).strftime("%Y-%m-%d %H:%M WIB")


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


def refresh_cmd(
    full: Annotated[bool, typer.Option("--full", help="Rebuild every mart from scratch.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object last.")] = False,
) -> None:
    """Refresh the marts: the days touched by ingests since the last refresh (or all)."""
    from pipelines.refresh import refresh

    with db.connect(db.writer_url()) as conn:
        result = refresh(conn, full=full)
    typer.echo(
        f"Refreshed ({result.mode}) {result.days:,} day(s), {result.weeks:,} week(s) in "
        f"{result.seconds:.2f} s: {result.daily_rows:,} daily rows, {result.h3_rows:,} H3 rows, "
        f"{result.sla_rows:,} SLA facts; data up to {result.data_up_to or '-'}"
    )
    if as_json:
        typer.echo(json.dumps(result.as_dict()))


def sla_cmd(
    level: Annotated[Level, typer.Option(help="Areas to list.")],
    out: OutOption,
    by: Annotated[SlaBy | None, typer.Option(help="Second dimension.")] = None,
    start: DateOption = None,
    end: EndOption = None,
    category: CategoryOption = None,
    source: SourceOption = None,
) -> None:
    """SLA per area (Pergub 128/2017: coordinate in 6 h, complete in 7 days)."""
    from geo.sla import resolve_period, sla_summary

    output_format(out)
    filters = _filters(start, end, category, source)  # checks the categories and sources
    with db.connect(db.reader_url()) as conn:
        period = resolve_period(
            conn,
            filters.start,
            filters.end,
            categories=filters.categories,
            sources=filters.sources,
        )
        frame = sla_summary(conn, period, level=level.value, by=by.value if by else None)
        fmt = write_table(frame, out, conn=conn)
    typer.echo(
        f"Wrote {len(frame):,} rows ({fmt}) to {out}: reports created {period.start} to "
        f"{period.end}, states as of {wib(period.as_of)}."
    )


def check_positive(value: int, name: str) -> None:
    """Refuse zero or negative sizes with a clear message."""
    if value < 1:
        msg = f"{name} must be at least 1."
        raise PantauError(msg)


class Step(StrEnum):
    """Time step of a space-time cube or a trend."""

    week = "week"
    month = "month"


def _filters(
    start: datetime | None,
    end: datetime | None,
    categories: list[str] | None,
    sources: list[str] | None = None,
) -> Filters:
    return Filters(
        start=_day(start),
        end=_day(end),
        categories=tuple(categories or ()),
        sources=tuple(sources or ()),
    )


def hotspots_cmd(
    out: OutOption,
    res: Annotated[int, typer.Option(help="H3 resolution of the cells.")] = 8,
    level: Annotated[
        Level | None, typer.Option(help="Areas (contiguity weights) instead of H3 cells.")
    ] = None,
    k: Annotated[int, typer.Option(help="k-ring of the H3 neighbourhood.")] = 1,
    start: DateOption = None,
    end: EndOption = None,
    category: CategoryOption = None,
    source: SourceOption = None,
    per_km2: Annotated[
        bool, typer.Option("--per-km2", help="Analyse reports per km2 instead of counts.")
    ] = False,
) -> None:
    """Getis-Ord Gi* hot and cold spots (z, p, FDR-corrected bins) on H3 cells or areas."""
    from geo.analytics import hotspot_areas, hotspot_cells

    output_format(out)
    check_positive(k, "--k")
    filters = _filters(start, end, category, source)
    with db.connect(db.reader_url()) as conn:
        if level is not None:
            frame = hotspot_areas(conn, level=level.value, filters=filters, per_km2=per_km2)
            what = f"{len(frame):,} {level.value} (queen contiguity)"
        else:
            frame = hotspot_cells(conn, res=res, k=k, filters=filters, per_km2=per_km2)
            what = f"{len(frame):,} H3 res-{res} cells (k={k})"
        fmt = write_table(frame, out, conn=conn)
    hot = int((frame["gi_bin"] >= 2).sum())
    cold = int((frame["gi_bin"] <= -2).sum())
    outside = frame.attrs.get("outside_study_area", 0)
    typer.echo(
        f"Wrote {what} ({fmt}) to {out}: {frame['reports'].sum():,} reports, {hot:,} hot and "
        f"{cold:,} cold at 95 % (FDR); analysed: {frame.attrs['denominator']}"
        + (f"; {outside:,} reports outside the study area" if outside else "")
    )


def emerging_cmd(
    out: OutOption,
    res: Annotated[int, typer.Option(help="H3 resolution of the cells.")] = 8,
    step: Annotated[Step, typer.Option(help="Time step of the cube.")] = Step.week,
    k: Annotated[int, typer.Option(help="k-ring of the H3 neighbourhood.")] = 1,
    start: DateOption = None,
    end: EndOption = None,
    category: CategoryOption = None,
    source: SourceOption = None,
    fdr: Annotated[
        bool, typer.Option("--fdr", help="Benjamini-Hochberg over all bins (as ArcGIS Pro).")
    ] = False,
) -> None:
    """Emerging hot spots: space-time Gi* and Mann-Kendall trends, ArcGIS pattern categories."""
    from geo.analytics import emerging_cells

    output_format(out)
    check_positive(k, "--k")
    filters = _filters(start, end, category, source)
    with db.connect(db.reader_url()) as conn:
        frame = emerging_cells(conn, res=res, step=step.value, k=k, filters=filters, fdr=fdr)
        fmt = write_table(frame, out, conn=conn)
    patterns = frame["pattern"].value_counts()
    found = ", ".join(f"{n:,} {p}" for p, n in patterns.items() if p != "no pattern detected")
    typer.echo(
        f"Wrote {len(frame):,} cells ({fmt}) to {out}: {frame.attrs['steps']} {step.value}s "
        f"from {frame.attrs['first_step']} to {frame.attrs['last_step']}; "
        f"{found or 'no pattern detected anywhere'}"
    )


def trends_cmd(
    level: Annotated[Level, typer.Option(help="Areas to follow.")],
    out: OutOption,
    freq: Annotated[Step, typer.Option(help="Period length.")] = Step.week,
    start: DateOption = None,
    end: EndOption = None,
    category: CategoryOption = None,
    source: SourceOption = None,
) -> None:
    """Counts per period x area x category, a rolling baseline and an anomaly flag."""
    from geo.analytics import trend_table

    output_format(out)
    filters = _filters(start, end, category, source)
    with db.connect(db.reader_url()) as conn:
        frame = trend_table(conn, level=level.value, freq=freq.value, filters=filters)
        if frame.empty:
            msg = "No reports for these filters: nothing to analyse."
            raise PantauError(msg)
        fmt = write_table(frame, out, conn=conn)
    typer.echo(
        f"Wrote {len(frame):,} rows ({fmt}) to {out}: {frame['period'].nunique()} "
        f"{freq.value}s x {frame['code'].nunique()} areas x {frame['category'].nunique()} "
        f"categories; {int(frame['anomaly'].sum()):,} anomalies"
    )
