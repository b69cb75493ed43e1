"""The filters in the sidebar and the view state, kept in the URL.

The URL is the view: ``start``, ``end``, ``category`` (repeated), ``source``, ``status``,
``area`` and the page options (``level``, ``measure``, ``res``, ``view``, ``freq``, ``by``) with
the *codes* users can type and share (``?area=3171010001&category=sampah``). Streamlit's own
widget binding would put the displayed Indonesian labels in the URL instead, so the sync is
done here: a URL that differs from the last one this session wrote (first load, a pasted
link, the browser's back button) seeds the widgets; after the page has run, the canonical
query of the view is written back (:func:`publish`). Streamlit clears the query string on a
page switch; the view then continues from the session. What a link asks for but cannot be
used is listed in a notice, never silently dropped.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import streamlit as st

from dashboard import data
from dashboard.components import format_count, format_wib
from dashboard.components.labels import SOURCE_LABELS, STATUS_LABELS, category_label
from dashboard.components.state import ViewState, query_from_state, state_from_query
from geo.analytics import Filters
from geo.taxonomy import load_taxonomy

#: Default period: the last 90 days of data.
DEFAULT_DAYS = 90
_LAST_QUERY = "pantau_last_query"
_SEED = "pantau_seed"
_STATE = "pantau_state"


def raw_query() -> dict[str, list[str]]:
    """Every query parameter with all its values (repeated keys kept)."""
    return {key: st.query_params.get_all(key) for key in st.query_params}


#: The "area" of the whole province in the scope picker (None would show Streamlit's placeholder).
WHOLE_CITY = ""


def area_options(areas: Any) -> tuple[list[str], dict[str, str]]:
    """Area codes in drill order (kota, its kecamatan, their kelurahan) and their labels."""
    labels: dict[str, str] = {}
    order: list[str] = [WHOLE_CITY]
    kota = areas[areas["level"] == "kota"].sort_values("code")
    kec = areas[areas["level"] == "kecamatan"]
    kel = areas[(areas["level"] == "kelurahan") & ~areas["is_placeholder"].astype(bool)]
    for _, k in kota.iterrows():
        order.append(k["code"])
        labels[k["code"]] = str(k["name"])
        for _, c in kec[kec["parent_code"] == k["code"]].sort_values("name").iterrows():
            order.append(c["code"])
            labels[c["code"]] = f"{k['name']} › Kec. {c['name']}"
            for _, v in kel[kel["parent_code"] == c["code"]].sort_values("name").iterrows():
                order.append(v["code"])
                labels[v["code"]] = f"{k['name']} › Kec. {c['name']} › Kel. {v['name']}"
    return order, labels


def view_state(*, wall: bool = False) -> tuple[ViewState, Filters, dict[str, Any]]:
    """Draw the filters (not in wall mode) and return the view, the filters and the data range.

    Raises
    ------
    PantauError
        When the database cannot be reached (the caller shows the banner).
    """
    info = data.analytics("data_range")
    areas = data.area_list()
    order, labels = area_options(areas)
    categories = list(load_taxonomy().categories)
    raw = raw_query()
    last = st.session_state.get(_LAST_QUERY)
    if not raw and last:  # a page switch cleared the query string: the view continues
        raw = last
    external = raw != last
    parsed = state_from_query(raw, categories=categories, area_codes=dict.fromkeys(labels, ""))
    st.session_state[_SEED] = parsed if external else None
    last_day = info["last_day"] or date.today()
    first = info["first_day"] or last_day
    parsed, default_start = _fit_period(parsed, first, last_day)
    if wall:
        state = parsed.with_changes(start=parsed.start or default_start, end=parsed.end or last_day)
    else:
        state = _sidebar(parsed, first, last_day, default_start, order, labels, categories, info)
    if external and parsed.notices:
        st.warning(
            "Sebagian parameter tautan tidak dapat dipakai:\n\n"
            + "\n".join(f"- {n}" for n in parsed.notices),
            icon=":material/link_off:",
        )
    st.session_state[_STATE] = state
    filters = Filters(
        start=state.start,
        end=state.end,
        categories=state.categories,
        sources=state.sources,
        statuses=state.statuses,
    )
    return state, filters, {**info, "area_labels": labels}


def _fit_period(parsed: ViewState, first: date, last: date) -> tuple[ViewState, date]:
    """The link's period (kept as asked, with a notice when it leaves the data's days) and
    the default start: the :data:`DEFAULT_DAYS` days up to the end (the link's end, or the
    last day of data)."""
    notices = list(parsed.notices)
    start, end = parsed.start, parsed.end
    if (start and not first <= start <= last) or (end and not first <= end <= last):
        notices.append(
            f"Periode tautan melewati data yang ada ({first:%d/%m/%Y}–{last:%d/%m/%Y}); "
            "hari tanpa data tidak berisi laporan."
        )
    default_start = (end or last) - timedelta(days=DEFAULT_DAYS - 1)
    default_start = max(first, default_start) if not end or end >= first else end
    return replace(parsed, notices=tuple(notices)), default_start


def _date_default(key: str, value: date) -> dict[str, Any]:
    """``value=`` only for a new widget: with a value in the session too, Streamlit warns."""
    return {} if key in st.session_state else {"value": value}


def _seed(key: str, value: Any) -> None:
    """Put a value from the URL into a widget before it is drawn (only for a new URL)."""
    if st.session_state.get(_SEED) is not None:
        st.session_state[key] = value


def choice(
    container: Any,
    widget: str,
    label: str,
    name: str,
    options: list[Any],
    labels: dict[Any, str],
    **kwargs: Any,
) -> Any:
    """A page option (selectbox, segmented control or radio) kept in the view and the URL."""
    state: ViewState = st.session_state[_STATE]
    seed = st.session_state.get(_SEED)
    key = f"w_{name}"
    if seed is not None or key not in st.session_state:
        st.session_state[key] = getattr(seed or state, name)
    if st.session_state[key] not in options:  # e.g. rows coarser than a narrower scope
        st.session_state[key] = options[0]
    value = getattr(container, widget)(
        label, options, format_func=lambda o: labels.get(o, str(o)), key=key, **kwargs
    )
    if value is None:  # a segmented control clicked off: keep the previous choice
        value = getattr(state, name)
    st.session_state[_STATE] = state.with_changes(**{name: value})
    return value


def publish() -> None:
    """Write the view's canonical query to the URL (after the page has run)."""
    state: ViewState | None = st.session_state.get(_STATE)
    if state is None:
        return
    query = query_from_state(state)
    if raw_query() != query:
        st.query_params.from_dict(query)
    st.session_state[_LAST_QUERY] = {k: v if isinstance(v, list) else [v] for k, v in query.items()}


def _sidebar(
    parsed: ViewState,
    first: date,
    last: date,
    default_start: date,
    order: list[str],
    labels: dict[str, str],
    categories: list[str],
    info: dict[str, Any],
) -> ViewState:
    _seed("w_start", parsed.start or default_start)
    _seed("w_end", parsed.end or last)
    # The widgets accept the link's days even outside the data (the page then says so).
    low = min(d for d in (first, parsed.start, parsed.end, default_start) if d)
    high = max(d for d in (last, parsed.start, parsed.end) if d)
    _seed("w_area", parsed.area or WHOLE_CITY)
    _seed("w_category", list(parsed.categories))
    _seed("w_source", list(parsed.sources))
    _seed("w_status", list(parsed.statuses))
    with st.sidebar:
        st.caption(
            f"**Data hingga {format_wib(info['data_up_to'])}** · "
            f"{format_count(info['reports'])} laporan"
        )
        start = st.date_input(
            "Dari",
            **_date_default("w_start", default_start),
            min_value=low,
            max_value=high,
            key="w_start",
            format="DD/MM/YYYY",
        )
        end = st.date_input(
            "Sampai",
            **_date_default("w_end", last),
            min_value=low,
            max_value=high,
            key="w_end",
            format="DD/MM/YYYY",
        )
        if start and end and end < start:
            st.warning("Tanggal akhir sebelum tanggal awal: keduanya ditukar.")
            start, end = end, start
        area = st.selectbox(
            "Wilayah",
            order,
            format_func=lambda c: labels.get(c, c) if c else "Seluruh DKI Jakarta",
            key="w_area",
            help="Ketik nama kota, kecamatan atau kelurahan. Tautan dengan ?area=<kode> "
            "membuka setiap halaman pada wilayah itu.",
        )
        chosen = st.multiselect(
            "Kategori",
            categories,
            format_func=category_label,
            key="w_category",
            placeholder="Semua kategori",
        )
        sources = st.multiselect(
            "Sumber",
            list(SOURCE_LABELS),
            format_func=SOURCE_LABELS.__getitem__,
            key="w_source",
            placeholder="JAKI dan Qlue",
        )
        statuses = st.multiselect(
            "Status",
            list(STATUS_LABELS),
            format_func=STATUS_LABELS.__getitem__,
            key="w_status",
            placeholder="Semua status",
        )
    return parsed.with_changes(
        start=start,
        end=end,
        area=area or None,
        categories=tuple(sorted(chosen)),
        sources=tuple(sources),
        statuses=tuple(statuses),
    )
