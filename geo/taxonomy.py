"""The canonical category taxonomy and the reviewed mapping of each source's labels onto it.

Both live as data in ``data/taxonomy/`` (``categories.csv``, ``source_labels.csv``). A label
that is not in the table is never guessed: :meth:`Taxonomy.category_of` returns None and the
ingest keeps the row as ``unmapped``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache, cached_property

from geo.settings import REPO_ROOT

TAXONOMY_DIR = REPO_ROOT / "data" / "taxonomy"
UNMAPPED = "unmapped"


def _fold(label: str) -> str:
    """Case- and spacing-insensitive form of a label ("  PARKIR  liar" -> "parkir liar")."""
    return " ".join(label.split()).casefold()


@dataclass(frozen=True)
class Taxonomy:
    """Canonical categories (key -> Indonesian label) and (source, label) -> category."""

    categories: dict[str, str]
    labels: dict[tuple[str, str], str]

    def category_of(self, source: str, label: str | None) -> str | None:
        """The canonical category of a source label (ignoring case and spacing), or None."""
        if not label:
            return None
        exact = self.labels.get((source, label))
        return exact if exact is not None else self._folded.get((source, _fold(label)))

    def labels_of(self, source: str) -> list[str]:
        """The source's labels, as spelled in the table."""
        return [label for (src, label) in self.labels if src == source]

    @cached_property
    def _folded(self) -> dict[tuple[str, str], str]:
        return {(src, _fold(label)): cat for (src, label), cat in self.labels.items()}


@cache
def load_taxonomy() -> Taxonomy:
    """Read ``data/taxonomy`` once per process."""
    with (TAXONOMY_DIR / "categories.csv").open(newline="", encoding="utf-8") as fh:
        categories = {row["category"]: row["label_id"] for row in csv.DictReader(fh)}
    with (TAXONOMY_DIR / "source_labels.csv").open(newline="", encoding="utf-8") as fh:
        labels = {(row["source"], row["label"]): row["category"] for row in csv.DictReader(fh)}
    return Taxonomy(categories=categories, labels=labels)
