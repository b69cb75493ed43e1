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
) -> None:
    """SLA per area (Pergub 128/2017: coordinate in 6 h, complete in 7 days)."""
    from geo.sla import resolve_period, sla_summary

    output_format(out)
    with db.connect(db.reader_url()) as conn:
        period = resolve_period(conn, _day(start), _day(end))
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
