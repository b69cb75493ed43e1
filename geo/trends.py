"""Weekly and monthly report counts per area and category, a rolling baseline, anomaly flags.

The statistics behind ``python -m pipelines trends``: pure pandas, numpy and scipy, no
database. The caller counts reports per ``(period, code, category)``, passes the counts through
:func:`complete_grid` (a week without reports is a 0 that the baseline must see, not a missing
row) and then through :func:`anomalies`.

The test
--------
For one series (an area ``code`` and a ``category``) let ``y_t`` be its count in period ``t``.

1. **Window.** The ``n = min(t, W)`` periods immediately *before* ``t``; period ``t`` itself is
   excluded so that a spike cannot raise its own baseline. ``W`` is 26 weeks or 12 months by
   default. A row with fewer than ``min_history`` earlier periods (default ``W``) is not tested:
   baseline and p are NaN, anomaly is False, and it is not part of the FDR family.
2. **Moments.** ``m`` is the mean and ``v`` the sample variance (``ddof=1``) of the window.
   ``m`` is the ``baseline`` column.
3. **Null hypothesis.** ``y_t`` is negative binomial with mean ``mu = max(m, 0.5)`` and
   variance ``s2 = max(v, mu)`` (method of moments): ``scipy.stats.nbinom(size, prob)`` with
   ``size = mu**2 / (s2 - mu)`` and ``prob = mu / s2``. When ``s2 == mu`` (the window shows no
   overdispersion) it is ``Poisson(mu)``, the negative binomial's limit.
4. **p-value.** One-sided upper tail, ``p = P(Y >= y_t) = sf(y_t - 1)``. Counts are discrete,
   so the p-value is conservative.
5. **Multiplicity.** Benjamini-Hochberg (``scipy.stats.false_discovery_control``) over every
   tested row of the call, all series and periods together: ``p_fdr``.
6. **Flag.** ``anomaly = p_fdr < alpha and y_t >= min_reports and y_t > m``, with
   ``alpha = 0.05`` and ``min_reports = 5`` by default.

Why these choices
-----------------
- *Negative binomial, not Poisson.* Citizen reports arrive in bursts (a flood, a viral post,
  a campaign), so week-to-week variance is well above the mean. A Poisson tail treats that
  ordinary noise as signal: on simulated series with no anomaly at all and a variance 2.5 to
  60 times the mean it flagged 3-28 % of rows, the negative binomial under 0.15 %
  (``tests/unit/test_trends.py`` checks one such case).
- *A long window.* The variance is estimated from the window, and a short window often
  underestimates it, which makes the tail too thin. On simulated overdispersed series without
  anomalies, 8 weeks flagged up to 1.8 % of rows and 26 weeks at most 0.12 %; 6 months up to
  3.2 % and 12 months up to 0.9 % (twelve values are few: monthly flags deserve more caution).
  A longer window reacts later to a lasting change of level; half a year (a year for months)
  is the compromise chosen.
- *The 0.5 floor.* A window of zeros has ``m = 0``, under which any report has probability 0
  and every first report would be an anomaly. With the floor, a series that has been silent
  needs 8 reports in one period to clear the FDR threshold of a weekly kelurahan run over two
  years (``P(Y >= 8 | 0.5) = 6e-8`` against ``0.05 / 416,000`` tests), fewer when other rows
  are flagged too.
- *min_reports.* A small-count series can be "significant" with 2 or 3 reports; nobody acts
  on that, so the flag also needs ``min_reports`` reports.

Limitations, stated rather than hidden: the estimated ``m`` and ``v`` are plugged in as if
known (the reason for the long window); BH assumes independent or positively dependent
p-values, and overlapping windows make them dependent; the FDR family is the whole frame
passed in, so a longer history means more tests and a stricter threshold per row; the
baseline is trailing, not seasonal, so the start of the rainy season is flagged against the
dry months before it (which is the question "more than recently?" this answers).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

import numpy as np
import pandas as pd
from scipy import stats

Freq = Literal["week", "month"]

#: pandas offset aliases of the period starts: the week's Monday, the month's first day.
PERIOD_OFFSETS: Final[dict[str, str]] = {"week": "W-MON", "month": "MS"}
#: Default trailing window, in periods (see the module docstring for why).
DEFAULT_WINDOW: Final[dict[str, int]] = {"week": 26, "month": 12}
#: Smallest mean of the null model, in reports per period.
BASELINE_FLOOR: Final = 0.5
#: Local time of the reports: periods are WIB calendar weeks and months.
LOCAL_TZ: Final = "Asia/Jakarta"

KEYS: Final = ("code", "category")
COUNT_COLUMNS: Final = ("period", "code", "category", "reports")


def period_start(ts: pd.Series, freq: Freq) -> pd.Series:
    """Map timestamps to the start of their WIB week (Monday) or month (first day).

    Parameters
    ----------
    ts
        Timestamps or dates. Zone-aware values are converted to WIB first, so a report made at
        23:30 UTC on a Sunday counts in the week that starts on the following Monday, as it
        does on a Jakarta clock. Zone-naive values are taken as WIB already.
    freq
        ``"week"`` or ``"month"``.

    Returns
    -------
    pandas.Series
        Zone-naive midnight timestamps, index preserved.
    """
    _check_freq(freq)
    local = pd.to_datetime(ts)
    if local.dt.tz is not None:
        local = local.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None)
    day = local.dt.normalize()
    back = day.dt.day_of_week if freq == "week" else day.dt.day - 1
    return day - pd.to_timedelta(back, unit="D")


def complete_grid(
    counts: pd.DataFrame,
    *,
    periods: pd.Index | Sequence,
    codes: Sequence[str] | None = None,
    categories: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Every period x code x category, with 0 where no report was counted.

    SQL ``GROUP BY`` returns only the combinations that occurred; a quiet week then has no row
    and a rolling baseline would skip it, overstating the usual level. This puts it back.

    Parameters
    ----------
    counts
        Columns ``period`` (zone-naive period start), ``code``, ``category``, ``reports``;
        at most one row per key.
    periods
        All periods of the grid, for instance ``pandas.date_range(start, end, freq="W-MON")``.
    codes, categories
        All areas and categories of the grid; by default those present in ``counts``. Pass
        the full lists (every kelurahan of the level, every canonical category) so that an
        area with no report at all still gets its zeros.

    Returns
    -------
    pandas.DataFrame
        Columns ``period, code, category, reports`` (int64), sorted by code, category and
        period, one row per combination.

    Raises
    ------
    ValueError
        If a column is missing, a key is duplicated, a count is missing, negative or
        fractional, or ``counts`` has a row outside the grid (silently dropping reports would
        misstate the totals).
    """
    _check_columns(counts, COUNT_COLUMNS)
    reports = _check_reports(counts["reports"])
    grid_periods = pd.DatetimeIndex(pd.to_datetime(periods))
    if grid_periods.has_duplicates:
        msg = "periods has duplicates"
        raise ValueError(msg)
    grid_codes = _unique_values(counts["code"], codes, "codes")
    grid_categories = _unique_values(counts["category"], categories, "categories")
    grid = pd.MultiIndex.from_product(
        [grid_codes, grid_categories, grid_periods.sort_values()],
        names=["code", "category", "period"],
    )
    keys = pd.MultiIndex.from_arrays(
        [counts["code"], counts["category"], pd.to_datetime(counts["period"])],
        names=["code", "category", "period"],
    )
    if keys.has_duplicates:
        msg = f"counts has duplicate keys, e.g. {keys[keys.duplicated()][0]}"
        raise ValueError(msg)
    where = grid.get_indexer(keys)
    if (where < 0).any():
        msg = f"counts has rows outside the grid, e.g. {keys[where < 0][0]}"
        raise ValueError(msg)
    full = np.zeros(len(grid), dtype=np.int64)
    full[where] = reports
    out = grid.to_frame(index=False)
    out["reports"] = full
    return out[list(COUNT_COLUMNS)]


def anomalies(
    counts: pd.DataFrame,
    *,
    freq: Freq = "week",
    window: int | None = None,
    min_history: int | None = None,
    alpha: float = 0.05,
    min_reports: int = 5,
) -> pd.DataFrame:
    """Rolling baseline and an FDR-controlled upper-tail test per series and period.

    The test is stated in full in the module docstring: negative binomial (Poisson when the
    window is not overdispersed) fitted by moments to the trailing ``window`` periods, current
    period excluded; upper-tail p-value; Benjamini-Hochberg over all tested rows.

    Parameters
    ----------
    counts
        A complete grid as returned by :func:`complete_grid` (any row order): every series has
        a row for every period from the first to the last, without gaps.
    freq
        ``"week"`` (periods are Mondays) or ``"month"`` (periods are first days).
    window
        Number of earlier periods in the baseline; 26 for weeks and 12 for months by default.
    min_history
        Fewer earlier periods than this and the row is not tested; defaults to ``window``, so
        every tested row has a full window. At least 2 (a variance needs two values).
    alpha
        False discovery rate at which rows are flagged.
    min_reports
        Smallest count that can be flagged, so that 2 or 3 reports in a quiet series are not.

    Returns
    -------
    pandas.DataFrame
        ``counts`` in its own order and index, with ``baseline`` (trailing mean), ``p``,
        ``p_fdr`` (NaN where not tested) and ``anomaly`` (bool) added.

    Raises
    ------
    ValueError
        On a bad parameter, a missing column, a bad count, a period that is not a week or
        month start, or a grid with gaps or duplicates.
    """
    _check_freq(freq)
    window = DEFAULT_WINDOW[freq] if window is None else window
    min_history = window if min_history is None else min_history
    _check_parameters(window, min_history, alpha, min_reports)
    _check_columns(counts, COUNT_COLUMNS)
    reports = _check_reports(counts["reports"])
    out = counts.copy()
    if len(counts) == 0:
        out = out.assign(baseline=np.nan, p=np.nan, p_fdr=np.nan, anomaly=False)
        return out.astype({"baseline": float, "p": float, "p_fdr": float, "anomaly": bool})
    if int(reports.max()) * window >= 2**31:
        msg = "counts too large for exact window moments (window x max reports >= 2**31)"
        raise ValueError(msg)
    row_t, row_g, n_periods, n_series = _grid_positions(counts, freq)
    matrix = np.zeros((n_periods, n_series), dtype=np.int64)
    matrix[row_t, row_g] = reports
    mean, var, excess = _trailing_moments(matrix, window, min_history)
    y = reports
    m, v, over = mean[row_t, row_g], var[row_t, row_g], excess[row_t, row_g]
    p = _upper_tail(y, m, v, over)
    tested = ~np.isnan(p)
    p_fdr = np.full(len(y), np.nan)
    if tested.any():
        p_fdr[tested] = stats.false_discovery_control(p[tested], method="bh")
    out["baseline"] = m
    out["p"] = p
    out["p_fdr"] = p_fdr
    flag = np.zeros(len(y), dtype=bool)
    flag[tested] = (p_fdr[tested] < alpha) & (y[tested] >= min_reports) & (y[tested] > m[tested])
    out["anomaly"] = flag
    return out


def _trailing_moments(
    matrix: np.ndarray, window: int, min_history: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, sample variance and "variance > mean" of the window before each period.

    ``matrix`` is periods x series of integer counts. Window sums of ``y`` and ``y**2`` come
    from cumulative sums along the period axis, all in int64, so they are exact: ``v > m`` is
    decided in integers (``n * S2 - S1**2 > (n - 1) * S1``) and a window that is exactly
    Poisson-like is never pushed into a negative binomial with a huge size by rounding.
    Rows with fewer than ``min_history`` earlier periods are NaN / False.
    """
    n_periods = matrix.shape[0]
    zero = np.zeros((1, matrix.shape[1]), dtype=np.int64)
    c1 = np.vstack([zero, np.cumsum(matrix, axis=0)])
    c2 = np.vstack([zero, np.cumsum(matrix * matrix, axis=0)])
    t = np.arange(n_periods)
    lo = np.maximum(t - window, 0)
    n = (t - lo)[:, None]
    s1 = c1[t] - c1[lo]
    s2 = c2[t] - c2[lo]
    ok = n >= min_history
    n_safe = np.maximum(n, 2)
    num = n_safe * s2 - s1 * s1
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(ok, s1 / n_safe, np.nan)
        var = np.where(ok, num / (n_safe * (n_safe - 1)), np.nan)
    excess = ok & (num > (n_safe - 1) * s1)
    return mean, var, excess


def _upper_tail(y: np.ndarray, m: np.ndarray, v: np.ndarray, over: np.ndarray) -> np.ndarray:
    """``P(Y >= y)`` under the moment-matched negative binomial, or Poisson; NaN if untested.

    ``over`` says the window's variance exceeds its mean (decided exactly, see
    :func:`_trailing_moments`); the floored mean must also be below the variance for a
    negative binomial to exist.
    """
    p = np.full(len(y), np.nan)
    tested = ~np.isnan(m)
    mu = np.maximum(m, BASELINE_FLOOR)
    nb = tested & over & (v > mu)
    poisson = tested & ~nb
    p[poisson] = stats.poisson.sf(y[poisson] - 1, mu[poisson])
    mu_nb, v_nb = mu[nb], v[nb]
    size = mu_nb * mu_nb / (v_nb - mu_nb)
    p[nb] = stats.nbinom.sf(y[nb] - 1, size, mu_nb / v_nb)
    return p


def _grid_positions(counts: pd.DataFrame, freq: Freq) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Period and series position of each row, after checking the grid is complete.

    Complete means: periods are ``freq`` starts, they run without a gap from the first to the
    last, and every series has exactly one row per period. The window counts rows, so a
    missing quiet week would silently stretch the window into older data.
    """
    periods = pd.DatetimeIndex(pd.to_datetime(counts["period"]))
    if periods.tz is not None:
        msg = "period must be zone-naive local (WIB) dates; see period_start()"
        raise ValueError(msg)
    if not (periods == pd.DatetimeIndex(period_start(pd.Series(periods), freq))).all():
        msg = f"period must hold {freq} starts (see period_start())"
        raise ValueError(msg)
    uniq = periods.unique().sort_values()
    expected = pd.date_range(uniq[0], uniq[-1], freq=PERIOD_OFFSETS[freq])
    if len(expected) != len(uniq):
        msg = f"periods have gaps: {len(uniq)} of {len(expected)} {freq}s present"
        raise ValueError(msg)
    if counts[list(KEYS)].isna().any(axis=None):
        msg = "code and category must not be missing"
        raise ValueError(msg)
    code, _ = pd.factorize(counts["code"])
    category, categories = pd.factorize(counts["category"])
    row_g, series = pd.factorize(code.astype(np.int64) * len(categories) + category)
    row_t = uniq.get_indexer(periods)
    n_periods, n_series = len(uniq), len(series)
    cells = np.bincount(row_t.astype(np.int64) * n_series + row_g, minlength=n_periods * n_series)
    if cells.max() > 1:
        msg = "counts has duplicate (period, code, category) rows"
        raise ValueError(msg)
    if cells.min() < 1:
        msg = "counts is not a complete grid; pass it through complete_grid() first"
        raise ValueError(msg)
    return row_t, row_g, n_periods, n_series


def _check_freq(freq: str) -> None:
    if freq not in PERIOD_OFFSETS:
        msg = f"freq must be one of {sorted(PERIOD_OFFSETS)}, not {freq!r}"
        raise ValueError(msg)


def _check_parameters(window: int, min_history: int, alpha: float, min_reports: int) -> None:
    if window < 2:
        msg = f"window must be at least 2 periods, not {window}"
        raise ValueError(msg)
    if not 2 <= min_history <= window:
        msg = f"min_history must be between 2 and window ({window}), not {min_history}"
        raise ValueError(msg)
    if not 0 < alpha < 1:
        msg = f"alpha must be in (0, 1), not {alpha}"
        raise ValueError(msg)
    if min_reports < 0:
        msg = f"min_reports must be >= 0, not {min_reports}"
        raise ValueError(msg)


def _check_columns(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        msg = f"counts lacks column(s) {missing}"
        raise ValueError(msg)


def _check_reports(reports: pd.Series) -> np.ndarray:
    """The counts as int64, refusing missing, negative or fractional values."""
    values = pd.to_numeric(reports).to_numpy(dtype=float, na_value=np.nan)
    if np.isnan(values).any():
        msg = "reports has missing values"
        raise ValueError(msg)
    if (values < 0).any() or (values != np.floor(values)).any():
        msg = "reports must be non-negative whole numbers"
        raise ValueError(msg)
    return values.astype(np.int64)


def _unique_values(present: pd.Series, given: Sequence[str] | None, name: str) -> list:
    """The grid's values of one key: ``given`` (checked unique) or the sorted values present."""
    if given is None:
        return sorted(present.dropna().unique())
    values = list(given)
    if len(set(values)) != len(values):
        msg = f"{name} has duplicates"
        raise ValueError(msg)
    return values
