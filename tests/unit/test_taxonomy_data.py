"""The reviewed category mapping (data/taxonomy) covers both apps' label lists exactly.

The reference lists are read from the shared data mirror (``../shared/data/reference``); they
are not copied into the repository. A missing mirror fails the run, it is never skipped.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from geo.settings import REPO_ROOT, get_settings

TAXONOMY_DIR = REPO_ROOT / "data" / "taxonomy"
CATEGORIES_CSV = TAXONOMY_DIR / "categories.csv"
SOURCE_LABELS_CSV = TAXONOMY_DIR / "source_labels.csv"

#: The canonical keys, in display order.
CANONICAL_KEYS = [
    "jalan",
    "pohon",
    "parkir_liar",
    "ketertiban",
    "sampah",
    "banjir",
    "saluran_air",
    "pkl",
    "pelanggaran_bangunan",
    "fasilitas_umum",
    "penerangan_jalan",
    "lalu_lintas",
    "utilitas",
    "lingkungan",
    "kesehatan",
    "sosial",
    "pendidikan",
    "administrasi",
    "kebakaran",
    "lainnya",
]
SOURCES = ("jaki", "qlue")


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    if not path.is_file():
        pytest.fail(f"{path} is missing.")
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def _reference_dir() -> Path:
    mirror = get_settings().data_mirror
    if mirror is None:
        pytest.fail("../shared/data is missing (or PANTAU_DATA_MIRROR unset): the tests need it.")
    return mirror / "reference"


@pytest.fixture(scope="module")
def reference_labels() -> dict[str, list[str]]:
    """The labels of both apps as listed in the shared reference files."""
    ref = _reference_dir()
    jaki_path = ref / "jaki_categories.txt"
    qlue_path = ref / "qlue_categories.csv"
    for path in (jaki_path, qlue_path):
        if not path.is_file():
            pytest.fail(f"{path} is missing from the data mirror.")
    jaki = [
        line
        for line in jaki_path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    with qlue_path.open(encoding="utf-8", newline="") as f:
        qlue = [row["category"] for row in csv.DictReader(f)]
    assert jaki, "no JAKI labels read"
    assert qlue, "no Qlue labels read"
    return {"jaki": jaki, "qlue": qlue}


@pytest.fixture(scope="module")
def categories() -> list[dict[str, str]]:
    """Rows of categories.csv."""
    header, rows = _read_csv(CATEGORIES_CSV)
    assert header == ["category", "label_id", "label_en", "description_id"]
    return rows


@pytest.fixture(scope="module")
def source_labels() -> list[dict[str, str]]:
    """Rows of source_labels.csv."""
    header, rows = _read_csv(SOURCE_LABELS_CSV)
    assert header == ["source", "label", "category", "note"]
    return rows


def test_canonical_keys_are_the_twenty_in_order(categories: list[dict[str, str]]) -> None:
    keys = [row["category"] for row in categories]
    assert len(set(CANONICAL_KEYS)) == len(CANONICAL_KEYS) == 20
    duplicates = [key for key, n in Counter(keys).items() if n > 1]
    assert not duplicates, f"duplicate canonical keys: {duplicates}"
    assert keys == CANONICAL_KEYS


def test_categories_have_labels_and_descriptions(categories: list[dict[str, str]]) -> None:
    for row in categories:
        for field in ("label_id", "label_en", "description_id"):
            assert row[field], f"{row['category']}: empty {field}"


def test_every_reference_label_has_exactly_one_row(
    reference_labels: dict[str, list[str]], source_labels: list[dict[str, str]]
) -> None:
    counts = Counter((row["source"], row["label"]) for row in source_labels)
    missing = []
    repeated = []
    for source, labels in reference_labels.items():
        for label in labels:
            n = counts[(source, label)]
            if n == 0:
                missing.append((source, label))
            elif n > 1:
                repeated.append((source, label))
    assert not missing, f"reference labels without a mapping row: {missing}"
    assert not repeated, f"reference labels mapped more than once: {repeated}"


def test_no_labels_outside_the_reference_lists(
    reference_labels: dict[str, list[str]], source_labels: list[dict[str, str]]
) -> None:
    known = {(source, label) for source, labels in reference_labels.items() for label in labels}
    sources = {row["source"] for row in source_labels}
    assert sources <= set(SOURCES), f"unknown sources: {sources - set(SOURCES)}"
    extra = [
        (row["source"], row["label"])
        for row in source_labels
        if (row["source"], row["label"]) not in known
    ]
    assert not extra, f"labels not in the reference lists: {extra}"


def test_no_duplicate_source_label_pairs(source_labels: list[dict[str, str]]) -> None:
    counts = Counter((row["source"], row["label"]) for row in source_labels)
    duplicates = [pair for pair, n in counts.items() if n > 1]
    assert not duplicates, f"duplicate (source, label) rows: {duplicates}"


def test_every_mapped_category_is_canonical(source_labels: list[dict[str, str]]) -> None:
    bad = [
        (row["source"], row["label"], row["category"])
        for row in source_labels
        if row["category"] not in CANONICAL_KEYS
    ]
    assert not bad, f"rows mapped to unknown categories: {bad}"


def test_every_category_but_lainnya_is_used(
    categories: list[dict[str, str]], source_labels: list[dict[str, str]]
) -> None:
    used = {row["category"] for row in source_labels}
    unused = [
        row["category"]
        for row in categories
        if row["category"] != "lainnya" and row["category"] not in used
    ]
    assert not unused, f"canonical categories with no source label: {unused}"


@pytest.mark.parametrize("path", [CATEGORIES_CSV, SOURCE_LABELS_CSV], ids=lambda p: p.name)
def test_no_surrounding_whitespace(path: Path) -> None:
    header, rows = _read_csv(path)
    cells = [("header", name) for name in header]
    cells += [(f"row {i}", value) for i, row in enumerate(rows, start=2) for value in row.values()]
    bad = [
        (where, value)
        for where, value in cells
        if not isinstance(value, str) or value != value.strip()
    ]
    assert not bad, f"{path.name}: cells with leading/trailing whitespace or missing: {bad}"


def test_loaded_labels_are_non_empty_without_surrounding_blanks() -> None:
    """The JAKI fast path looks labels up as given: one with blanks must not be in the table."""
    from geo.taxonomy import load_taxonomy

    labels = [label for _, label in load_taxonomy().labels]
    assert labels and all(label and label == label.strip() for label in labels)
