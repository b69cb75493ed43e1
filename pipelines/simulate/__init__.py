"""Realistic generated JAKI and Qlue feeds with planted ground truth (``pipelines simulate``).

Report-level exports of JAKI and Qlue are not public. This generator writes feeds in the real
source formats (``../shared/FEEDS.md``), calibrated to Jakarta's published figures
(``../shared/data/reference/official_complaint_stats_jakarta.csv``), with a truth table that
says, for every report, where it really is, what it really is, which planted hotspot it belongs
to and which defect was applied. Demo, tests and benchmarks all go through the real ingest.
"""
