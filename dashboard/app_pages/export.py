"""Ekspor: the current filters' hot-spot layer and area statistics as GeoJSON, GeoPackage
(QGIS) and CSV, and a static map as PNG or PDF.

Files are made when the button is pressed (deferred downloads), from the same ``geo``
functions as ``pipelines hotspots`` / ``sla`` / ``export map``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import data, frame
from dashboard.components.labels import LEVEL_LABELS
from geo.export import cell_polygons, table_bytes

FORMATS = {
    "GeoJSON": ("geojson", "application/geo+json"),
    "GPKG": ("gpkg", "application/geopackage+sqlite3"),
    "CSV": ("csv", "text/csv"),
}

state, filters, info = frame.current()
st.header("Ekspor", anchor=False)
period = f"{state.start:%Y%m%d}-{state.end:%Y%m%d}"
st.caption(
    "Semua berkas mengikuti filter di panel kiri (periode, kategori, sumber, status). "
    "Statistik wilayah dibatasi pada wilayah pilihan; lapisan titik panas selalu mencakup "
    "seluruh Jakarta (Gi* membandingkan setiap sel dengan seluruh wilayah studi). "
    "GeoJSON dan GeoPackage memakai EPSG:4326 dan dapat dibuka di QGIS. Batas wilayah: "
    "BPS/OCHA via HDX, CC BY-IGO."
)
c1, c2 = st.columns(2)
RES_LABELS = {7: "7 (≈ 5,2 km²)", 8: "8 (≈ 0,74 km²)", 9: "9 (≈ 0,11 km²)"}
res = c1.selectbox(
    "Resolusi H3",
    list(RES_LABELS),
    index=list(RES_LABELS).index(state.res),
    format_func=RES_LABELS.__getitem__,
    key="export_res",
)
level = c2.selectbox(
    "Tingkat wilayah",
    list(LEVEL_LABELS),
    index=2,
    format_func=LEVEL_LABELS.__getitem__,
    key="export_level",
)


def deferred(build: Callable[[str], bytes], arg: str) -> Callable[[], bytes]:
    """``build(arg)`` for a download button's ``data``: made only when the button is pressed."""

    def make() -> bytes:
        return build(arg)

    return make


def hotspot_file(fmt: str) -> bytes:
    """The hot-spot layer of the current filters in ``fmt``."""
    cells = data.analytics("hotspot_cells", filters, res=int(res), k=1)
    geometry = cell_polygons(cells["cell"].tolist()) if fmt != "CSV" else None
    return table_bytes(cells, fmt, geometry=geometry)


def area_file(fmt: str) -> bytes:
    """Per area: reports, per km², SLA shares and Gi* of the current filters, in ``fmt``."""
    counts = data.analytics("area_counts", filters, level=level)
    sla = data.analytics("sla_summary", filters, level=level, by=None)
    gi = data.analytics("hotspot_areas", filters, level=level)
    table = counts.merge(sla.drop(columns=["name", "reports"]), on="code", how="left").merge(
        gi[["code", "z", "p", "p_fdr", "gi_bin"]], on="code", how="left"
    )
    table["reports_per_km2"] = table["reports"] / table["area_km2"]
    if state.area:  # the scope's areas, or the area containing it at a coarser level
        codes = table["code"].astype(str)
        area = state.area
        table = table[codes.str.startswith(area) | codes.map(area.startswith)]
    geometry = None
    if fmt != "CSV":
        shapes = data.areas(level, loaded_at=data.boundary_status()["loaded_at"], simplify_m=0)
        table = table.merge(shapes[["code", "geometry"]], on="code", how="left")
        geometry = table.pop("geometry").tolist()
    return table_bytes(pd.DataFrame(table), fmt, geometry=geometry)


st.subheader("Lapisan titik panas (H3)", anchor=False)
cols = st.columns(len(FORMATS))
for col, (fmt, (ext, mime)) in zip(cols, FORMATS.items(), strict=True):
    col.download_button(
        fmt,
        data=deferred(hotspot_file, fmt),
        file_name=f"pantau_titik_panas_r{res}_{period}.{ext}",
        mime=mime,
        icon=":material/download:",
        key=f"hex_{fmt}",
        on_click="ignore",
    )

st.subheader(f"Statistik per {LEVEL_LABELS[level].lower()}", anchor=False)
cols = st.columns(len(FORMATS))
for col, (fmt, (ext, mime)) in zip(cols, FORMATS.items(), strict=True):
    col.download_button(
        fmt,
        data=deferred(area_file, fmt),
        file_name=f"pantau_{level}_{period}.{ext}",
        mime=mime,
        icon=":material/download:",
        key=f"area_{fmt}",
        on_click="ignore",
    )

st.subheader("Peta statis", anchor=False)
st.caption("Dengan judul, legenda, periode dan atribusi data; untuk laporan dan presentasi.")
layer = st.radio(
    "Isi peta",
    ["hotspots", "reports"],
    horizontal=True,
    key="export_layer",
    format_func={"hotspots": "Titik panas (Gi*)", "reports": "Jumlah laporan"}.get,
)


def static_map(suffix: str) -> bytes:
    """The static map of the current filters as PNG or PDF bytes."""
    from geo import staticmap

    with tempfile.TemporaryDirectory() as tmp, data.reader_connection() as conn:
        out = Path(tmp) / f"peta{suffix}"
        staticmap.render_map(conn, layer=layer, res=int(res), filters=filters, out=out)
        return out.read_bytes()


map_cols = st.columns(2)
for col, suffix in zip(map_cols, (".png", ".pdf"), strict=True):
    col.download_button(
        suffix[1:].upper(),
        data=deferred(static_map, suffix),
        file_name=f"pantau_peta_{layer}_{period}{suffix}",
        mime="image/png" if suffix == ".png" else "application/pdf",
        icon=":material/map:",
        key=f"map_{suffix}",
        on_click="ignore",
    )
st.caption(
    f"Baris perintah yang sama: `python -m pipelines export map --out peta.png --res {res} "
    f"--start {state.start or date.today()} --end {state.end or date.today()}`"
)
