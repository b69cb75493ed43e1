-- Marts: what the analytics and the dashboard read instead of scanning every report.
--
-- Every mart row belongs to one *creation day* of its reports (Jakarta time, WIB). An ingest
-- records the days it touched (new reports, and the old and new day of every updated one) in
-- mart_dirty_days, in its own transaction; `pipelines refresh` recomputes exactly those days
-- (and the weeks that contain them) and empties the queue; `refresh --full` rebuilds all.
-- Both give identical tables (tested). See pipelines/refresh.py.

-- Before 0005 an update could keep a stored coordination time that preceded a corrected
-- creation time; such a time is unknown, not negative. From now on the table refuses it.
UPDATE pantau.reports SET coordinated_at = NULL WHERE coordinated_at < created_at;
ALTER TABLE pantau.reports
    ADD CONSTRAINT reports_coordinated_after_created
    CHECK (coordinated_at IS NULL OR coordinated_at >= created_at);

CREATE TABLE pantau.mart_dirty_days (
    day date PRIMARY KEY
);

-- Reports per day x area x canonical category x source x current status. area_code is the
-- owning kelurahan-level unit (NULL outside Jakarta); the codes of the levels above are kept
-- so a kota or kecamatan is one GROUP BY away.
CREATE TABLE pantau.mart_daily (
    day            date    NOT NULL,
    area_code      text,
    kelurahan_code text,
    kecamatan_code text,
    kota_code      text,
    category       text    NOT NULL,
    source         text    NOT NULL,
    status         text    NOT NULL,
    reports        integer NOT NULL CHECK (reports > 0)
);
CREATE INDEX mart_daily_day_idx ON pantau.mart_daily (day);

-- Reports per ISO week (Monday, WIB) x H3 cell at resolutions 7, 8 and 9 (parents of the
-- stored res-12 cell, computed in SQL) x category x source.
CREATE TABLE pantau.mart_h3_weekly (
    week     date     NOT NULL CHECK (extract(isodow FROM week) = 1),
    res      smallint NOT NULL CHECK (res IN (7, 8, 9)),
    cell     bigint   NOT NULL,
    category text     NOT NULL,
    source   text     NOT NULL,
    reports  integer  NOT NULL CHECK (reports > 0),
    -- week first: a refresh deletes whole weeks, an analysis reads a range of weeks
    PRIMARY KEY (week, res, cell, category, source)
);

-- One row per report: the facts the SLA needs (Pergub 128/2017). Hours are NULL while the
-- event has not happened or is unknown (a Qlue report seen only once it was completed has no
-- coordination time). The SLA state depends on the targets and on "as of" when it is asked,
-- so it is computed by geo/sla.py, not stored.
CREATE TABLE pantau.mart_sla_facts (
    source         text        NOT NULL,
    source_id      text        NOT NULL,
    day            date        NOT NULL,
    week           date        NOT NULL,
    created_at     timestamptz NOT NULL,
    coordinated_at timestamptz,
    completed_at   timestamptz,
    category       text        NOT NULL,
    status         text        NOT NULL,
    area_code      text,
    kelurahan_code text,
    kecamatan_code text,
    kota_code      text,
    coordinate_h   double precision CHECK (coordinate_h >= 0),
    complete_h     double precision CHECK (complete_h >= 0),
    PRIMARY KEY (source, source_id)
);
CREATE INDEX mart_sla_facts_day_idx ON pantau.mart_sla_facts (day);

-- SLA targets in hours, synchronised from data/sla.toml by every refresh. category '*' is the
-- default; a row per category overrides it.
CREATE TABLE pantau.sla_targets (
    category     text PRIMARY KEY,
    coordinate_h double precision NOT NULL CHECK (coordinate_h > 0),
    complete_h   double precision NOT NULL CHECK (complete_h > 0)
);

-- Every refresh, for monitoring and for "data up to": data_up_to is the latest updated_at of
-- any report in the marts, the moment the SLA states are evaluated at by default (a report
-- open at the end of the data is "open", not "overdue since the data stopped").
CREATE TABLE pantau.mart_refreshes (
    refresh_id   bigserial PRIMARY KEY,
    mode         text        NOT NULL CHECK (mode IN ('incremental', 'full')),
    days         integer     NOT NULL,
    seconds      double precision NOT NULL,
    data_up_to   timestamptz,
    refreshed_at timestamptz NOT NULL DEFAULT now()
);

CREATE VIEW api.daily_counts AS
SELECT day, area_code, kelurahan_code, kecamatan_code, kota_code, category, source, status,
       reports
FROM pantau.mart_daily;
COMMENT ON VIEW api.daily_counts IS
    'Reports per creation day (WIB) x area x category x source x current status.';

CREATE VIEW api.h3_weekly AS
SELECT week, res, cell, api.h3_cell_to_text(cell) AS cell_id, category, source, reports
FROM pantau.mart_h3_weekly;
COMMENT ON VIEW api.h3_weekly IS
    'Reports per ISO week (Monday, WIB) x H3 cell (res 7, 8, 9) x category x source.';

CREATE VIEW api.sla_facts AS
SELECT source, source_id, day, week, created_at, coordinated_at, completed_at, category,
       status, area_code, kelurahan_code, kecamatan_code, kota_code, coordinate_h, complete_h
FROM pantau.mart_sla_facts;
COMMENT ON VIEW api.sla_facts IS
    'Per report: hours to coordinate and to complete (NULL while open or unknown).';

CREATE VIEW api.sla_targets AS
SELECT category, coordinate_h, complete_h FROM pantau.sla_targets;

CREATE VIEW api.mart_refreshes AS
SELECT refresh_id, mode, days, seconds, data_up_to, refreshed_at FROM pantau.mart_refreshes;
