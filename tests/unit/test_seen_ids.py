"""The loader's record of staged ids: only repeated ids are deduplicated in SQL."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipelines.ingest import SeenIds


def test_repeats_within_and_across_files_are_found() -> None:
    seen = SeenIds()
    seen.update(["1", "2", "2", "3"])
    seen.update(["4", "3", "5"])
    seen.add("5")
    seen.add("6")
    assert seen.repeated == {"2", "3", "5"}
    assert seen.ids == {"1", "2", "3", "4", "5", "6"}


@given(st.lists(st.lists(st.sampled_from("abcdefgh"), max_size=8), max_size=6))
def test_update_agrees_with_counting(files: list[list[str]]) -> None:
    seen = SeenIds()
    for ids in files:
        seen.update(ids)
    every = [i for ids in files for i in ids]
    assert seen.repeated == {i for i in set(every) if every.count(i) > 1}
