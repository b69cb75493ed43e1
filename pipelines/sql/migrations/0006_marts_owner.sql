-- The marts belong to the pipelines' role, so that `refresh --full` can VACUUM and ANALYZE them
-- after a rebuild. PostgreSQL 15 lets only a table's owner do either (a writer's ANALYZE was
-- skipped with a warning); without it, queries on freshly rebuilt marts ran 1.5-2x slower
-- (no statistics, no visibility map). The read-only role still reads them through api views.
ALTER TABLE pantau.mart_daily OWNER TO pantau_writer;
ALTER TABLE pantau.mart_h3_weekly OWNER TO pantau_writer;
ALTER TABLE pantau.mart_sla_facts OWNER TO pantau_writer;
