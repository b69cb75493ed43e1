"""The view's state and its URL: every filter lives in the query string (no streamlit here).

A view is a link: ``?start=2024-01-01&end=2024-03-31&category=sampah&category=banjir&area=3171``
opens the same filters on any machine. :func:`state_from_query` reads the query parameters
(values are strings; repeated keys are lists), ignores what it cannot use and says so in a
notice (an invalid link must never break the page), and :func:`query_from_state` writes the
canonical form back, so the address bar always shows the view on screen.

Parameters
----------
``start``, ``end``
    Creation days (WIB), ``YYYY-MM-DD``, both included.
``category``, ``source``, ``status``
    Repeated for several values; absent means all.
``level``
    The level whose areas a map or table lists (``kota``, ``kecamatan``, ``kelurahan``).
``area``
    An area code of any level: the scope. A lurah bookmarks ``?area=<kelurahan code>`` and
    every page stays on that kelurahan.
``mode``
    ``wall`` for the monitoring room's screens; ``rotate`` the seconds per view there.
``measure``, ``res``, ``view``, ``freq``, ``by``
    Page options (choropleth measure, H3 resolution, map view, trend period, SLA columns).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

LEVELS = ("kota", "kecamatan", "kelurahan")
SOURCES = ("jaki", "qlue")
STATUSES = ("received", "coordinated", "in_progress", "completed")
MEASURES = ("reports", "reports_per_km2", "within_complete_pct")
RESOLUTIONS = (7, 8, 9)
VIEWS = ("reports", "gi_bin", "emerging")
FREQS = ("week", "month")
SLA_BY = ("category", "week")
MODES = ("wall",)
ROTATE_RANGE = (10, 600)
#: Every parameter a view understands; Streamlit's own (embed) are left to Streamlit.
KNOWN_KEYS = frozenset(
    [
        "start",
        "end",
        "category",
        "source",
        "status",
        "level",
        "area",
        "mode",
        "rotate",
        "measure",
        "res",
        "view",
        "freq",
        "by",
        "embed",
        "embed_options",
    ]
)


@dataclass(frozen=True)
class ViewState:
    """Everything that decides what a page shows."""

    start: date | None = None
    end: date | None = None
    categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    level: str = "kota"
    area: str | None = None
    mode: str | None = None
    rotate: int = 30
    measure: str = "reports"
    res: int = 8
    view: str = "gi_bin"
    freq: str = "week"
    by: str = "category"
    notices: tuple[str, ...] = field(default=(), compare=False)

    @property
    def wall(self) -> bool:
        """The monitoring room's mode."""
        return self.mode == "wall"

    def with_changes(self, **changes: object) -> ViewState:
        """A copy with some fields changed (notices dropped)."""
        return replace(self, notices=(), **changes)  # type: ignore[arg-type]


def _one(params: Mapping[str, str | list[str]], key: str) -> str | None:
    value = params.get(key)
    if isinstance(value, list):
        return value[-1] if value else None
    return value


def _many(params: Mapping[str, str | list[str]], key: str) -> list[str]:
    value = params.get(key)
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:  # "a,b" is accepted too: people edit links by hand
        out += [part.strip() for part in item.split(",") if part.strip()]
    return out


def _choice(
    params: Mapping[str, str | list[str]],
    key: str,
    allowed: Sequence[object],
    default: object,
    notices: list[str],
    *,
    cast: type = str,
) -> object:
    raw = _one(params, key)
    if raw is None or raw == "":
        return default
    try:
        value = cast(raw)
    except ValueError:
        value = None
    if value not in allowed:
        notices.append(f"Parameter {key}={raw!r} diabaikan (pilihan: {_join(allowed)}).")
        return default
    return value


def _join(values: Iterable[object]) -> str:
    return ", ".join(str(v) for v in values)


def _day(params: Mapping[str, str | list[str]], key: str, notices: list[str]) -> date | None:
    raw = _one(params, key)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        notices.append(f"Parameter {key}={raw!r} diabaikan (format tanggal: TTTT-BB-HH).")
        return None


def _subset(
    params: Mapping[str, str | list[str]],
    key: str,
    allowed: Sequence[str],
    notices: list[str],
) -> tuple[str, ...]:
    given = _many(params, key)
    unknown = [v for v in given if v not in allowed]
    if unknown:
        notices.append(f"Parameter {key}={_join(unknown)} diabaikan (tidak dikenal).")
    return tuple(dict.fromkeys(v for v in given if v in allowed))


def state_from_query(
    params: Mapping[str, str | list[str]],
    *,
    categories: Sequence[str],
    area_codes: Mapping[str, str],
) -> ViewState:
    """The view described by the query parameters; what cannot be used is noted, not fatal.

    Parameters
    ----------
    params
        ``st.query_params.to_dict()``-like: strings, or lists of strings for repeated keys.
    categories
        The canonical category keys.
    area_codes
        Known area code -> its level.
    """
    notices: list[str] = []
    unknown = sorted(set(params) - KNOWN_KEYS)
    if unknown:
        notices.append(f"Parameter {_join(unknown)} tidak dikenal dan diabaikan.")
    start = _day(params, "start", notices)
    end = _day(params, "end", notices)
    if start and end and end < start:
        notices.append("Periode diabaikan: tanggal akhir sebelum tanggal awal.")
        start = end = None
    area = _one(params, "area") or None
    if area is not None and area not in area_codes:
        notices.append(f"Wilayah area={area!r} tidak dikenal dan diabaikan.")
        area = None
    rotate = _choice(params, "rotate", range(ROTATE_RANGE[0], ROTATE_RANGE[1] + 1), 30, notices,
                     cast=int)  # fmt: skip
    return ViewState(
        start=start,
        end=end,
        categories=_subset(params, "category", categories, notices),
        sources=_subset(params, "source", SOURCES, notices),
        statuses=_subset(params, "status", STATUSES, notices),
        level=str(_choice(params, "level", LEVELS, "kota", notices)),
        area=area,
        mode=_choice(params, "mode", MODES, None, notices),  # type: ignore[arg-type]
        rotate=int(rotate),  # type: ignore[call-overload]
        measure=str(_choice(params, "measure", MEASURES, "reports", notices)),
        res=int(_choice(params, "res", RESOLUTIONS, 8, notices, cast=int)),  # type: ignore[call-overload]
        view=str(_choice(params, "view", VIEWS, "gi_bin", notices)),
        freq=str(_choice(params, "freq", FREQS, "week", notices)),
        by=str(_choice(params, "by", SLA_BY, "category", notices)),
        notices=tuple(notices),
    )


_DEFAULTS = ViewState()


def query_from_state(state: ViewState) -> dict[str, str | list[str]]:
    """The canonical query parameters of ``state`` (defaults left out, lists sorted)."""
    query: dict[str, str | list[str]] = {}
    if state.start:
        query["start"] = state.start.isoformat()
    if state.end:
        query["end"] = state.end.isoformat()
    for key, values in (
        ("category", state.categories),
        ("source", state.sources),
        ("status", state.statuses),
    ):
        if values:
            query[key] = sorted(values)
    for key in ("level", "area", "mode", "rotate", "measure", "res", "view", "freq", "by"):
        value = getattr(state, key)
        if value is not None and value != getattr(_DEFAULTS, key):
            query[key] = str(value)
    return query
