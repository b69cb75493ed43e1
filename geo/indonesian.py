"""Indonesian display conventions, for everything users read (dashboard, static maps).

Numbers group thousands with a dot and mark decimals with a comma (``1.234,5``); months and
days have Indonesian names. Here once, in ``geo``, because both the dashboard and the static
maps of :mod:`geo.staticmap` need them (``geo`` never imports the dashboard).
"""

from __future__ import annotations

import math

MONTHS = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
    "Oktober", "November", "Desember",
)  # fmt: skip
#: Three letters, except August: "Agt" (Agustus), as Indonesian writes it.
MONTHS_SHORT = tuple("Agt" if m == "Agustus" else m[:3] for m in MONTHS)
#: Sunday first, as date libraries number them.
DAYS = ("Minggu", "Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu")

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
