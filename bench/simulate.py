"""Generator benchmark: reports per second and peak memory, at two sizes.

Each size runs ``python -m pipelines simulate`` in its own process over the same two years
(2023-2024), so peak RSS is that process's own (``os.wait4``). Memory must stay flat: the
peak at the large size should be close to the peak at the small one. The baseline measured in
the same run is the floor of the work: ``json.dumps`` of one fixed FEEDS-shaped JAKI report,
written as many times as the run has reports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.report import emit
from geo.errors import PantauError
from geo.settings import REPO_ROOT

EXAMPLE = {
    "id": 4812345,
    "code": "JK240106017",
    "content": "Permasalahan: Jalan berlubang besar\nKategori: Jalan\nLokasi: Jl. Tebet Raya\n"
    "Detail Alamat Laporan: depan minimarket",
    "lat": -6.2261,
    "lng": 106.8532,
    "createdAt": "2024-01-06T01:15:22.000Z",
    "updatedAt": "2024-01-07T09:02:10.000Z",
    "tstatus": {"name": "Selesai"},
    "complaintCategory": {"name": "Jalan"},
    "zone": {"name": "Suku Dinas Bina Marga Kota Administrasi Jakarta Selatan"},
    "village": {
        "name": "Tebet Barat",
        "district": {"name": "Tebet", "city": {"name": "Jakarta Selatan"}},
    },
    "documents": [{"url": "https://example.invalid/photo/1.jpg"}],
    "histories": [
        {"status": "Menunggu", "createdAt": "2024-01-06T01:15:22.000Z"},
        {"status": "Disposisi", "createdAt": "2024-01-06T03:40:00.000Z"},
        {"status": "Proses Koordinasi", "createdAt": "2024-01-06T05:00:00.000Z"},
        {"status": "Selesai", "createdAt": "2024-01-07T09:02:10.000Z"},
    ],
}


def _floor_seconds(n: int, folder: Path) -> float:
    """Serialise and write ``n`` copies of one fixed report: the least any generator must do."""
    t0 = time.perf_counter()
    with (folder / "floor.jsonl").open("w", encoding="utf-8") as fh:
        for _ in range(n):
            fh.write(json.dumps(EXAMPLE, ensure_ascii=False, separators=(",", ":")))
            fh.write("\n")
    return time.perf_counter() - t0


def _run(reports: int, folder: Path, seed: int) -> tuple[float, float]:
    """Seconds and peak RSS (MiB) of one generator process."""
    cmd = [
        sys.executable,
        "-m",
        "pipelines",
        "simulate",
        "--start",
        "2023-01-01",
        "--end",
        "2024-12-31",
        "--seed",
        str(seed),
        "--reports",
        str(reports),
        "--out",
        str(folder),
    ]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        msg = f"simulate --reports {reports} failed: {err.strip()}"
        raise PantauError(msg)
    return seconds, usage.ru_maxrss / 1024


def run(*, reports: int, small: int, seed: int, as_json: bool) -> dict[str, object]:
    """Run both sizes and the floor; print the figures."""
    with tempfile.TemporaryDirectory(prefix="pantau-bench-sim-") as tmp:
        folder = Path(tmp)
        small_s, small_rss = _run(small, folder / "small", seed)
        large_s, large_rss = _run(reports, folder / "large", seed)
        floor_s = _floor_seconds(reports, folder)
        size_mb = (
            sum(p.stat().st_size for p in (folder / "large").rglob("*") if p.is_file()) / 2**20
        )
    result = {
        "benchmark": "simulate",
        "reports": reports,
        "seconds": round(large_s, 2),
        "reports_per_s": round(reports / large_s),
        "peak_rss_mib": round(large_rss, 1),
        "small_reports": small,
        "small_seconds": round(small_s, 2),
        "small_peak_rss_mib": round(small_rss, 1),
        "output_mib": round(size_mb, 1),
        "floor_seconds": round(floor_s, 2),
        "ratio_to_floor": round(large_s / floor_s, 2),
        "target_seconds": 60,
    }
    rows = [
        (f"{small:,} reports", f"{small_s:.1f} s, peak RSS {small_rss:.0f} MiB"),
        (f"{reports:,} reports", f"{large_s:.1f} s, peak RSS {large_rss:.0f} MiB"),
        ("reports/s (large)", f"{reports / large_s:,.0f}"),
        ("output written (large)", f"{size_mb:,.0f} MiB"),
        ("floor: json.dumps + write of one fixed report", f"{floor_s:.1f} s"),
        ("generator / floor", f"{large_s / floor_s:.2f}"),
        ("target", "1,000,000 reports in 60 s or less, memory flat"),
    ]
    emit("Feed generator (2023-2024, defects 2 %)", rows, result, as_json=as_json)
    return result
