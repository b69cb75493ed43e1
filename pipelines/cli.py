"""Command definitions (typer). Each command is a thin front door over a plain module."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from geo import db
from geo.boundaries import boundary_status
from geo.errors import PantauError
from geo.settings import TIMEZONE, get_settings
from pipelines import analytics_cli, export_cli

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Pantau pipelines: local PostGIS, boundaries, ingest, marts and analytics.",
)
db_app = typer.Typer(
    no_args_is_help=True, help="The PostGIS server (project-local or DATABASE_URL)."
)
boundaries_app = typer.Typer(no_args_is_help=True, help="Official administrative boundaries.")
app.add_typer(db_app, name="db")
app.add_typer(boundaries_app, name="boundaries")
app.command("refresh")(analytics_cli.refresh_cmd)
app.command("sla")(analytics_cli.sla_cmd)
app.command("hotspots")(analytics_cli.hotspots_cmd)
app.command("emerging")(analytics_cli.emerging_cmd)
app.command("trends")(analytics_cli.trends_cmd)
app.add_typer(export_cli.export_app, name="export")


# -- db ----------------------------------------------------------------------------------------
@db_app.command("install")
def db_install() -> None:
    """Install PostgreSQL and PostGIS with apt when missing (as root on Debian/Ubuntu)."""
    from pipelines.cluster import ensure_server

    server = ensure_server()
    typer.echo(f"PostgreSQL {server.major} with PostGIS: {server.bindir}")


@db_app.command("up")
def db_up() -> None:
    """Start the project-local PostGIS (initialising it on first use), or check DATABASE_URL."""
    from pipelines.cluster import LocalCluster, ensure_postgis, ensure_server

    settings = get_settings()
    if not settings.manages_local_cluster:
        url = db.admin_url(settings)
        version = ensure_postgis(url)
        typer.echo(f"Using DATABASE_URL {db.redact_url(url)} (PostGIS {version})")
        return
    cluster = LocalCluster(settings.pgdata, ensure_server())
    if not cluster.initialised:
        typer.echo(f"Initialising a PostgreSQL {cluster.server.major} cluster in {cluster.datadir}")
        cluster.init()
    if cluster.is_running():
        typer.echo(f"Already running on port {cluster.port}")
    else:
        port = cluster.start()
        typer.echo(f"Started on 127.0.0.1:{port}")
    cluster.ensure_database(settings.db_name)
    version = ensure_postgis(db.admin_url(settings))
    typer.echo(f"Database {settings.db_name} ready (PostGIS {version}): {db.admin_url(settings)}")


@db_app.command("down")
def db_down() -> None:
    """Stop the project-local server (its data stays in .pgdata/)."""
    from pipelines.cluster import LocalCluster, find_server

    settings = get_settings()
    if not settings.manages_local_cluster:
        typer.echo("DATABASE_URL is set: that server is not managed by Pantau; nothing to stop.")
        return
    server = find_server()
    if server is None:
        typer.echo("No PostgreSQL installed: nothing to stop.")
        return
    stopped = LocalCluster(settings.pgdata, server).stop()
    typer.echo("Stopped." if stopped else "Not running.")


@db_app.command("status")
def db_status(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Say whether the server is running, with its PostgreSQL and PostGIS versions."""
    status = _server_status()
    if as_json:
        typer.echo(json.dumps(status))
    elif status["running"]:
        typer.echo(
            f"running: {status['url']}\nPostgreSQL {status['postgresql']}, "
            f"PostGIS {status['postgis'] or 'not installed in this database'}"
        )
    else:
        typer.echo(f"not running ({status['reason']})")
    raise typer.Exit(0 if status["running"] else 1)


def _server_status() -> dict[str, object]:
    settings = get_settings()
    try:
        url = db.admin_url(settings)
        with db.connect(url, timeout=3) as conn:
            pg = conn.execute("SHOW server_version").fetchone()
            postgis = conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'postgis'"
            ).fetchone()
    except PantauError as exc:
        return {"running": False, "reason": str(exc)}
    return {
        "running": True,
        "url": db.redact_url(url),
        "postgresql": pg[0] if pg else None,
        "postgis": postgis[0] if postgis else None,
        "managed": settings.manages_local_cluster,
    }


class Role(StrEnum):
    """Which connection to print."""

    admin = "admin"
    writer = "writer"
    reader = "reader"


@db_app.command("url")
def db_url(
    role: Annotated[Role, typer.Option(help="Which role's connection.")] = Role.admin,
) -> None:
    """Print a connection URL (admin; writer for the pipelines; reader for the dashboard)."""
    settings = get_settings()
    url = {Role.admin: db.admin_url, Role.writer: db.writer_url, Role.reader: db.reader_url}[role](
        settings
    )
    typer.echo(url)


# -- migrate -----------------------------------------------------------------------------------
@app.command("migrate")
def migrate_cmd() -> None:
    """Apply pending SQL migrations (idempotent) and refresh the roles' privileges."""
    from pipelines.migrate import migrate

    result = migrate(db.admin_url())
    if result.applied:
        typer.echo(f"Applied {len(result.applied)} migration(s): {', '.join(result.applied)}")
    else:
        typer.echo(f"Up to date ({len(result.already_applied)} migration(s) applied before).")


# -- boundaries --------------------------------------------------------------------------------
class BoundaryFormat(StrEnum):
    """Supported boundary layouts."""

    auto = "auto"
    bps2020 = "bps2020"
    jakarta_api = "jakarta-api"


@boundaries_app.command("load")
def boundaries_load(
    path: Annotated[
        Path | None,
        typer.Argument(help="GeoJSON / GPKG / SHP / .zip; default: the official BPS 2020 set."),
    ] = None,
    fmt: Annotated[
        BoundaryFormat, typer.Option("--format", help="File layout.")
    ] = BoundaryFormat.auto,
) -> None:
    """Load kelurahan boundaries (replacing the current set) and derive kecamatan and kota."""
    from pipelines.boundaries.load import file_provenance, load_boundaries
    from pipelines.boundaries.read import read_boundaries
    from pipelines.boundaries.sources import (
        default_boundary_source,
        entry_for_checksum,
        fetch,
        sha256_of,
    )

    settings = get_settings()
    if path is None:
        entry = default_boundary_source()
        path = fetch(entry, settings)
        typer.echo(f"Default boundaries: {entry.title} ({entry.licence}) from {path}")
    boundaries = read_boundaries(path, fmt=fmt.value)
    checksum = sha256_of(path)
    provenance = file_provenance(path, checksum, boundaries, entry_for_checksum(checksum))
    for note in boundaries.notes:
        typer.echo(f"note: {note}")
    with db.connect(db.writer_url(settings)) as conn:
        result = load_boundaries(conn, boundaries, provenance)
    typer.echo(
        f"Loaded {result['kelurahan']} kelurahan (+{result['placeholder']} placeholder units), "
        f"{result['kecamatan']} kecamatan, {result['kota']} kota from {path.name} "
        f"[{boundaries.format}, source {provenance.source}]"
        + (
            f"; {result['reports_reassigned']} report(s) re-assigned"
            if result["reports_reassigned"]
            else ""
        )
    )


@boundaries_app.command("status")
def boundaries_status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Counts per level and the provenance of the loaded boundary set."""
    with db.connect(db.reader_url()) as conn:
        status = boundary_status(conn)
    if as_json:
        typer.echo(json.dumps(status, ensure_ascii=False))
        return
    if status["source"] is None:
        typer.echo("No boundaries loaded: run `python -m pipelines boundaries load`.")
        raise typer.Exit(1)
    typer.echo(
        f"{status['kota']} kota, {status['kecamatan']} kecamatan, {status['kelurahan']} kelurahan "
        f"(+{status['placeholder']} placeholder units)\nsource: {status['source']} "
        f"({status['licence'] or 'licence unknown'}; {status['attribution'] or 'no attribution'})\n"
        f"loaded: {_wib(status['loaded_at'])}"
    )


def _wib(iso: str | None) -> str:
    """An ISO timestamp as Jakarta time, the way users read it."""
    if not iso:
        return "-"
    return datetime.fromisoformat(iso).astimezone(ZoneInfo(TIMEZONE)).strftime("%Y-%m-%d %H:%M WIB")


class SourceName(StrEnum):
    """Feeds Pantau reads."""

    jaki = "jaki"
    qlue = "qlue"


@app.command("ingest")
def ingest_cmd(
    source: Annotated[SourceName, typer.Option(help="Which feed the files are.")],
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (searched recursively).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object last.")] = False,
) -> None:
    """Load feed files into PostGIS as one batch: validated, joined to kelurahan, idempotent."""
    from pipelines import ingest_rows
    from pipelines.ingest import ingest

    if ingest_rows.RowEncoder is ingest_rows.PyRowEncoder:
        typer.echo(
            "note: the compiled row encoder is not built (`make venv` builds it): "
            "rows are encoded in Python, about a third slower",
            err=True,
        )
    result = ingest(source.value, paths)
    reasons = ", ".join(f"{k} {v:,}" for k, v in result.rejected_by_reason.items()) or "none"
    repairs = ", ".join(f"{k} {v:,}" for k, v in result.repaired_by_kind.items()) or "none"
    typer.echo(
        f"Batch {result.batch_id} ({result.source}, {result.files} file(s), "
        f"{result.seconds:.1f} s): "
        f"read {result.read:,} = inserted {result.inserted:,} + updated {result.updated:,} + "
        f"unchanged {result.unchanged:,} + rejected {result.rejected:,}\n"
        f"  rejected: {reasons}\n  repaired: {repairs}\n"
        f"  outside Jakarta: {result.outside_area:,}; "
        f"duplicates in batch: {result.duplicates_in_batch:,}"
    )
    if result.refresh_error:
        typer.echo(f"warning: {result.refresh_error}", err=True)
    if as_json:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False))


@app.command("simulate")
def simulate_cmd(
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="First day (WIB).")],
    end: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="Last day (WIB), included.")],
    out: Annotated[Path, typer.Option(help="Output folder (jaki/, qlue/, truth.parquet).")],
    seed: Annotated[int, typer.Option(help="Random seed: same arguments, same bytes.")] = 7,
    per_day: Annotated[
        float | None, typer.Option(help="Mean reports per day [default: 508].")
    ] = None,
    reports: Annotated[int | None, typer.Option(help="Exactly N reports over the period.")] = None,
    defects: Annotated[float, typer.Option(help="Share of reports given a feed defect.")] = 0.02,
    gzip_files: Annotated[bool, typer.Option("--gzip", help="Write .gz files.")] = False,
    boundaries: Annotated[
        Path | None, typer.Option(help="Boundary file instead of the database.")
    ] = None,
    jaki_share: Annotated[
        str | None, typer.Option(help="JAKI share by year, e.g. 2020=0.48,2021=0.9.")
    ] = None,
) -> None:
    """Write realistic JAKI (JSON Lines) and Qlue (CSV) feeds with a truth table."""
    from pipelines.simulate.calibration import PER_DAY
    from pipelines.simulate.generate import Options, simulate

    if per_day is not None and reports is not None:
        msg = "Give either --per-day or --reports, not both."
        raise PantauError(msg)
    if (per_day is not None and per_day <= 0) or (reports is not None and reports < 0):
        msg = "--per-day must be positive and --reports not negative."
        raise PantauError(msg)
    options = Options(
        start=start.date(),
        end=end.date(),
        seed=seed,
        out=out,
        per_day=per_day if per_day is not None else PER_DAY,
        reports=reports,
        defects=defects,
        gzip=gzip_files,
        boundaries=boundaries,
        jaki_share=_parse_shares(jaki_share),
    )
    summary = simulate(options)
    typer.echo(
        f"{summary.reports:,} reports ({summary.by_source['jaki']:,} JAKI, "
        f"{summary.by_source['qlue']:,} Qlue; {sum(summary.defects.values()):,} with a defect) "
        f"-> {out} ({len(summary.files['jaki'])} JAKI and {len(summary.files['qlue'])} Qlue files, "
        "truth.parquet, manifest.json)"
    )


def _parse_shares(text: str | None) -> dict[int, float]:
    if not text:
        return {}
    shares: dict[int, float] = {}
    for part in text.split(","):
        year, _, value = part.partition("=")
        try:
            shares[int(year)] = float(value)
        except ValueError:
            msg = f"--jaki-share takes YEAR=SHARE pairs like 2020=0.48, not {part!r}."
            raise PantauError(msg) from None
        if not 0 <= shares[int(year)] <= 1:
            msg = f"--jaki-share {part!r}: the share must be between 0 and 1."
            raise PantauError(msg)
    return shares


@boundaries_app.command("locate")
def boundaries_locate(
    csv_in: Annotated[Path, typer.Option("--csv", help="Input CSV with lat,lng columns.")],
    out: Annotated[Path, typer.Option("--out", help="Output CSV.")],
) -> None:
    """Add kelurahan_code, kecamatan_code, kota_code and outside to each row of a CSV."""
    from pipelines.locate import locate_csv

    summary = locate_csv(csv_in, out, db.writer_url())
    typer.echo(
        f"{summary.rows} row(s): {summary.inside} inside, {summary.outside} outside, "
        f"{summary.invalid} without usable coordinates -> {out}"
    )
