"""Export commands: static maps for planners' reports (``python -m pipelines export map``).

A thin front door over :func:`geo.staticmap.render_map`, with the filters and options of the
analytics commands (:mod:`pipelines.analytics_cli`), so ``export map --layer hotspots`` shows
exactly the cells or areas ``hotspots`` writes to a table.
"""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from geo import db
from pipelines.analytics_cli import (
    CategoryOption,
    DateOption,
    EndOption,
    Level,
    SourceOption,
    _filters,
    check_positive,
)

export_app = typer.Typer(
    no_args_is_help=True,
    help="Exports for planners: static maps (PNG, PDF) ready to print or paste into a report.",
)


class MapLayer(StrEnum):
    """What a map shows."""

    hotspots = "hotspots"
    reports = "reports"


@export_app.callback()
def _export() -> None:
    # A callback keeps ``map`` a subcommand (typer runs a lone command as the app itself).
    pass


@export_app.command("map")
def map_cmd(
    out: Annotated[
        Path, typer.Option(help="Output file: .png (200 dpi, A4 landscape) or .pdf (vector).")
    ],
    layer: Annotated[
        MapLayer,
        typer.Option(help="Gi* hot and cold spots, or reports per cell or area."),
    ] = MapLayer.hotspots,
    res: Annotated[int, typer.Option(help="H3 resolution of the cells.")] = 8,
    level: Annotated[Level | None, typer.Option(help="Areas instead of H3 cells.")] = None,
    k: Annotated[int, typer.Option(help="k-ring of the H3 neighbourhood (hot spots).")] = 1,
    start: DateOption = None,
    end: EndOption = None,
    category: CategoryOption = None,
    source: SourceOption = None,
    per_km2: Annotated[
        bool, typer.Option("--per-km2", help="Reports per km2 of the cell or area.")
    ] = False,
    title: Annotated[
        str | None,
        typer.Option(help="Title (by default one in Indonesian from the layer and filters)."),
    ] = None,
) -> None:
    """Draw a map of hot spots or report counts, with legend, scale and attribution."""
    from geo.staticmap import map_format, render_map

    fmt = map_format(out)
    check_positive(k, "--k")
    filters = _filters(start, end, category, source)
    started = time.perf_counter()
    with db.connect(db.reader_url()) as conn:
        render_map(
            conn,
            layer=layer.value,
            res=res,
            level=level.value if level else None,
            k=k,
            filters=filters,
            per_km2=per_km2,
            title=title,
            out=out,
        )
    shapes = level.value if level else f"H3 res-{res} cells"
    if layer is MapLayer.hotspots:
        what = "hot-spot"
    else:
        what = "report-density" if per_km2 else "report-count"
    typer.echo(
        f"Wrote a {what} map of {shapes} ({fmt.upper()}) to {out} "
        f"in {time.perf_counter() - started:.1f} s."
    )
