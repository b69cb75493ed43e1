"""Pure building blocks for the pages (no streamlit): map layers and Indonesian display text.

The users read Indonesian, so numbers use Indonesian conventions (``1.234,5``: a dot groups
thousands, a comma marks decimals) and times are shown in WIB (Asia/Jakarta, UTC+7), whatever
the server's or the browser's locale. Formatting is done here, once, rather than through
``st.column_config`` formats, because those follow the *browser's* locale.
"""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

from geo.settings import TIMEZONE

_WIB = ZoneInfo(TIMEZONE)

_MONTHS_ID = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)

#: Shown instead of a number that is missing.
MISSING = "–"

_SWAP_SEPARATORS = str.maketrans({",": ".", ".": ","})


def format_decimal(value: float | None, decimals: int = 1) -> str:
    """A number as Indonesian text: ``1234.5`` -> ``"1.234,5"``.

    Parameters
    ----------
    value
        The number; None or NaN give :data:`MISSING` rather than ``"nan"``.
    decimals
        Digits after the decimal comma.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    value = round(value, decimals) + 0.0  # no "-0,0" for tiny negatives
    return f"{value:,.{decimals}f}".translate(_SWAP_SEPARATORS)


def format_count(value: int | None) -> str:
    """A count with Indonesian thousands separators: ``12345`` -> ``"12.345"``."""
    return format_decimal(value, 0)


def format_wib(moment: datetime | str | None) -> str:
    """A moment in Jakarta time, in Indonesian: ``"29 November 2026, 23.08 WIB"``.

    The database stores ``timestamptz`` (UTC on the wire); showing it in WIB is the one
    conversion users need. Indonesian writes the time with a dot (``23.08``). ``moment`` may
    be an ISO 8601 string, as returned by :func:`geo.boundaries.boundary_status`; a naive
    value is taken to be UTC.
    """
    if moment is None:
        return MISSING
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    local = moment.astimezone(_WIB)
    return f"{local.day} {_MONTHS_ID[local.month - 1]} {local.year}, {local:%H.%M} WIB"
