"""Reference files: mirror first, then the pinned URL, always checked against sha256."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from geo.errors import DataSourceError
from geo.settings import get_settings
from pipelines.boundaries.sources import (
    SourceEntry,
    boundary_sources,
    default_boundary_source,
    fetch,
)


def _entry(tmp_path: Path, content: bytes, *, url: str | None) -> SourceEntry:
    return SourceEntry(
        key="test",
        title="test file",
        mirror_path="boundaries/test.geojson",
        sha256=hashlib.sha256(content).hexdigest(),
        source="test",
        licence="CC0",
        attribution="nobody",
        url=url,
    )


def _settings(tmp_path: Path, mirror: Path | None):  # type: ignore[no-untyped-def]
    return replace(get_settings(), data_mirror=mirror, cache_dir=tmp_path / "cache")


def test_manifest_pins_the_default_set() -> None:
    entry = default_boundary_source()
    assert entry.key == "bps2020"
    assert entry.licence == "CC BY-IGO"
    assert entry.attribution == "BPS / OCHA, via HDX"
    assert entry.url and entry.url.startswith("https://")
    assert len(entry.sha256) == 64
    assert set(boundary_sources()) == {"bps2020", "jakarta-api-2016"}


def test_mirror_copy_is_used_and_verified(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "boundaries").mkdir(parents=True)
    (mirror / "boundaries" / "test.geojson").write_bytes(b"good")
    entry = _entry(tmp_path, b"good", url=None)
    assert fetch(entry, _settings(tmp_path, mirror)) == mirror / "boundaries" / "test.geojson"

    (mirror / "boundaries" / "test.geojson").write_bytes(b"tampered")
    with pytest.raises(DataSourceError, match="altered"):
        fetch(entry, _settings(tmp_path, mirror))


def test_download_into_cache_when_no_mirror(tmp_path: Path) -> None:
    published = tmp_path / "published.geojson"
    published.write_bytes(b"official")
    entry = _entry(tmp_path, b"official", url=published.as_uri())
    path = fetch(entry, _settings(tmp_path, None))
    assert path == tmp_path / "cache" / "data" / "boundaries" / "test.geojson"
    assert path.read_bytes() == b"official"
    published.unlink()  # the cached copy is reused without the network
    assert fetch(entry, _settings(tmp_path, None)) == path


def test_download_with_wrong_checksum_is_refused(tmp_path: Path) -> None:
    published = tmp_path / "published.geojson"
    published.write_bytes(b"something else")
    entry = _entry(tmp_path, b"official", url=published.as_uri())
    with pytest.raises(DataSourceError, match="refused"):
        fetch(entry, _settings(tmp_path, None))
    assert not (tmp_path / "cache" / "data" / "boundaries" / "test.geojson").exists()


def test_unreachable_url_says_how_to_get_the_file(tmp_path: Path) -> None:
    entry = _entry(tmp_path, b"x", url=(tmp_path / "missing.geojson").as_uri())
    with pytest.raises(DataSourceError) as info:
        fetch(entry, _settings(tmp_path, None))
    message = str(info.value)
    assert "PANTAU_DATA_MIRROR" in message and entry.sha256 in message
    assert "boundaries load PATH" in message


def test_no_mirror_and_no_url(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match="no download URL"):
        fetch(_entry(tmp_path, b"x", url=None), _settings(tmp_path, None))
