"""The numbers the generator is calibrated to, each with the published figure it comes from.

Figures are cited as ``system, period, metric, dimension`` rows of
``../shared/data/reference/official_complaint_stats_jakarta.csv`` (which names each source
URL). Where nothing is published (hour-of-day profile, weekday profile, performance spread
between kota and agencies), the value is a stated assumption, kept modest.
"""

from __future__ import annotations

#: CRM, 2024, avg_reports_per_day, all = 508 (185,852 reports in 2024).
PER_DAY = 508
#: CRM, 2024: the busiest day had about 800 reports (2024-05-14). Rare "event days" reach it.
PEAK_DAY = 800
EVENT_DAY_PROBABILITY = 0.004
EVENT_DAY_FACTOR = (1.35, 1.6)
#: Day-to-day variation beyond Poisson (gamma-mixed Poisson, coefficient of variation ~9 %).
DAILY_GAMMA_SHAPE = 120.0

#: Assumption: more reports on weekdays than at weekends (Monday first).
WEEKDAY_FACTOR = (1.10, 1.07, 1.05, 1.03, 0.99, 0.89, 0.87)
#: Assumption: reports follow waking hours in WIB, with morning and evening peaks.
HOUR_WEIGHTS = (
    0.6,
    0.4,
    0.3,
    0.3,
    0.5,
    1.2,
    2.6,
    4.6,
    6.2,
    6.6,
    6.4,
    5.9,
    5.4,
    5.6,
    5.8,
    5.9,
    6.0,
    6.1,
    5.6,
    5.2,
    4.6,
    3.6,
    2.3,
    1.2,
)

#: Share of JAKI among JAKI + Qlue reports, by year.
#: CRM, 2020, reports_by_channel: JAKI 51,675, Qlue 55,153.
#: CRM, 2021, reports_by_channel: JAKI 102,986, Qlue 12,022.
#: JAKI, 2025, share_of_all_complaints, Lapor Warga feature = 91 % (used for later years).
JAKI_SHARE_BY_YEAR = {2020: 51675 / (51675 + 55153), 2021: 102986 / (102986 + 12022)}
JAKI_SHARE_DEFAULT = 0.91

#: Rainy season (November-March): flood and drainage reports multiply by month (assumption
#: shaped on Jakarta's wet season, peaking January-February).
SURGE_CATEGORIES = ("banjir", "saluran_air")
SURGE_BY_MONTH = {
    1: 4.0,
    2: 4.5,
    3: 2.2,
    4: 1.2,
    5: 1.0,
    6: 1.0,
    7: 0.9,
    8: 0.8,
    9: 0.9,
    10: 1.2,
    11: 2.2,
    12: 3.2,
}

#: JAKI / CRM category weights (reports). Published counts:
#: CRM, 2024, reports_by_category: Jalan 26,014; Pohon 19,683; Parkir Liar 19,152 (of 185,852).
#: CRM, 2021, reports_by_category: Gangguan Ketentraman dan Ketertiban 18,833; Jalan 12,324;
#: Parkir Liar 10,583; Pohon 8,645; Sampah 7,202 (of 134,814).
#: CRM, 2020, reports_by_category: Pelanggaran Perda/Pergub 7,860 (of 137,776).
#: CRM, 2023-01, reports_by_category_via_JAKI: Fasilitas Sosial/Fasilitas Umum 930 and Arus Lalu
#: Lintas 345 (of 12,755).
#: Shares per 1,000 reports below follow those figures; the other labels share the rest on a
#: Zipf-like long tail (see :func:`pipelines.simulate.model.jaki_label_weights`).
JAKI_TOP_LABELS = {
    "Jalan": 140.0,
    "Gangguan Ketenteraman dan Ketertiban": 115.0,
    "Pohon": 106.0,
    "Parkir Liar": 103.0,
    "Fasilitas Sosial/Fasilitas Umum": 70.0,
    "Sampah": 62.0,
    "Pelanggaran Perda/Pergub": 57.0,
    "Saluran Air, Kali/Sungai": 40.0,
    "Arus Lalu Lintas": 27.0,
    "Trotoar": 20.0,
    "Banjir": 18.0,
    "Tutup Saluran": 14.0,
    "Jaringan Listrik": 12.0,
    "PKL Liar": 12.0,
    "Penyakit Masyarakat": 10.0,
    "Penyandang Masalah Kesejahteraan Sosial (PMKS)": 10.0,
}
#: What the published top labels leave to the long tail, per 1,000 reports.
JAKI_TAIL_TOTAL = 184.0

#: Qlue, 2015, category_share (percent), the only published Qlue category breakdown.
QLUE_LABEL_SHARES = {
    "Sampah": 24.1,
    "Pelanggaran": 16.0,
    "Fasilitas umum": 12.7,
    "Parkir liar": 9.1,
    "Kemacetan": 7.4,
    "Pedagang kaki lima (PKL)": 6.5,
    "Jalan rusak": 6.0,
    "Lampu jalan umum": 5.0,
    "Iklan tidak berizin": 4.8,
    "Banjir": 4.5,
    "Pohon tumbang": 3.5,
    "Pelanggaran pembangunan": 3.0,
    "Pengemis": 3.0,
    "Kriminal": 3.0,
    "Transjakarta": 1.8,
    "Kebakaran": 1.5,
    "Kawasan bebas rokok": 1.2,
    "Joki three in one": 1.0,
    "Ojek online": 0.8,
    "Pajak abnormal": 0.5,
    "Makanan non-higienis": 0.3,
    "Ojek liar": 0.2,
    "Mobil di atas 10 tahun": 0.1,
}

#: Reports by kota. CRM, 2021-03, reports_by_kota: Jakarta Timur 689, Jakarta Selatan 638,
#: Jakarta Barat 402, Jakarta Pusat 363, Jakarta Utara 218. Kepulauan Seribu: assumption.
KOTA_VOLUME = {"3172": 689, "3171": 638, "3174": 402, "3173": 363, "3175": 218, "3101": 12}

#: Lifecycle. CRM, 2021, status_share: Selesai 97.4 %, Proses koordinasi 1.2 %, Estimasi Waktu
#: Selesai (EWS) 0.7 %, Disposisi 0.4 %, Menunggu 0.1 %.
COMPLETED_SHARE = 0.974
STUCK_STATUS_SHARES = {
    "Proses Koordinasi": 1.2,
    "Estimasi Waktu Selesai": 0.7,
    "Disposisi": 0.4,
    "Menunggu": 0.1,
}
#: CRM, 2020 / 2021, avg_resolution_time = 40.22 / 39.87 hours. Lognormal completion time whose
#: mean before the speed factors is 35 h: the factors average about 1.15, so the overall mean
#: lands near 40 h; sigma 1.2 gives a median of about 18 h and about 4 % past 7 days.
COMPLETION_MEAN_H = 35.0
COMPLETION_SIGMA = 1.2
#: CRM, 2020, avg_followup_time, Kota Jakarta Selatan = 3.25 h; JAKI, 2020-01, sla_target,
#: delivery to SKPD = 6 h. Lognormal coordination delay, median 1.6 h (mean ~2.6 h), about 9 %
#: beyond 6 h before the kota / agency / category factors.
COORDINATION_MEDIAN_H = 1.6
COORDINATION_SIGMA = 1.0

#: Assumption: how much slower (>1) or faster (<1) each kota, category and agency works, so that
#: an SLA heatmap has structure. Agencies get a seeded random factor around 1 on top.
KOTA_SPEED = {"3171": 0.85, "3172": 1.0, "3173": 0.8, "3174": 1.15, "3175": 1.3, "3101": 1.6}
CATEGORY_SPEED = {
    "jalan": 1.6,
    "pohon": 1.3,
    "parkir_liar": 0.55,
    "ketertiban": 0.7,
    "sampah": 0.75,
    "banjir": 1.1,
    "saluran_air": 1.5,
    "pkl": 0.9,
    "pelanggaran_bangunan": 1.9,
    "fasilitas_umum": 1.3,
    "penerangan_jalan": 1.2,
    "lalu_lintas": 0.8,
    "utilitas": 1.7,
}
AGENCY_SPEED_SIGMA = 0.25
