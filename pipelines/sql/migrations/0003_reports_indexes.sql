-- No query reads pantau.reports by geometry: owners are assigned at ingest (area codes), maps
-- aggregate by area code or H3 cell, and re-assigning reports to new boundaries builds its own
-- indexed copy of the points. The GiST index only cost every insert about 3 us (measured in
-- bench/README.md), so it goes.
DROP INDEX IF EXISTS pantau.reports_geom_idx;

