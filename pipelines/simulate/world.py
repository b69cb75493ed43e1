"""The static world the generator draws from: kelurahan, labels, agencies, planted hotspots."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import shapely

from geo import db
from geo.boundaries import areas_frame
from geo.errors import PantauError
from geo.taxonomy import Taxonomy, load_taxonomy
from pipelines.simulate import calibration as cal
from pipelines.simulate.space import Area, make_area

#: H3 resolution of the planted hotspots (issue: "a few H3 res-8 cells").
HOTSPOT_RESOLUTION = 8

#: Agencies (OPD) by canonical category; "{kota}" is the kota name, "{kel}" the kelurahan's.
AGENCY_BY_CATEGORY = {
    "jalan": "Suku Dinas Bina Marga Kota Administrasi {kota}",
    "penerangan_jalan": "Suku Dinas Bina Marga Kota Administrasi {kota}",
    "utilitas": "Suku Dinas Bina Marga Kota Administrasi {kota}",
    "pohon": "Suku Dinas Pertamanan dan Hutan Kota Kota Administrasi {kota}",
    "parkir_liar": "Suku Dinas Perhubungan Kota Administrasi {kota}",
    "lalu_lintas": "Suku Dinas Perhubungan Kota Administrasi {kota}",
    "ketertiban": "Satuan Polisi Pamong Praja Kota Administrasi {kota}",
    "pkl": "Satuan Polisi Pamong Praja Kota Administrasi {kota}",
    "pelanggaran_bangunan": (
        "Suku Dinas Cipta Karya, Tata Ruang dan Pertanahan Kota Administrasi {kota}"
    ),
    "sampah": "Suku Dinas Lingkungan Hidup Kota Administrasi {kota}",
    "lingkungan": "Suku Dinas Lingkungan Hidup Kota Administrasi {kota}",
    "banjir": "Suku Dinas Sumber Daya Air Kota Administrasi {kota}",
    "saluran_air": "Suku Dinas Sumber Daya Air Kota Administrasi {kota}",
    "kesehatan": "Suku Dinas Kesehatan Kota Administrasi {kota}",
    "sosial": "Suku Dinas Sosial Kota Administrasi {kota}",
    "pendidikan": "Suku Dinas Pendidikan Wilayah {kota}",
    "kebakaran": "Suku Dinas Penanggulangan Kebakaran dan Penyelamatan Kota Administrasi {kota}",
}
AGENCY_DEFAULT = "Kelurahan {kel}"

#: Where the "outside" defects put their points: south of Jakarta (Depok / Bogor), west
#: (Tangerang) and the Java Sea between the coast and the Thousand Islands.
OUTSIDE_BOXES = [(106.72, -6.55, 106.92, -6.42), (106.50, -6.30, 106.64, -6.15)]
SEA_BOXES = [(106.70, -6.03, 106.98, -5.97)]


@dataclass
class Hotspot:
    """A planted concentration of one category in a few H3 res-8 cells."""

    hotspot_id: str
    kind: str  # persistent | emerging
    category: str
    cells: list[str]
    start: date
    end: date
    rate_start: float  # reports per day at ``start``
    rate_end: float  # reports per day at ``end``

    def rate(self, day: date) -> float:
        """Expected extra reports on ``day`` (0 before the start; linear growth after)."""
        if day < self.start or day > self.end:
            return 0.0
        span = max((self.end - self.start).days, 1)
        return self.rate_start + (self.rate_end - self.rate_start) * (day - self.start).days / span


@dataclass
class World:
    """Everything fixed for one run (depends only on the boundaries and the seed)."""

    kelurahan: gpd.GeoDataFrame
    areas: list[Area]
    weights: np.ndarray
    tree: shapely.STRtree
    all_units: shapely.STRtree
    taxonomy: Taxonomy
    labels: dict[str, list[str]]
    label_weights: dict[str, np.ndarray]
    label_category: dict[str, np.ndarray]
    hotspots: list[Hotspot] = field(default_factory=list)
    agency_speed: dict[str, float] = field(default_factory=dict)

    def agency(self, category: str, k: int) -> str:
        """The agency (OPD) handling ``category`` in kelurahan number ``k`` (memoised)."""
        key = (category, k)
        name = self._agency_cache.get(key)
        if name is None:
            template = AGENCY_BY_CATEGORY.get(category, AGENCY_DEFAULT)
            if self._kota_code[k] == "3101":
                template = template.replace(
                    "Kota Administrasi {kota}", "Kabupaten Administrasi {kota}"
                )
            name = template.format(kota=self._kota_name[k], kel=self._kel_name[k])
            self._agency_cache[key] = name
        return name

    def __post_init__(self) -> None:
        self._kota_code = self.kelurahan["kota_code"].to_numpy()
        self._kota_name = self.kelurahan["kota_name"].to_numpy()
        self._kel_name = self.kelurahan["name"].to_numpy()
        self._agency_cache: dict[tuple[str, int], str] = {}

    def speed_of_agency(self, agency: str) -> float:
        """A seeded, stable speed factor per agency (some OPD are slower than others)."""
        if agency not in self.agency_speed:
            digest = hashlib.sha256(agency.encode()).digest()
            z = np.random.default_rng(int.from_bytes(digest[:8], "big")).normal()
            self.agency_speed[agency] = float(np.exp(cal.AGENCY_SPEED_SIGMA * z))
        return self.agency_speed[agency]


def load_kelurahan(boundaries: Path | None) -> gpd.GeoDataFrame:
    """Kelurahan polygons (placeholders excluded) from a file or from the loaded database."""
    if boundaries is not None:
        from pipelines.boundaries.read import read_boundaries

        frame = read_boundaries(boundaries).frame
        frame = frame.rename(columns={"geometry": "geom"}).set_geometry("geom")
    else:
        with db.connect(db.reader_url()) as conn:
            frame = areas_frame(conn, "kelurahan")
            names = db.read_frame(
                conn, "SELECT code, name FROM api.admin_areas WHERE level <> 'kelurahan'"
            )
        lookup = dict(zip(names["code"], names["name"], strict=True))
        frame["kecamatan_name"] = frame["kecamatan_code"].map(lookup)
        frame["kota_name"] = frame["kota_code"].map(lookup)
    frame = frame[~frame["is_placeholder"]].sort_values("code").reset_index(drop=True)
    if frame.empty:
        msg = (
            "No kelurahan to generate reports in: run `python -m pipelines boundaries load` "
            "or pass --boundaries FILE."
        )
        raise PantauError(msg)
    frame["kota_name"] = frame["kota_name"].str.replace(r"^Kota\s+", "", regex=True)
    return frame


def _kelurahan_weights(frame: gpd.GeoDataFrame, rng: np.random.Generator) -> np.ndarray:
    """Volume per kelurahan: its kota's published volume, split by size and liveliness."""
    if "area_km2" in frame:
        area = frame["area_km2"].to_numpy()
    else:  # from a boundary file: measure in UTM 48S, Jakarta's zone
        area = frame.geometry.to_crs(32748).area.to_numpy() / 1e6
    lively = rng.lognormal(0.0, 0.6, len(frame))
    raw = np.sqrt(np.maximum(area, 0.05)) * lively
    weights = np.zeros(len(frame))
    for kota, volume in cal.KOTA_VOLUME.items():
        mask = (frame["kota_code"] == kota).to_numpy()
        if mask.any():
            weights[mask] = volume * raw[mask] / raw[mask].sum()
    other = weights == 0
    if other.any():  # kota not in the published figures (e.g. a test boundary file)
        weights[other] = raw[other] * (weights.sum() or 1.0) / max(raw.sum(), 1e-9)
    return weights / weights.sum()


def _label_tables(taxonomy: Taxonomy) -> tuple[dict[str, list[str]], dict[str, np.ndarray]]:
    """Each source's labels with their calibrated weights (long tail on a Zipf curve)."""
    jaki = taxonomy.labels_of("jaki")
    tail = [label for label in jaki if label not in cal.JAKI_TOP_LABELS]
    zipf = 1.0 / np.arange(1, len(tail) + 1) ** 1.1
    tail_weights = dict(zip(tail, cal.JAKI_TAIL_TOTAL * zipf / zipf.sum(), strict=True))
    jaki_weights = np.array(
        [cal.JAKI_TOP_LABELS.get(label, tail_weights.get(label, 0.0)) for label in jaki]
    )
    qlue = taxonomy.labels_of("qlue")
    qlue_weights = np.array([cal.QLUE_LABEL_SHARES.get(label, 0.05) for label in qlue])
    return {"jaki": jaki, "qlue": qlue}, {"jaki": jaki_weights, "qlue": qlue_weights}


def _plant_hotspots(
    world: World, start: date, end: date, rng: np.random.Generator, scale: float
) -> None:
    """Three persistent hotspots and one emerging one, in distinct, well-separated cells."""
    plan = [
        ("persistent-1", "persistent", "parkir_liar", 2),
        ("persistent-2", "persistent", "sampah", 2),
        ("persistent-3", "persistent", "jalan", 1),
        ("emerging-1", "emerging", "sampah", 2),
    ]
    mainland = np.flatnonzero((world.kelurahan["kota_code"] != "3101").to_numpy())
    if len(mainland) == 0:
        mainland = np.arange(len(world.kelurahan))
    used: list[str] = []
    midpoint = start + (end - start) / 2
    for hotspot_id, kind, category, n_cells in plan:
        for _ in range(1000):
            k = int(rng.choice(mainland))
            lng, lat = world.areas[k].attractors[0]
            centre = h3.latlng_to_cell(lat, lng, HOTSPOT_RESOLUTION)
            cells = [centre]
            if n_cells > 1:
                ring = sorted(set(h3.grid_ring(centre, 1)))
                cells.append(ring[int(rng.integers(0, len(ring)))])
            far = all(h3.grid_distance(c, u) > 4 for c in cells for u in used)
            land = all(
                len(world.tree.query(shapely.Point(h3.cell_to_latlng(c)[::-1]), predicate="within"))
                == 1
                for c in cells
            )
            if far and land:
                break
        used += cells
        if kind == "persistent":
            hotspot = Hotspot(
                hotspot_id, kind, category, cells, start, end, 2.5 * scale, 2.5 * scale
            )
        else:
            hotspot = Hotspot(
                hotspot_id, kind, category, cells, midpoint, end, 0.5 * scale, 8.0 * scale
            )
        world.hotspots.append(hotspot)


def build_world(
    kelurahan: gpd.GeoDataFrame, *, seed: int, start: date, end: date, per_day: float
) -> World:
    """Everything that stays fixed during a run, drawn from ``seed``."""
    rng = np.random.default_rng([seed, 0])
    geoms = list(kelurahan.geometry)
    areas = [make_area(g, rng) for g in geoms]
    taxonomy = load_taxonomy()
    labels, label_weights = _label_tables(taxonomy)
    categories = {
        source: np.array([taxonomy.category_of(source, label) for label in labels[source]])
        for source in labels
    }
    world = World(
        kelurahan=kelurahan,
        areas=areas,
        weights=_kelurahan_weights(kelurahan, rng),
        tree=shapely.STRtree(geoms),
        all_units=shapely.STRtree(geoms),
        taxonomy=taxonomy,
        labels=labels,
        label_weights=label_weights,
        label_category=categories,
    )
    _plant_hotspots(world, start, end, rng, scale=per_day / cal.PER_DAY)
    return world
