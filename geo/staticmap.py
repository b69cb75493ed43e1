"""Static maps (PNG, PDF) of hot spots and report counts, for planners' printed reports.

The dashboard's maps are interactive and need a browser; a planner's report needs a page that
stands on its own when printed or pasted into a document, offline. So every map here carries
what a reader needs without Pantau: a title and the period (WIB, Indonesian month names), the
filters, a legend that says what a colour means (and, for counts, what they are divided by),
a scale bar and a north arrow, and the attribution the boundary licence requires, read from
the loaded set (``api.boundary_source``) rather than written here, so loading another set
changes the credit line with it.

Choices worth knowing:

- **No basemap tiles.** The machine may be offline and tiles need a licence line of their
  own. The kelurahan boundaries (thin grey) and kota boundaries (bolder), with the kota
  names, are the base that lets a reader find a place.
- **Kepulauan Seribu is an inset**, not left out: its islands are in the study area of every
  analysis (hot spots there are real results), but they lie 15-90 km north of the mainland;
  framing both would shrink the mainland to a third of the page. The inset is drawn at a
  smaller scale and says so.
- **H3 cells are clipped to the coastline** on the main map (the analysis uses whole cells;
  the clipping is only drawn), so the coast reads as a coast. The inset draws whole cells,
  because clipped to islands of a few hundred metres they would vanish.
- **Longitude/latitude with an aspect of 1/cos(latitude)**: around Jakarta (6 deg S, 30 km
  across) this equirectangular view differs from a conformal projection by less than 0.1 %,
  so a kilometre scale bar computed from the latitude is exact enough, and no projection
  library is needed.
- **matplotlib's object API on an explicit Agg canvas, never pyplot**: nothing needs a
  display, and no figure is kept in pyplot's global registry, so nothing leaks across calls
  from a long-running process (the dashboard). matplotlib is not thread-safe and
  ``rc_context`` changes process-wide settings, so one map is drawn at a time (a lock).
- **Text stays text in PDF** (``pdf.fonttype`` 42, TrueType): a planner can search, copy and
  edit the labels in the PDF, and the attribution is machine-readable. The attribution and
  the title are also written to the file's metadata (PNG text chunks, PDF document info).
"""

from __future__ import annotations

import itertools
import math
import textwrap
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import h3
import matplotlib as mpl
import numpy as np
import pandas as pd
import psycopg
import shapely
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection, PatchCollection, PolyCollection
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch, Rectangle
from matplotlib.path import Path as MplPath
from matplotlib.text import Text

from geo.analytics import (
    Filters,
    area_counts,
    cell_counts,
    hotspot_areas,
    hotspot_cells,
    study_area,
)
from geo.boundaries import areas_frame
from geo.db import read_frame
from geo.errors import PantauError
from geo.export import cell_polygons
from geo.indonesian import MONTHS_SHORT, format_decimal
from geo.settings import TIMEZONE
from geo.taxonomy import load_taxonomy

WIB = ZoneInfo(TIMEZONE)

#: Output formats by file extension (matplotlib format names).
FORMATS = {".png": "png", ".pdf": "pdf"}
LAYERS = ("hotspots", "reports")
LEVELS = ("kota", "kecamatan", "kelurahan")
#: H3 resolutions worth drawing on a page: a res-10 cell (75 m across) is 3 pixels at 200 dpi,
#: a res-5 cell (250 km2) covers a third of Jakarta.
MAP_RESOLUTIONS = range(5, 10)
#: Print quality for PNG: an A4 page at 200 dpi is 2338 x 1654 pixels.
DPI = 200
#: A4 landscape, in inches: the page a planner's report prints on.
PAGE_SIZE = (11.69, 8.27)
#: BPS code of Kabupaten Administrasi Kepulauan Seribu (drawn as an inset).
KEPULAUAN_SERIBU = "3101"
#: Boundary simplification for drawing, in metres: under a pixel at 200 dpi on the page.
SIMPLIFY_M = 10.0

#: Gi* classes (ArcGIS ``Gi_Bin``) as planners read them, cold to hot.
BIN_LABELS: dict[int, str] = {
    -3: "Titik dingin 99 %",
    -2: "Titik dingin 95 %",
    -1: "Titik dingin 90 %",
    0: "Tidak signifikan",
    1: "Titik panas 90 %",
    2: "Titik panas 95 %",
    3: "Titik panas 99 %",
}
#: A diverging blue-red scheme (ColorBrewer RdBu, 90 % classes darker than RdBu-7's palest so
#: they stay distinct from "not significant" on paper); neutral grey in the middle.
BIN_COLOURS: dict[int, str] = {
    -3: "#2166ac",
    -2: "#4393c3",
    -1: "#92c5de",
    0: "#e8e8e8",
    1: "#f4a582",
    2: "#d6604d",
    3: "#b2182b",
}
#: Fill of cells or areas without any report on a count map.
NO_REPORTS_COLOUR = "#e8e8e8"
LAND_COLOUR = "#f7f7f4"
KELURAHAN_LINE = "#9a9a9a"
KECAMATAN_LINE = "#6e6e6e"
KOTA_LINE = "#333333"
#: Sequential scheme of count maps (a discrete YlOrRd without its palest yellow).
COUNT_CMAP = "YlOrRd"
COUNT_CLASSES = 6

_SOURCE_NAMES = {"jaki": "JAKI", "qlue": "Qlue"}
_STATUS_NAMES = {
    "received": "diterima",
    "coordinated": "dikoordinasikan",
    "in_progress": "diproses",
    "completed": "selesai",
}
_RC: dict[Any, Any] = {
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "axes.linewidth": 0.6,
}
_LOCK = threading.Lock()


# -- the front door -----------------------------------------------------------------------------
def render_map(
    conn: psycopg.Connection,
    *,
    layer: str = "hotspots",
    res: int = 8,
    level: str | None = None,
    k: int = 1,
    filters: Filters | None = None,
    per_km2: bool = False,
    title: str | None = None,
    out: Path,
) -> Path:
    """Draw a hot-spot or report-count map of Jakarta and write it as PNG or PDF.

    The statistics are exactly those of :func:`geo.analytics.hotspot_cells` /
    :func:`geo.analytics.hotspot_areas` (the ``hotspots`` command) and the counts those of
    :func:`geo.analytics.cell_counts` / :func:`geo.analytics.area_counts`, so the printed map
    agrees with the exported tables and the dashboard.

    Parameters
    ----------
    conn
        A connection that can read the ``api`` views (the reader role is enough).
    layer
        ``"hotspots"``: Getis-Ord Gi* classes (cold 99 % to hot 99 %, FDR-corrected);
        ``"reports"``: reports per cell or area (or per km2 with ``per_km2``).
    res
        H3 resolution of the cells (ignored with ``level``).
    level
        Map areas of this level (``kota``, ``kecamatan``, ``kelurahan``) instead of H3 cells.
    k
        k-ring of the H3 neighbourhood of Gi* (cells only).
    filters
        Period (WIB days), categories and sources; all reports when None.
    per_km2
        Divide by the area of the cell or area (density), and say so in the legend.
    title
        The map's title; by default one in Indonesian derived from the layer and filters.
    out
        The file to write: ``.png`` (200 dpi, A4 landscape) or ``.pdf`` (vector).

    Returns
    -------
    pathlib.Path
        ``out``.

    Raises
    ------
    PantauError
        For an unsupported extension, a missing output folder, an unknown layer or level,
        ``k`` below 1, a resolution outside 5-9, or when no boundaries are loaded. A filter that
        matches no report is not an error: the map says "Tidak ada laporan".
    """
    fmt = map_format(out)
    if layer not in LAYERS:
        msg = f"Unknown map layer {layer!r}: use {' or '.join(LAYERS)}."
        raise PantauError(msg)
    if level is not None and level not in LEVELS:
        msg = f"Unknown level {level!r}: use {', '.join(LEVELS)}."
        raise PantauError(msg)
    if k < 1:
        msg = f"k must be at least 1, not {k}."
        raise PantauError(msg)
    if level is None and res not in MAP_RESOLUTIONS:
        msg = (
            f"A map draws H3 resolutions {MAP_RESOLUTIONS.start}-{MAP_RESOLUTIONS.stop - 1}, "
            f"not {res}: finer cells are too small to see on the page (export a table instead)."
        )
        raise PantauError(msg)
    filters = filters or Filters()
    spec = _MapSpec(layer=layer, res=res, level=level, k=k, filters=filters, per_km2=per_km2)
    base = _read_base(conn, with_kecamatan=level == "kecamatan")
    data = _read_layer(conn, spec, base)
    period = _period(conn, filters)
    texts = _texts(spec, data, base, period, title)
    with _LOCK, mpl.rc_context(_RC):
        figure = _draw(spec, data, base, texts)
        figure.savefig(out, format=fmt, dpi=DPI, metadata=_metadata(fmt, texts))
    return out


def map_format(path: Path) -> str:
    """The image format of ``path`` by its extension, refusing others and missing folders.

    Called by the command line before it connects, so a typo fails at once.
    """
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        msg = f"Cannot write a map to {path.name}: use a .png or .pdf file."
        raise PantauError(msg)
    if not path.parent.is_dir():
        msg = f"The folder {path.parent} does not exist."
        raise PantauError(msg)
    return fmt


# -- Indonesian text --------------------------------------------------------------------------
def format_number(value: float, decimals: int = 0) -> str:
    """A number the Indonesian way: ``12345`` -> ``"12.345"``, ``2.5`` -> ``"2,5"``."""
    return format_decimal(float(value), decimals)


def format_day(day: date) -> str:
    """A day with an Indonesian month abbreviation: ``"1 Jan 2024"``, ``"17 Agt 2024"``."""
    return f"{day.day} {MONTHS_SHORT[day.month - 1]} {day.year}"


def format_moment(moment: datetime) -> str:
    """A moment in Jakarta time, as Indonesians write it: ``"29 Nov 2026 23.08 WIB"``."""
    local = moment.astimezone(WIB)
    return f"{format_day(local.date())} {local:%H.%M} WIB"


def _nice(value: float) -> float:
    """``value`` rounded to two significant digits (a class break a reader can remember)."""
    if value <= 0:
        return 0.0
    magnitude = 10 ** (math.floor(math.log10(value)) - 1)
    return round(value / magnitude) * magnitude


def _decimals(value: float) -> int:
    """Decimals that show ``value`` to two significant digits (0 from 10 up, at most 3)."""
    return min(3, max(0, 1 - math.floor(math.log10(value))))


# -- what to draw -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _MapSpec:
    layer: str
    res: int
    level: str | None
    k: int
    filters: Filters
    per_km2: bool

    @property
    def unit(self) -> str:
        """What one coloured shape is, in Indonesian (for legends)."""
        return self.level or "sel"


@dataclass
class _Base:
    """The boundaries and their provenance."""

    kelurahan: gpd.GeoDataFrame
    kota: gpd.GeoDataFrame
    kecamatan: gpd.GeoDataFrame | None
    source: str
    licence: str | None
    attribution: str | None

    @property
    def mainland(self) -> gpd.GeoDataFrame:
        return self.kota[self.kota["code"] != KEPULAUAN_SERIBU]

    @property
    def islands(self) -> gpd.GeoDataFrame:
        return self.kota[self.kota["code"] == KEPULAUAN_SERIBU]


@dataclass
class _Layer:
    """The coloured shapes: cells or areas, with a Gi* class or a value each."""

    geoms: list[Any]
    values: np.ndarray  # gi_bin (int) or reports (per km2)
    reports: int
    outside: int = 0
    is_cells: bool = True
    counts_by_bin: dict[int, int] = field(default_factory=dict)


def _read_base(conn: psycopg.Connection, *, with_kecamatan: bool) -> _Base:
    row = conn.execute("SELECT source, licence, attribution FROM api.boundary_source").fetchone()
    if row is None:
        msg = "No boundaries loaded: run `python -m pipelines boundaries load` first."
        raise PantauError(msg)
    return _Base(
        kelurahan=areas_frame(conn, "kelurahan", simplify_m=SIMPLIFY_M),
        kota=areas_frame(conn, "kota", simplify_m=SIMPLIFY_M),
        kecamatan=areas_frame(conn, "kecamatan", simplify_m=SIMPLIFY_M) if with_kecamatan else None,
        source=row[0],
        licence=row[1],
        attribution=row[2],
    )


def _read_layer(conn: psycopg.Connection, spec: _MapSpec, base: _Base) -> _Layer:
    if spec.layer == "hotspots":
        return _hotspot_layer(conn, spec, base)
    return _count_layer(conn, spec, base)


def _area_shapes(spec: _MapSpec, base: _Base, codes: pd.Series) -> list[Any]:
    frame = {"kelurahan": base.kelurahan, "kota": base.kota, "kecamatan": base.kecamatan}
    shapes = frame[spec.level or "kelurahan"]
    assert shapes is not None  # read when the level is kecamatan
    by_code = dict(zip(shapes["code"], shapes.geometry, strict=True))
    return [by_code.get(code) for code in codes]


def _hotspot_layer(conn: psycopg.Connection, spec: _MapSpec, base: _Base) -> _Layer:
    if spec.level:
        frame = hotspot_areas(conn, level=spec.level, filters=spec.filters, per_km2=spec.per_km2)
        geoms = _area_shapes(spec, base, frame["code"])
    else:
        frame = hotspot_cells(
            conn, res=spec.res, k=spec.k, filters=spec.filters, per_km2=spec.per_km2
        )
        geoms = cell_polygons(frame["cell"].tolist())
    bins = frame["gi_bin"].to_numpy(dtype=np.int8)
    return _Layer(
        geoms=geoms,
        values=bins,
        reports=int(frame["reports"].sum()),
        outside=int(frame.attrs.get("outside_study_area", 0)),
        is_cells=spec.level is None,
        counts_by_bin={b: int((bins == b).sum()) for b in BIN_LABELS},
    )


def _count_layer(conn: psycopg.Connection, spec: _MapSpec, base: _Base) -> _Layer:
    if spec.level:
        frame = area_counts(conn, spec.level, spec.filters)
        values = frame["reports"].to_numpy(dtype="float64")
        if spec.per_km2:
            values = values / frame["area_km2"].to_numpy(dtype="float64")
        return _Layer(
            geoms=_area_shapes(spec, base, frame["code"]),
            values=values,
            reports=int(frame["reports"].sum()),
            is_cells=False,
        )
    cells = study_area(conn, spec.res)
    counts = cell_counts(conn, spec.res, spec.filters)
    reports = counts.reindex(cells, fill_value=0).to_numpy(dtype="float64")
    ids = [h3.int_to_str(int(c)) for c in cells]
    values = reports
    if spec.per_km2:
        values = reports / np.array([h3.cell_area(c, unit="km^2") for c in ids])
    return _Layer(
        geoms=cell_polygons(ids),
        values=values,
        reports=int(reports.sum()),
        outside=int(counts[~counts.index.isin(cells)].sum()),
    )


_PERIOD_SQL = """
SELECT min(day), max(day) FROM api.daily_counts
WHERE (%(categories)s::text[] IS NULL OR category = ANY(%(categories)s))
  AND (%(sources)s::text[] IS NULL OR source = ANY(%(sources)s))
  AND (%(statuses)s::text[] IS NULL OR status = ANY(%(statuses)s))
  AND (%(day0)s::date IS NULL OR day >= %(day0)s) AND (%(day1)s::date IS NULL OR day <= %(day1)s)
"""


def _period(conn: psycopg.Connection, filters: Filters) -> tuple[date | None, date | None]:
    """The period to print: the filter's days, or the data's first and last day where open."""
    if filters.start and filters.end:
        return filters.start, filters.end
    frame = read_frame(conn, _PERIOD_SQL, filters.params())
    first, last = frame.iloc[0] if not frame.empty else (None, None)
    return filters.start or _as_date(first), filters.end or _as_date(last)


def _as_date(value: Any) -> date | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()


# -- the words on the page --------------------------------------------------------------------
@dataclass(frozen=True)
class _Texts:
    title: str
    subtitle: str
    method: str
    legend_title: str
    notes: list[str]
    attribution: str
    empty: bool


def _category_names(categories: Sequence[str]) -> list[str]:
    known = load_taxonomy().categories
    return [known.get(c, "Belum terpetakan" if c == "unmapped" else c) for c in categories]


def _texts(
    spec: _MapSpec,
    data: _Layer,
    base: _Base,
    period: tuple[date | None, date | None],
    title: str | None,
) -> _Texts:
    filters = spec.filters
    categories = _category_names(filters.categories)
    if spec.layer == "hotspots":
        default = "Titik panas dan titik dingin laporan warga"
    else:
        default = "Kepadatan laporan warga" if spec.per_km2 else "Jumlah laporan warga"
    if len(categories) == 1:
        default += f": {categories[0]}"
    when = _period_text(*period)
    sources = [_SOURCE_NAMES[s] for s in (filters.sources or tuple(_SOURCE_NAMES))]
    parts = [
        f"Periode: {when} (WIB)",
        f"Kategori: {_listing(categories) if categories else 'semua'}",
        f"Sumber: {' & '.join(sources)}",
    ]
    if filters.statuses:
        parts.append(f"Status kini: {', '.join(_STATUS_NAMES[s] for s in filters.statuses)}")
    subtitle = "      ".join(parts)
    empty = data.reports == 0
    where = (
        f"per {spec.level}"
        if spec.level
        else f"per sel H3 resolusi {spec.res} "
        f"(± {format_number(h3.average_hexagon_area(spec.res, unit='km^2'), 2)} km²)"
    )
    if empty:
        method = "Tidak ada laporan untuk filter ini: peta hanya menampilkan batas wilayah."
    elif spec.layer == "hotspots":
        neighbours = "ketetanggaan queen" if spec.level else f"tetangga k = {spec.k}"
        density = " atas laporan per km²" if spec.per_km2 else ""
        method = (
            f"{format_number(data.reports)} laporan · Getis-Ord Gi*{density} {where} "
            f"({neighbours}), kelas dengan koreksi FDR (Benjamini-Hochberg)"
        )
    else:
        method = f"{format_number(data.reports)} laporan, dihitung {where}"
    return _Texts(
        title=title or default,
        subtitle=subtitle,
        method=method,
        legend_title=_legend_title(spec),
        notes=_notes(spec, data),
        attribution=_attribution(base, sources),
        empty=empty,
    )


def _listing(names: Sequence[str], most: int = 3) -> str:
    """Up to ``most`` names, then how many more (a subtitle has one line)."""
    if len(names) <= most:
        return ", ".join(names)
    return f"{', '.join(names[:most])} dan {len(names) - most} lainnya"


def _period_text(first: date | None, last: date | None) -> str:
    if first and last:
        return f"{format_day(first)} – {format_day(last)}"
    if first:
        return f"sejak {format_day(first)}"
    if last:
        return f"sampai {format_day(last)}"
    return "semua data"


def _legend_title(spec: _MapSpec) -> str:
    if spec.layer == "hotspots":
        return "Kelas Gi* (koreksi FDR)"
    shape = f"luas {spec.level}" if spec.level else "luas sel H3"
    if spec.per_km2:
        return f"laporan per km²\n({shape})"
    return (
        f"laporan per {spec.level}" if spec.level else f"laporan per sel H3\n(resolusi {spec.res})"
    )


def _notes(spec: _MapSpec, data: _Layer) -> list[str]:
    notes: list[str] = []
    if not data.reports:
        return notes
    if spec.layer == "hotspots":
        notes.append(
            "Titik panas: tempat yang bersama tetangganya menerima laporan jauh di atas "
            "rata-rata Jakarta, bukan sekadar satu tempat yang ramai."
        )
    if spec.layer == "reports":
        notes.append(
            f"Kelas warna: kuantil dari {spec.unit} yang punya laporan (tiap kelas kira-kira "
            f"sama banyak {spec.unit}), dibulatkan."
        )
    if data.is_cells:
        notes.append("Sel H3 digambar terpotong garis pantai; analisis memakai sel utuh.")
    if data.outside:
        notes.append(
            f"{format_number(data.outside)} laporan di luar wilayah studi (laut, luar DKI) "
            "tidak dihitung."
        )
    return notes


def _attribution(base: _Base, sources: Iterable[str]) -> str:
    credit = base.attribution or base.source
    licence = f" ({base.licence})" if base.licence else ""
    made = format_moment(datetime.now(WIB))
    return (
        f"Batas wilayah: {credit}{licence}   ·   Laporan: {' & '.join(sources)}   ·   "
        f"Dibuat dengan Pantau, {made}"
    )


def _metadata(fmt: str, texts: _Texts) -> dict[str, str]:
    if fmt == "pdf":
        return {"Title": texts.title, "Subject": texts.attribution, "Creator": "Pantau"}
    return {
        "Title": texts.title,
        "Description": f"{texts.subtitle}. {texts.method}",
        "Source": texts.attribution,
        "Software": "Pantau",
    }


# -- drawing ------------------------------------------------------------------------------------
#: Page layout, in figure fractions: the map on the left, legend, notes and inset on the right.
MAP_RECT = (0.035, 0.06, 0.58, 0.79)
PANEL_LEFT, PANEL_TOP, PANEL_BOTTOM = 0.655, 0.85, 0.06
INSET_SIZE = (0.14, 0.33)
_GAP = 0.02


def _draw(spec: _MapSpec, data: _Layer, base: _Base, texts: _Texts) -> Figure:
    figure = Figure(figsize=PAGE_SIZE, dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)  # explicit raster canvas: no display, no pyplot registry
    header = [
        figure.text(0.035, 0.955, texts.title, fontsize=17, weight="bold", va="top"),
        figure.text(0.035, 0.905, texts.subtitle, fontsize=10.5, color="#333333", va="top"),
        figure.text(
            0.035,
            0.878,
            texts.method,
            fontsize=10.5,
            va="top",
            color="#a01010" if texts.empty else "#333333",
            weight="bold" if texts.empty else "normal",
        ),
        figure.text(0.035, 0.022, texts.attribution, fontsize=7.5, color="#555555", va="bottom"),
    ]
    for text in header:
        _fit_width(figure, text, right=0.965)

    main = figure.add_axes(MAP_RECT)
    _frame(main, base.mainland.total_bounds, pad=0.03)
    land = _geometry_path(list(base.kota.geometry))
    main.add_patch(PathPatch(land, facecolor=LAND_COLOUR, lw=0, zorder=0))
    if not texts.empty:
        _draw_layer(main, spec, data, clip=land)
    _draw_boundaries(main, base, level=spec.level)
    _label_kota(main, base.mainland)
    _scale_bar(main, share=1 / 5)
    _north_arrow(main)

    bottom = _legend(figure, spec, data, texts, top=PANEL_TOP)
    bottom = _notes_block(figure, texts.notes, top=bottom - _GAP)
    if not base.islands.empty:
        _inset(figure, spec, data, base, texts, top=bottom - 2 * _GAP)
    for text in figure.findobj(Text):
        # No ligatures: "fi" in "filter" stays two letters, so a PDF reader finds and copies
        # the words as typed (and the attribution stays machine-readable).
        text.set_fontfeatures(["-liga"])
    return figure


def _renderer(figure: Figure) -> Any:
    """The Agg renderer, to measure text before the page is saved."""
    canvas = figure.canvas
    assert isinstance(canvas, FigureCanvasAgg)
    return canvas.get_renderer()


def _fit_width(figure: Figure, text: Any, *, right: float, smallest: float = 6.5) -> None:
    """Shrink a one-line text until it ends before ``right`` (a user's long title, say)."""
    renderer = _renderer(figure)
    to_figure = figure.transFigure.inverted()
    while text.get_fontsize() > smallest:
        box = text.get_window_extent(renderer).transformed(to_figure)
        if box.x1 <= right:
            return
        text.set_fontsize(max(smallest, text.get_fontsize() * min(0.95, right / box.x1)))


def _figure_bottom(figure: Figure, artist: Any) -> float:
    """The bottom of a drawn artist, in figure fractions (to stack the next one below)."""
    box = artist.get_window_extent(_renderer(figure))
    return float(box.transformed(figure.transFigure.inverted()).y0)


def _frame(ax: Axes, bounds: np.ndarray, *, pad: float) -> None:
    """Frame ``bounds`` (lng/lat) so that a kilometre is as long north-south as east-west.

    The limits are widened in one direction to fill the axes exactly (rather than letting
    matplotlib shrink the box), so the map uses its whole rectangle on the page.
    """
    minx, miny, maxx, maxy = (float(b) for b in bounds)
    aspect = 1 / math.cos(math.radians((miny + maxy) / 2))
    dx, dy = (maxx - minx) * (1 + 2 * pad), (maxy - miny) * (1 + 2 * pad)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    box = ax.get_window_extent()  # the axes on the page, in pixels
    box_ratio = box.height / box.width
    if dy * aspect / dx < box_ratio:
        dy = box_ratio * dx / aspect
    else:
        dx = dy * aspect / box_ratio
    ax.set_xlim(cx - dx / 2, cx + dx / 2)
    ax.set_ylim(cy - dy / 2, cy + dy / 2)
    ax.set_aspect(aspect, adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("#bbbbbb")


def _polygons(geom: Any) -> list[shapely.Polygon]:
    parts = shapely.get_parts(geom)
    return [p for p in parts if isinstance(p, shapely.Polygon) and not p.is_empty]


def _geometry_path(geoms: Sequence[Any]) -> MplPath:
    """One compound path of (multi)polygons, holes included.

    Exteriors counter-clockwise and holes clockwise, so both the non-zero rule of the PDF and
    Agg fills leave holes (lakes, enclaves) empty.
    """
    paths = []
    for geom in geoms:
        if geom is None:
            continue
        for polygon in _polygons(shapely.orient_polygons(geom)):
            for ring in (polygon.exterior, *polygon.interiors):
                paths.append(MplPath(np.asarray(ring.coords), closed=True))
    return MplPath.make_compound_path(*paths) if paths else MplPath(np.zeros((0, 2)))


def _colours(spec: _MapSpec, data: _Layer) -> np.ndarray:
    if spec.layer == "hotspots":
        return np.array([mpl.colors.to_rgba(BIN_COLOURS[int(b)]) for b in data.values])
    classes = _count_classes(data.values)
    cmap, norm = classes.scale()
    clipped = np.clip(data.values, classes.bounds[0], np.nextafter(classes.bounds[-1], 0))
    colours = np.asarray(cmap(norm(clipped)))
    colours[data.values <= 0] = mpl.colors.to_rgba(NO_REPORTS_COLOUR)
    return colours


def _draw_layer(
    ax: Axes, spec: _MapSpec, data: _Layer, *, clip: MplPath | None = None, inset: bool = False
) -> None:
    """Fill the cells or areas; on the main map clipped to the land, in the inset whole."""
    colours = _colours(spec, data)
    collection: PolyCollection | PatchCollection
    if data.is_cells:
        rings = [np.asarray(g.exterior.coords) for g in data.geoms]
        # An edge in the fill colour hides the hairline seams antialiasing leaves between
        # neighbouring hexagons; in the inset it also keeps cells of a few pixels visible.
        collection = PolyCollection(
            rings, facecolors=colours, edgecolors=colours, linewidths=0.5 if inset else 0.25
        )
    else:
        keep = [i for i, g in enumerate(data.geoms) if g is not None]
        collection = PatchCollection(
            [PathPatch(_geometry_path([data.geoms[i]])) for i in keep],
            facecolors=colours[keep],
            edgecolors=colours[keep],
            linewidths=0.8 if inset else 0.2,
        )
    collection.set_zorder(1)
    ax.add_collection(collection, autolim=False)
    if clip is not None:
        collection.set_clip_path(clip, ax.transData)


def _rings(geoms: Iterable[Any]) -> list[np.ndarray]:
    parts = shapely.get_parts(np.asarray([g for g in geoms if g is not None], dtype=object))
    return [shapely.get_coordinates(r) for r in shapely.get_rings(parts)]


def _draw_boundaries(ax: Axes, base: _Base, *, level: str | None) -> None:
    layers = [(base.kelurahan, KELURAHAN_LINE, 0.3, 2)]
    if level == "kecamatan" and base.kecamatan is not None:
        layers.append((base.kecamatan, KECAMATAN_LINE, 0.6, 3))
    layers.append((base.kota, KOTA_LINE, 1.0, 4))
    for frame, colour, width, zorder in layers:
        lines = LineCollection(_rings(frame.geometry), colors=colour, linewidths=width)
        lines.set_zorder(zorder)
        ax.add_collection(lines, autolim=False)


def _label_kota(ax: Axes, kota: gpd.GeoDataFrame) -> None:
    halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    for name, geom in zip(kota["name"], kota.geometry, strict=True):
        point = max(_polygons(geom), key=lambda p: p.area).representative_point()
        label = name.removeprefix("Kota ").removeprefix("Kabupaten ")
        ax.text(
            point.x,
            point.y,
            label,
            fontsize=8.5,
            color="#222222",
            style="italic",
            ha="center",
            va="center",
            zorder=6,
            path_effects=halo,
        )


def _scale_bar(ax: Axes, *, share: float, fontsize: float = 7.5) -> None:
    """A kilometre bar at the bottom left, about ``share`` of the map's width.

    Exact at the map's middle latitude (the frame keeps a kilometre the same length in both
    directions, see :func:`_frame`).
    """
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    km_per_degree = 111.32 * math.cos(math.radians((y0 + y1) / 2))
    wanted = (x1 - x0) * km_per_degree * share
    length = max((n for n in (1, 2, 5, 10, 20, 50) if n <= wanted), default=1)
    left, bottom = x0 + 0.05 * (x1 - x0), y0 + 0.035 * (y1 - y0)
    height = 0.009 * (y1 - y0)
    half = length / 2 / km_per_degree
    for i, colour in enumerate(("#222222", "white")):
        ax.add_patch(
            Rectangle(
                (left + i * half, bottom),
                half,
                height,
                facecolor=colour,
                edgecolor="#222222",
                lw=0.6,
                zorder=7,
            )
        )
    middle = length / 2
    labels = ("0", format_number(middle, 0 if middle.is_integer() else 1), f"{length} km")
    for i, text in enumerate(labels):
        ax.text(
            left + i * half,
            bottom + 1.8 * height,
            text,
            fontsize=fontsize,
            zorder=7,
            ha="center",
            va="bottom",
        )


def _north_arrow(ax: Axes) -> None:
    """North is up (the map is not rotated); "U" is Utara, north."""
    x = 0.05
    ax.annotate(
        "",
        xy=(x, 0.2),
        xytext=(x, 0.12),
        xycoords="axes fraction",
        zorder=7,
        arrowprops={
            "arrowstyle": "-|>,head_width=0.35,head_length=0.7",
            "color": "#222222",
            "lw": 1.4,
        },
    )
    ax.text(
        x,
        0.205,
        "U",
        transform=ax.transAxes,
        fontsize=11,
        weight="bold",
        ha="center",
        va="bottom",
        zorder=7,
    )


@dataclass(frozen=True)
class _Classes:
    """Classes of a count map: boundaries (lower bound included) and their labels."""

    bounds: list[float]
    ticks: list[float]
    labels: list[str]

    def scale(self) -> tuple[ListedColormap, BoundaryNorm]:
        n = len(self.bounds) - 1
        colours = mpl.colormaps[COUNT_CMAP](np.linspace(0.12, 1.0, n))
        return ListedColormap(colours), BoundaryNorm(self.bounds, n)


def _count_classes(values: np.ndarray) -> _Classes:
    """Classes of a count or density map: quantiles of the non-zero values, rounded.

    Report counts are very skewed (a few busy cells, many quiet ones): equal-width classes
    would paint almost everything the lowest colour, while quantile classes show where the
    quiet, ordinary and busy places are. Breaks are rounded to two significant digits (whole
    numbers for counts) so the legend reads easily. Zero is not a class: places without
    reports get their own grey. Whole-number classes are labelled by their range ("4–56", the
    last one ending at the maximum), densities at the breaks between classes.
    """
    positive = values[values > 0]
    if positive.size == 0:
        return _Classes(bounds=[0.0, 1.0], ticks=[0.5], labels=["0"])
    top = float(positive.max())
    whole = bool(np.all(np.mod(positive, 1) == 0))
    inner = np.quantile(positive, np.linspace(0, 1, COUNT_CLASSES + 1)[1:-1])
    if whole:
        rounded = {float(round(_nice(float(q)))) for q in inner}
        bounds = [1.0, *sorted(b for b in rounded if 1 < b <= top), top + 1]
        labels = [
            format_number(lo) if hi - 1 <= lo else f"{format_number(lo)}–{format_number(hi - 1)}"
            for lo, hi in itertools.pairwise(bounds)
        ]
        ticks = [(lo + hi) / 2 for lo, hi in itertools.pairwise(bounds)]
        return _Classes(bounds=bounds, ticks=ticks, labels=labels)
    breaks = sorted(b for b in {_nice(float(q)) for q in inner} if 0 < b < top)
    decimals = max([_decimals(b) for b in breaks], default=_decimals(top))
    bounds = [0.0, *breaks, top]
    labels = ["0", *(format_number(b, decimals) for b in bounds[1:])]
    return _Classes(bounds=bounds, ticks=bounds, labels=labels)


def _boundary_handles(level: str | None) -> list[Line2D]:
    handles = [
        Line2D([], [], color=KOTA_LINE, lw=1.0, label="Batas kota"),
        Line2D([], [], color=KELURAHAN_LINE, lw=0.6, label="Batas kelurahan"),
    ]
    if level == "kecamatan":
        handles.insert(1, Line2D([], [], color=KECAMATAN_LINE, lw=0.8, label="Batas kecamatan"))
    return handles


def _legend(figure: Figure, spec: _MapSpec, data: _Layer, texts: _Texts, *, top: float) -> float:
    """The legend at the top right; returns its bottom (figure fraction)."""
    options: dict[str, Any] = {
        "loc": "upper left",
        "frameon": False,
        "fontsize": 9,
        "alignment": "left",
        "handlelength": 2.2,
        "handleheight": 1.3,
        "labelspacing": 0.45,
        "borderaxespad": 0,
        "borderpad": 0,
    }
    handles: list[Any] = []
    if spec.layer == "hotspots" and not texts.empty:
        handles = [
            Patch(
                facecolor=BIN_COLOURS[b],
                edgecolor="#999999",
                lw=0.4,
                label=f"{BIN_LABELS[b]}   ({format_number(data.counts_by_bin[b])} {spec.unit})",
            )
            for b in sorted(BIN_LABELS, reverse=True)
        ]
        options.update(title=texts.legend_title, title_fontsize=10)
    elif spec.layer == "reports" and not texts.empty:
        top = _colour_bar(figure, data.values, texts.legend_title, top=top) - 1.5 * _GAP
        empty_places = int((data.values <= 0).sum())
        if empty_places:
            handles = [
                Patch(
                    facecolor=NO_REPORTS_COLOUR,
                    edgecolor="#999999",
                    lw=0.4,
                    label=f"Tanpa laporan   ({format_number(empty_places)} {spec.unit})",
                )
            ]
    if spec.level == "kelurahan" and not texts.empty:
        # The BPS placeholder units (lakes, a leftover strip) are no kelurahan: no value.
        handles.append(
            Patch(
                facecolor=LAND_COLOUR,
                edgecolor="#999999",
                lw=0.4,
                label="Bukan kelurahan (danau, unit sisa BPS)",
            )
        )
    handles += _boundary_handles(spec.level)
    legend = figure.legend(handles=handles, bbox_to_anchor=(PANEL_LEFT, top), **options)
    return _figure_bottom(figure, legend)


def _colour_bar(figure: Figure, values: np.ndarray, label: str, *, top: float) -> float:
    """A classed colour bar with Indonesian numbers under its title; returns its bottom."""
    title = figure.text(PANEL_LEFT, top, label, fontsize=10, va="top")
    bar_top = _figure_bottom(figure, title) - 0.012
    height = 0.2
    cax = figure.add_axes((PANEL_LEFT + 0.004, bar_top - height, 0.022, height))
    classes = _count_classes(values)
    cmap, norm = classes.scale()
    bar = figure.colorbar(
        ScalarMappable(norm=norm, cmap=cmap), cax=cax, ticks=classes.ticks, spacing="uniform"
    )
    bar.ax.set_yticklabels(classes.labels, fontsize=8.5)
    bar.ax.tick_params(length=0 if classes.ticks != classes.bounds else 3.5)
    bar.outline.set_linewidth(0.5)
    return bar_top - height


def _notes_block(figure: Figure, notes: list[str], *, top: float) -> float:
    """Short notes under the legend; returns their bottom."""
    if not notes:
        return top
    wrapped = "\n".join(textwrap.fill(note, 66) for note in notes)
    text = figure.text(
        PANEL_LEFT, top, wrapped, fontsize=7.5, color="#444444", va="top", linespacing=1.4
    )
    return _figure_bottom(figure, text)


def _inset(
    figure: Figure, spec: _MapSpec, data: _Layer, base: _Base, texts: _Texts, *, top: float
) -> None:
    """Kepulauan Seribu at a smaller scale, bottom right, with a note beside it saying so."""
    width, height = INSET_SIZE
    height = max(0.15, min(height, top - PANEL_BOTTOM))
    ax = figure.add_axes((PANEL_LEFT, PANEL_BOTTOM, width, height))
    _frame(ax, base.islands.total_bounds, pad=0.05)
    ax.set_facecolor("#fbfbfb")
    islands = list(base.islands.geometry)
    ax.add_patch(PathPatch(_geometry_path(islands), facecolor=LAND_COLOUR, lw=0, zorder=0))
    if not texts.empty:
        _draw_layer(ax, spec, data, inset=True)
    # Islands of a few hundred metres are specks at this scale: a bold outline keeps them.
    outline = LineCollection(_rings(islands), colors=KOTA_LINE, linewidths=0.6)
    outline.set_zorder(4)
    ax.add_collection(outline, autolim=False)
    _scale_bar(ax, share=1 / 2.5, fontsize=6.5)
    figure.text(
        PANEL_LEFT + width + 0.012,
        PANEL_BOTTOM + height,
        "Sisipan: Kepulauan Seribu\n(skala lebih kecil; 15–90 km\ndi utara peta utama)",
        fontsize=8,
        color="#333333",
        va="top",
        linespacing=1.4,
    )
