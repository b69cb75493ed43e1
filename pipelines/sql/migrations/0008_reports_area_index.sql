-- The area index keeps only kelurahan_code: B-tree deduplication makes it a fraction of the
-- size and cheaper to maintain on every insert (with created_at in the key, inserting a
-- million reports cost about 0.6 s more; bench/README.md). The one query that uses it, a
-- kelurahan's newest points (capped), sorts the few thousand rows of one kelurahan.
DROP INDEX pantau.reports_kelurahan_idx;
CREATE INDEX reports_kelurahan_idx ON pantau.reports (kelurahan_code);
