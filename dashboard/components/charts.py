"""Altair in Indonesian: number and date formats, colours that stay apart (no streamlit).

Streamlit's charts format numbers and dates with Vega's defaults (``1,000``, ``Oct 06``); the
users read ``1.000`` and ``6 Okt``. :func:`indonesian` sets Vega's locale on a chart.
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

import altair as alt

from geo.indonesian import DAYS, MONTHS, MONTHS_SHORT

LOCALE: dict[str, Any] = {
    "number": {
        "decimal": ",",
        "thousands": ".",
        "grouping": [3],
        "currency": ["Rp", ""],
    },
    "time": {
        "dateTime": "%A, %e %B %Y %X",
        "date": "%d/%m/%Y",
        "time": "%H.%M.%S",
        "periods": ["AM", "PM"],
        "days": list(DAYS),
        "shortDays": [d[:3] for d in DAYS],
        "months": list(MONTHS),
        "shortMonths": list(MONTHS_SHORT),
    },
}
#: Ten categorical colours that stay distinguishable (Tableau 10).
CATEGORY_SCHEME: Final = "tableau10"

#: The chart classes ``st.altair_chart`` draws; :func:`indonesian` returns the class it is given.
AnyChart = TypeVar(
    "AnyChart",
    bound=alt.Chart
    | alt.LayerChart
    | alt.ConcatChart
    | alt.HConcatChart
    | alt.VConcatChart
    | alt.FacetChart
    | alt.RepeatChart,
)


def indonesian(chart: AnyChart, **config: Any) -> AnyChart:
    """``chart`` with Indonesian number and date formats (and any other top-level config)."""
    return chart.configure(locale=LOCALE, **config)


def date_axis(**kwargs: Any) -> alt.Axis:
    """A time axis labelled "6 Okt" / "Okt 2024" instead of weekday names."""
    return alt.Axis(format="%e %b %Y", labelOverlap=True, **kwargs)
