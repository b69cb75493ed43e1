"""Indonesian labels for codes shown on screen (no streamlit)."""

from __future__ import annotations

from geo.taxonomy import UNMAPPED, load_taxonomy

SOURCE_LABELS = {"jaki": "JAKI", "qlue": "Qlue"}
STATUS_LABELS = {
    "received": "Diterima",
    "coordinated": "Dikoordinasikan",
    "in_progress": "Dalam proses",
    "completed": "Selesai",
}
LEVEL_LABELS = {"kota": "Kota", "kecamatan": "Kecamatan", "kelurahan": "Kelurahan"}
#: ArcGIS-style Gi* bins, as a legend reads them.
GI_BIN_LABELS = {
    3: "Titik panas (99 %)",
    2: "Titik panas (95 %)",
    1: "Titik panas (90 %)",
    0: "Tidak signifikan",
    -1: "Titik dingin (90 %)",
    -2: "Titik dingin (95 %)",
    -3: "Titik dingin (99 %)",
}
PATTERN_LABELS = {
    "new hot spot": "Titik panas baru",
    "consecutive hot spot": "Titik panas berturut-turut",
    "intensifying hot spot": "Titik panas menguat",
    "persistent hot spot": "Titik panas menetap",
    "diminishing hot spot": "Titik panas melemah",
    "sporadic hot spot": "Titik panas sporadis",
    "oscillating hot spot": "Titik panas berganti-ganti",
    "historical hot spot": "Titik panas historis",
    "new cold spot": "Titik dingin baru",
    "consecutive cold spot": "Titik dingin berturut-turut",
    "intensifying cold spot": "Titik dingin menguat",
    "persistent cold spot": "Titik dingin menetap",
    "diminishing cold spot": "Titik dingin melemah",
    "sporadic cold spot": "Titik dingin sporadis",
    "oscillating cold spot": "Titik dingin berganti-ganti",
    "historical cold spot": "Titik dingin historis",
    "no pattern detected": "Tanpa pola",
}


def category_label(key: str) -> str:
    """The Indonesian label of a canonical category key."""
    if key == UNMAPPED:
        return "Belum dipetakan"
    return load_taxonomy().categories.get(key, key)
