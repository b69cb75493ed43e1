"""Find a reference file: offline mirror first, then the pinned URL, always checksum-verified.

The manifest ``data/sources.toml`` names each file's mirror path, pinned URL, sha256, licence
and attribution. Reference data is never committed to the repository.
"""

from __future__ import annotations

import hashlib
import shutil
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from geo.errors import DataSourceError
from geo.settings import REPO_ROOT, Settings

MANIFEST = REPO_ROOT / "data" / "sources.toml"


@dataclass(frozen=True, slots=True)
class SourceEntry:
    """One reference file of the manifest."""

    key: str
    title: str
    mirror_path: str
    sha256: str
    source: str
    licence: str
    attribution: str
    url: str | None = None
    default: bool = False


def boundary_sources() -> dict[str, SourceEntry]:
    """The boundary files of the manifest, by key."""
    with MANIFEST.open("rb") as fh:
        manifest = tomllib.load(fh)
    return {
        key: SourceEntry(
            key=key,
            title=e["title"],
            mirror_path=e["mirror_path"],
            sha256=e["sha256"],
            source=e["source"],
            licence=e["licence"],
            attribution=e["attribution"],
            url=e.get("url"),
            default=e.get("default", False),
        )
        for key, e in manifest["boundaries"].items()
    }


def default_boundary_source() -> SourceEntry:
    """The official default set (BPS 2020)."""
    return next(e for e in boundary_sources().values() if e.default)


def entry_for_checksum(sha256: str) -> SourceEntry | None:
    """The manifest entry whose file has this checksum (to credit a user-supplied copy)."""
    return next((e for e in boundary_sources().values() if e.sha256 == sha256), None)


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(entry: SourceEntry, settings: Settings) -> Path:
    """A verified local copy of ``entry``: from the mirror, else the cache, else downloaded.

    Raises
    ------
    DataSourceError
        When no copy can be found or downloaded, or a copy has the wrong checksum.
    """
    if settings.data_mirror is not None:
        mirrored = settings.data_mirror / entry.mirror_path
        if mirrored.exists():
            _verify(mirrored, entry)
            return mirrored
    cached = settings.cache_dir / "data" / entry.mirror_path
    if cached.exists() and sha256_of(cached) == entry.sha256:
        return cached
    if entry.url:
        return _download(entry, cached)
    where = settings.data_mirror or "(no mirror: PANTAU_DATA_MIRROR unset, ../shared/data absent)"
    msg = f"{entry.title}: not in the mirror {where} and no download URL is pinned."
    raise DataSourceError(msg)


def _verify(path: Path, entry: SourceEntry) -> None:
    actual = sha256_of(path)
    if actual != entry.sha256:
        msg = (
            f"{path} has sha256 {actual}, expected {entry.sha256} ({entry.title}): "
            "the copy is altered."
        )
        raise DataSourceError(msg)


def _download(entry: SourceEntry, target: Path) -> Path:
    assert entry.url is not None
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    try:
        with urllib.request.urlopen(entry.url, timeout=60) as response, partial.open("wb") as fh:
            shutil.copyfileobj(response, fh)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        partial.unlink(missing_ok=True)
        msg = (
            f"Cannot download {entry.title} from {entry.url}: {exc}.\n"
            f"Get the file (sha256 {entry.sha256}) and either put it at "
            f"<mirror>/{entry.mirror_path} with PANTAU_DATA_MIRROR=<mirror>, or pass its path to "
            "`python -m pipelines boundaries load PATH`."
        )
        raise DataSourceError(msg) from exc
    actual = sha256_of(partial)
    if actual != entry.sha256:
        partial.unlink(missing_ok=True)
        msg = f"Downloaded {entry.url} has sha256 {actual}, expected {entry.sha256}: refused."
        raise DataSourceError(msg)
    partial.replace(target)
    return target
