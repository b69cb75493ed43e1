"""When each report is coordinated and completed, and its status when the feed is exported.

The CRM lifecycle (``../shared/data/README.md``): Menunggu (waiting) -> Disposisi (sent to the
agency: the coordination time) -> Proses Koordinasi -> sometimes Estimasi Waktu Selesai (EWS)
-> Selesai (completed, after verification). Delays are lognormal, calibrated in
:mod:`pipelines.simulate.calibration`, and scaled by kota, category and agency speed so that
SLA performance differs across the city. About 2.6 % of reports never complete; reports still
in progress when the export is taken show the status they had then.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.simulate import calibration as cal

HOUR = np.timedelta64(3600, "s")
NAT = np.datetime64("NaT", "s")

#: Source status names, in lifecycle order, and the canonical status each maps to.
JAKI_STATUSES = ("Menunggu", "Disposisi", "Proses Koordinasi", "Estimasi Waktu Selesai", "Selesai")
CANONICAL = ("received", "coordinated", "in_progress", "in_progress", "completed")
QLUE_STATUS = ("wait", "process", "process", "process", "complete")


@dataclass
class Lifecycle:
    """Event times per report (NaT when the event has not happened by the export time)."""

    disposed: np.ndarray  # Disposisi = coordination
    processing: np.ndarray  # Proses Koordinasi
    ews: np.ndarray  # Estimasi Waktu Selesai
    completed: np.ndarray  # Selesai
    stage: np.ndarray  # index into JAKI_STATUSES at export time
    updated: np.ndarray  # last status change (the creation time when none happened)


def _hours(values: np.ndarray) -> np.ndarray:
    return (values * 3600).astype("int64").astype("timedelta64[s]")


def simulate_lifecycle(
    created: np.ndarray, speed: np.ndarray, as_of: np.datetime64, rng: np.random.Generator
) -> Lifecycle:
    """Draw the lifecycle of reports created at ``created`` (datetime64[s], UTC).

    ``speed`` multiplies every delay (kota x category x agency; 1 = typical).
    """
    n = len(created)
    coordination_h = rng.lognormal(np.log(cal.COORDINATION_MEDIAN_H), cal.COORDINATION_SIGMA, n)
    coordination_h *= speed**0.7
    to_process_h = rng.lognormal(np.log(0.8), 0.8, n)
    mu = np.log(cal.COMPLETION_MEAN_H) - cal.COMPLETION_SIGMA**2 / 2
    completion_h = rng.lognormal(mu, cal.COMPLETION_SIGMA, n) * speed
    completion_h = np.maximum(
        completion_h, coordination_h + to_process_h + rng.uniform(0.2, 2.0, n)
    )
    has_ews = (completion_h > 48) & (rng.random(n) < 0.3)

    # The final stage each report will ever reach: most complete, a few get stuck.
    final = np.full(n, 4)
    stuck = rng.random(n) > cal.COMPLETED_SHARE
    stuck_names = list(cal.STUCK_STATUS_SHARES)
    shares = np.array(list(cal.STUCK_STATUS_SHARES.values()))
    final[stuck] = [
        JAKI_STATUSES.index(s)
        for s in rng.choice(stuck_names, stuck.sum(), p=shares / shares.sum())
    ]

    disposed = created + _hours(coordination_h)
    processing = disposed + _hours(to_process_h)
    completed = created + _hours(completion_h)
    ews = processing + _hours((completion_h - coordination_h - to_process_h) * 0.4)
    has_ews |= final == 3

    disposed = np.where(final >= 1, disposed, NAT)
    processing = np.where(final >= 2, processing, NAT)
    ews = np.where(has_ews & (final >= 3), ews, NAT)
    completed = np.where(final == 4, completed, NAT)

    # What has happened by the export time.
    def by(t: np.ndarray) -> np.ndarray:
        return np.where(t <= as_of, t, NAT)

    disposed, processing, ews, completed = by(disposed), by(processing), by(ews), by(completed)
    stage = np.zeros(n, dtype=int)
    stage[~np.isnat(disposed)] = 1
    stage[~np.isnat(processing)] = 2
    stage[~np.isnat(ews)] = 3
    stage[~np.isnat(completed)] = 4
    last = created.copy()
    for t in (disposed, processing, ews, completed):
        last = np.where(np.isnat(t), last, t)
    return Lifecycle(disposed, processing, ews, completed, stage, last)
