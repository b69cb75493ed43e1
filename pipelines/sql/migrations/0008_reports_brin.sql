-- Cheaper inserts into pantau.reports (the ingest's largest cost after parsing; measured in
-- bench/README.md, a million rows into the table with all three B-trees 4.5 s, with these 3.3 s):
--
-- * created_at gets a BRIN index instead of a B-tree. Reports arrive in creation order (a
--   batch's files are time-ordered, updates come within days of creation), so block ranges of
--   32 pages (about 550 reports) hold narrow time spans and a day's reports, which is how the
--   marts' refresh reads them, are found in a few ranges. New ranges are summarised by the
--   refresh before it reads (pantau.prepare_reports, below), not left to autovacuum.
-- * the area index keeps only kelurahan_code: B-tree deduplication makes it a fraction of the
--   size, and the one query that uses it (a kelurahan's newest points, capped) sorts the few
--   thousand rows of one kelurahan.
DROP INDEX pantau.reports_created_idx;
CREATE INDEX reports_created_brin ON pantau.reports USING brin (created_at)
    WITH (pages_per_range = 32, autosummarize = on);
DROP INDEX pantau.reports_kelurahan_idx;
CREATE INDEX reports_kelurahan_idx ON pantau.reports (kelurahan_code);

-- Before the refresh reads reports by day: summarise the new block ranges (unsummarised ranges
-- match every query), and after a bulk load, or if the table was never analysed, gather
-- statistics (without them the planner cannot know that the BRIN index is selective and scans
-- the whole table for each day: 0.6 s instead of 0.1 s for one day at a million reports).
-- Both need the table's owner; the pipelines' role calls this function instead.
CREATE FUNCTION pantau.prepare_reports(bulk boolean) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog
AS $$
BEGIN
    PERFORM brin_summarize_new_values('pantau.reports_created_brin'::regclass);
    IF bulk OR (SELECT reltuples < 0 FROM pg_class WHERE oid = 'pantau.reports'::regclass) THEN
        ANALYZE pantau.reports;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION pantau.prepare_reports(boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pantau.prepare_reports(boolean) TO pantau_writer;
