"""The view's state and its URL (``dashboard/components/state.py``): pure, no Streamlit.

A link must open the same view on any machine, and an invalid link must never break a page:
what cannot be used is dropped with a notice that names it.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.components.state import (
    FREQS,
    KNOWN_KEYS,
    LEVELS,
    MEASURES,
    RESOLUTIONS,
    ROTATE_RANGE,
    SLA_BY,
    SOURCES,
    STATUSES,
    VIEWS,
    ViewState,
    query_from_state,
    state_from_query,
)
from geo.taxonomy import load_taxonomy

CATEGORIES = tuple(load_taxonomy().categories)
AREAS = {
    "3171": "kota",
    "3171010": "kecamatan",
    "3171010001": "kelurahan",
    "3175040005": "kelurahan",
}
Query = dict[str, str | list[str]]


def parse(query: Query) -> ViewState:
    """The view of ``query`` with the real categories and a few known areas."""
    return state_from_query(query, categories=CATEGORIES, area_codes=AREAS)


def sorted_subsets(values: tuple[str, ...]) -> st.SearchStrategy[tuple[str, ...]]:
    return st.sets(st.sampled_from(values)).map(lambda s: tuple(sorted(s)))


@st.composite
def periods(draw: st.DrawFn) -> tuple[date | None, date | None]:
    days = st.dates(min_value=date(2015, 1, 1), max_value=date(2035, 12, 31))
    start, end = draw(st.none() | days), draw(st.none() | days)
    if start and end and end < start:
        start, end = end, start
    return start, end


@st.composite
def view_states(draw: st.DrawFn, *, canonical: bool = True) -> ViewState:
    """Any valid view; with ``canonical``, lists sorted (as the URL writes them)."""

    def subset(values: tuple[str, ...]) -> tuple[str, ...]:
        if canonical:
            return draw(sorted_subsets(values))
        return tuple(draw(st.lists(st.sampled_from(values), unique=True)))

    start, end = draw(periods())
    return ViewState(
        start=start,
        end=end,
        categories=subset(CATEGORIES),
        sources=subset(SOURCES),
        statuses=subset(STATUSES),
        level=draw(st.sampled_from(LEVELS)),
        area=draw(st.none() | st.sampled_from(sorted(AREAS))),
        mode=draw(st.sampled_from([None, "wall"])),
        rotate=draw(st.integers(*ROTATE_RANGE)),
        measure=draw(st.sampled_from(MEASURES)),
        res=draw(st.sampled_from(RESOLUTIONS)),
        view=draw(st.sampled_from(VIEWS)),
        freq=draw(st.sampled_from(FREQS)),
        by=draw(st.sampled_from(SLA_BY)),
    )


def canonical_form(state: ViewState) -> ViewState:
    """The view with its lists sorted: the order of chosen values is not part of the view."""
    return state.with_changes(
        categories=tuple(sorted(state.categories)),
        sources=tuple(sorted(state.sources)),
        statuses=tuple(sorted(state.statuses)),
    )


# -- round trip ------------------------------------------------------------------------------
@given(view_states())
def test_round_trip(state: ViewState) -> None:
    query = query_from_state(state)
    parsed = parse(query)
    assert parsed == state
    assert parsed.notices == ()


@given(view_states(canonical=False))
def test_round_trip_in_any_order_gives_the_sorted_view(state: ViewState) -> None:
    query = query_from_state(state)
    assert parse(query) == canonical_form(state)
    assert query_from_state(parse(query)) == query  # the canonical query is a fixed point


@given(view_states(canonical=False))
def test_canonical_query_is_strings_sorted_and_without_defaults(state: ViewState) -> None:
    query = query_from_state(state)
    assert set(query) <= KNOWN_KEYS
    for key, value in query.items():
        if isinstance(value, list):
            assert key in ("category", "source", "status")
            assert value and value == sorted(value) and all(isinstance(v, str) for v in value)
        else:
            assert isinstance(value, str) and value
    defaults = ViewState()
    for key in ("level", "area", "mode", "rotate", "measure", "res", "view", "freq", "by"):
        assert (key in query) == (getattr(state, key) != getattr(defaults, key)), key


@given(view_states(), st.data())
def test_comma_lists_and_repeated_keys_read_the_same(state: ViewState, data: st.DataObject) -> None:
    """Lists as repeated keys, one comma list, or a mix, in any order, with duplicates."""
    query = query_from_state(state)
    mixed: Query = dict(query)
    for key in ("category", "source", "status"):
        values = list(query.get(key, []))
        if not values:
            continue
        shuffled = data.draw(st.permutations(values + values[:1]))
        cut = data.draw(st.integers(0, len(shuffled)))
        mixed[key] = [",".join(shuffled[:cut]), *shuffled[cut:]] if cut else shuffled
    parsed = parse(mixed)
    assert canonical_form(parsed) == state
    assert parsed.notices == ()


def test_defaults_are_left_out() -> None:
    assert query_from_state(ViewState()) == {}
    assert query_from_state(ViewState(level="kota", rotate=30, res=8, view="gi_bin")) == {}
    assert parse({}) == ViewState()
    assert parse({}).notices == ()


def test_canonical_query_of_a_shared_link() -> None:
    link: Query = {
        "start": "2024-02-01",
        "end": "2024-03-31",
        "category": ["sampah", "banjir"],
        "area": "3171",
        "level": "kecamatan",
    }
    state = parse(link)
    assert state == ViewState(
        start=date(2024, 2, 1),
        end=date(2024, 3, 31),
        categories=("sampah", "banjir"),
        area="3171",
        level="kecamatan",
    )
    assert query_from_state(state) == {**link, "category": ["banjir", "sampah"]}


# -- what a hand-edited link may contain ------------------------------------------------------
def test_comma_list() -> None:
    state = parse({"category": "sampah,banjir", "source": " jaki , qlue ,", "status": ",,"})
    assert state.categories == ("sampah", "banjir")
    assert state.sources == ("jaki", "qlue")
    assert state.statuses == ()
    assert state.notices == ()


def test_repeated_keys() -> None:
    state = parse({"category": ["sampah", "banjir", "sampah"], "status": ["received", "completed"]})
    assert state.categories == ("sampah", "banjir")  # duplicates dropped, first order kept
    assert state.statuses == ("received", "completed")
    assert state.notices == ()


def test_repeated_single_value_key_takes_the_last() -> None:
    state = parse({"start": ["2024-01-01", "2024-02-01"], "level": ["kota", "kelurahan"]})
    assert state.start == date(2024, 2, 1)
    assert state.level == "kelurahan"
    assert state.notices == ()


def test_empty_values_mean_not_given() -> None:
    state = parse({"start": "", "end": "", "area": "", "level": "", "res": "", "category": ""})
    assert state == ViewState()
    assert state.notices == ()


def test_streamlit_keys_are_known() -> None:
    assert parse({"embed": "true", "embed_options": "dark_theme"}).notices == ()


def test_wall_mode() -> None:
    state = parse({"mode": "wall", "rotate": "10"})
    assert state.wall and state.rotate == 10
    assert query_from_state(state) == {"mode": "wall", "rotate": "10"}
    assert not parse({}).wall


def test_notices_are_not_part_of_the_view() -> None:
    noisy = parse({"foo": "1"})
    assert noisy.notices and noisy == ViewState()
    assert noisy.with_changes(level="kecamatan").notices == ()


# -- notices, one per kind ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "field", "fragment"),
    [
        ({"start": "2024-13-01"}, "start", "start='2024-13-01'"),
        ({"end": "31/03/2024"}, "end", "end='31/03/2024'"),
        ({"start": "2024-02-30"}, "start", "format tanggal"),
        ({"category": "nope"}, "categories", "category=nope"),
        ({"source": "twitter"}, "sources", "source=twitter"),
        ({"status": "closed"}, "statuses", "status=closed"),
        ({"area": "999"}, "area", "area='999'"),
        ({"area": "3175888888"}, "area", "tidak dikenal"),  # a placeholder unit: no area page
        ({"level": "desa"}, "level", "level='desa'"),
        ({"level": "Kota"}, "level", "pilihan: kota, kecamatan, kelurahan"),
        ({"res": "10"}, "res", "res='10'"),
        ({"res": "x"}, "res", "res='x'"),
        ({"rotate": "5"}, "rotate", "rotate='5'"),
        ({"rotate": "601"}, "rotate", "rotate='601'"),
        ({"rotate": "abc"}, "rotate", "rotate='abc'"),
        ({"rotate": "30.5"}, "rotate", "rotate='30.5'"),
        ({"mode": "tv"}, "mode", "mode='tv'"),
        ({"measure": "z"}, "measure", "measure='z'"),
        ({"view": "heat"}, "view", "view='heat'"),
        ({"freq": "day"}, "freq", "freq='day'"),
        ({"by": "source"}, "by", "by='source'"),
    ],
)
def test_invalid_value_is_ignored_with_a_notice(query: Query, field: str, fragment: str) -> None:
    state = parse(query)
    assert getattr(state, field) == getattr(ViewState(), field)
    assert len(state.notices) == 1, state.notices
    assert fragment in state.notices[0]


def test_end_before_start_drops_the_period() -> None:
    state = parse({"start": "2024-03-01", "end": "2024-02-01"})
    assert state.start is None and state.end is None
    assert state.notices == ("Periode diabaikan: tanggal akhir sebelum tanggal awal.",)


def test_unknown_keys_are_named() -> None:
    state = parse({"zoom": "3", "foo": "1", "start": "2024-01-01"})
    assert state.start == date(2024, 1, 1)
    assert state.notices == ("Parameter foo, zoom tidak dikenal dan diabaikan.",)


def test_valid_values_are_kept_beside_invalid_ones() -> None:
    state = parse({"category": ["sampah", "nope", "banjir,zzz"], "source": "jaki,twitter"})
    assert state.categories == ("sampah", "banjir")
    assert state.sources == ("jaki",)
    assert state.notices == (
        "Parameter category=nope, zzz diabaikan (tidak dikenal).",
        "Parameter source=twitter diabaikan (tidak dikenal).",
    )


def test_every_problem_of_a_link_is_listed() -> None:
    state = parse({"category": "nope", "start": "2024-13-01", "foo": "1", "area": "999"})
    assert state == ViewState()
    assert len(state.notices) == 4
    text = "\n".join(state.notices)
    for fragment in ("foo", "start='2024-13-01'", "area='999'", "category=nope"):
        assert fragment in text


# -- anything at all -------------------------------------------------------------------------------
KEYS = st.sampled_from(sorted(KNOWN_KEYS)) | st.text(max_size=8)
VALUES = st.text(max_size=12) | st.sampled_from(
    ["2024-01-01", "8", "wall", "kota", "sampah", "jaki", "completed", "3171", "10,banjir"]
)


@settings(max_examples=300)
@given(st.dictionaries(KEYS, VALUES | st.lists(VALUES, max_size=3), max_size=6))
def test_any_query_gives_a_valid_view(query: Query) -> None:
    state = parse(query)  # never raises
    assert state.level in LEVELS and state.res in RESOLUTIONS and state.view in VIEWS
    assert state.measure in MEASURES and state.freq in FREQS and state.by in SLA_BY
    assert state.mode in (None, "wall")
    assert ROTATE_RANGE[0] <= state.rotate <= ROTATE_RANGE[1]
    assert set(state.categories) <= set(CATEGORIES)
    assert set(state.sources) <= set(SOURCES) and set(state.statuses) <= set(STATUSES)
    assert state.area is None or state.area in AREAS
    assert not (state.start and state.end and state.end < state.start)
    for key in set(query) - KNOWN_KEYS:
        assert any(key in notice for notice in state.notices)
    # What was kept is a view in its own right: its link reads back as itself.
    assert parse(query_from_state(state)) == canonical_form(state)
