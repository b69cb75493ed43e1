"""The benchmarks' command line (typer); each benchmark lives in its own module."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

JsonOption = Annotated[bool, typer.Option("--json", help="Also print one JSON object last.")]
#: The generated feeds the ingest, refresh, analytics and dashboard benchmarks load.
ReportsOption = Annotated[int, typer.Option(help="Generated reports (both sources).")]
FeedSeedOption = Annotated[int, typer.Option(help="Random seed of the generated feeds.")]


@app.callback()
def _group() -> None:
    """Pantau benchmarks: each prints a table; --json adds one JSON object as the last line."""


@app.command("spatial_join")
def spatial_join_cmd(
    points: Annotated[
        int, typer.Option(help="Random points in Jakarta's mainland bounding box.")
    ] = 1_000_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    max_vertices: Annotated[
        int | None, typer.Option(help="Re-cut the polygons with ST_Subdivide(N) for this run only.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """PostGIS (as the ingest does it) against geopandas.sjoin on the same points."""
    from bench.spatial_join import run

    run(points=points, seed=seed, max_vertices=max_vertices, as_json=as_json)


@app.command("simulate")
def simulate_cmd(
    reports: Annotated[int, typer.Option(help="Reports in the large run.")] = 1_000_000,
    small: Annotated[
        int, typer.Option(help="Reports in the small run (memory comparison).")
    ] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    as_json: JsonOption = False,
) -> None:
    """Generator throughput and peak memory at two sizes, against a json.dumps floor."""
    from bench.simulate import run

    run(reports=reports, small=small, seed=seed, as_json=as_json)


@app.command("ingest")
def ingest_cmd(
    reports: ReportsOption = 1_000_000,
    seed: FeedSeedOption = 7,
    as_json: JsonOption = False,
) -> None:
    """Generated feeds end to end into a separate bench database, against a plain COPY."""
    from bench.ingest import run

    run(reports=reports, seed=seed, as_json=as_json)


@app.command("refresh")
def refresh_cmd(
    reports: ReportsOption = 1_000_000,
    seed: FeedSeedOption = 7,
    as_json: JsonOption = False,
) -> None:
    """One new day's incremental marts refresh against refresh --full, same run."""
    from bench.analytics import run_refresh

    run_refresh(reports=reports, seed=seed, as_json=as_json)


@app.command("analytics")
def analytics_cmd(
    reports: ReportsOption = 1_000_000,
    seed: FeedSeedOption = 7,
    as_json: JsonOption = False,
) -> None:
    """Gi* (res 9), emerging hot spots (res 8, 104 weeks) and SLA (kelurahan x category)."""
    from bench.analytics import run_analytics

    run_analytics(reports=reports, seed=seed, as_json=as_json)


@app.command("dashboard")
def dashboard_cmd(
    reports: ReportsOption = 1_000_000,
    seed: FeedSeedOption = 7,
    as_json: JsonOption = False,
) -> None:
    """Server time per dashboard page (cold and warm) and bytes sent, on 1,000,000 reports."""
    from bench.dashboard import run

    run(reports=reports, seed=seed, as_json=as_json)
