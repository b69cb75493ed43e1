"""The loader's record of staged ids: which rows of a chunk must wait for the set-based path."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipelines.ingest import SeenIds


def test_repeats_within_and_across_chunks_are_held() -> None:
    seen = SeenIds()
    assert seen.update(["1", "2", "2", "3"]) == {"2"}
    assert seen.update(["4", "3", "5"]) == {"3"}
    assert seen.update(["5", "6"]) == {"5"}
    assert seen.repeated == {"2", "3", "5"}
    assert seen.ids == {"1", "2", "3", "4", "5", "6"}


@given(st.lists(st.lists(st.sampled_from("abcdefgh"), max_size=8), max_size=6))
def test_update_agrees_with_counting(chunks: list[list[str]]) -> None:
    seen = SeenIds()
    for i, ids in enumerate(chunks):
        held = seen.update(ids)
        before = [x for c in chunks[:i] for x in c]
        # held: this chunk's ids already seen, or seen twice in it
        assert held == {x for x in ids if x in before or ids.count(x) > 1}
    every = [i for ids in chunks for i in ids]
    assert seen.repeated == {i for i in set(every) if every.count(i) > 1}
