"""Pure building blocks for the pages (no streamlit): map layers and Indonesian display text.

The users read Indonesian, so numbers use Indonesian conventions (``1.234,5``: a dot groups
thousands, a comma marks decimals) and times are shown in WIB (Asia/Jakarta, UTC+7), whatever
the server's or the browser's locale. Formatting is done here, once, rather than through
``st.column_config`` formats, because those follow the *browser's* locale.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from geo.indonesian import MISSING, MONTHS, format_decimal
from geo.settings import TIMEZONE

__all__ = ["MISSING", "format_count", "format_decimal", "format_wib"]

_WIB = ZoneInfo(TIMEZONE)


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
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}, {local:%H.%M} WIB"
