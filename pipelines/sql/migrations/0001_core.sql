-- Pantau core schema: administrative areas, reports, ingest bookkeeping, roles.
-- Internal tables live in schema "pantau"; readers only ever see the views in schema "api".

CREATE EXTENSION IF NOT EXISTS postgis;

CREATE SCHEMA IF NOT EXISTS pantau;
CREATE SCHEMA IF NOT EXISTS api;
-- Per-batch work tables of the pipelines (unlogged, so parallel workers can read them).
CREATE SCHEMA IF NOT EXISTS pantau_staging;

-- Roles are cluster-wide: create them once, whatever database migrates first.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pantau_writer') THEN
        CREATE ROLE pantau_writer LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pantau_reader') THEN
        CREATE ROLE pantau_reader LOGIN;
    END IF;
END
$$;

-- Belt and braces for the dashboard's role: every transaction it opens is read-only.
ALTER ROLE pantau_reader SET default_transaction_read_only = on;

-- One row per boundary load: provenance shown by the dashboard and `boundaries status`.
CREATE TABLE pantau.boundary_loads (
    load_id     bigserial PRIMARY KEY,
    source      text        NOT NULL,
    format      text        NOT NULL,
    file_name   text        NOT NULL,
    sha256      text        NOT NULL,
    licence     text,
    attribution text,
    counts      jsonb       NOT NULL,
    repaired    integer     NOT NULL DEFAULT 0,
    loaded_at   timestamptz NOT NULL DEFAULT now()
);

-- Kota, kecamatan and kelurahan in one table. Codes are plain BPS digits (4 / 7 / 10 digits),
-- so they are unique across levels. Placeholder units (lakes, leftovers) sit at the kelurahan
-- level with is_placeholder = true; kelurahan_code of a report is never a placeholder.
CREATE TABLE pantau.admin_areas (
    code           text PRIMARY KEY CHECK (code ~ '^[0-9]+$'),
    level          text NOT NULL CHECK (level IN ('kota', 'kecamatan', 'kelurahan')),
    source_code    text NOT NULL,
    name           text NOT NULL,
    parent_code    text,
    kota_code      text NOT NULL,
    kecamatan_code text,
    is_placeholder boolean NOT NULL DEFAULT false,
    area_km2       double precision NOT NULL,
    load_id        bigint NOT NULL REFERENCES pantau.boundary_loads (load_id),
    geom           geometry(MultiPolygon, 4326) NOT NULL,
    CHECK (level = 'kelurahan' OR NOT is_placeholder)
);
CREATE INDEX admin_areas_geom_idx ON pantau.admin_areas USING gist (geom);
CREATE INDEX admin_areas_level_parent_idx ON pantau.admin_areas (level, parent_code);

-- The kelurahan-level polygons cut into small pieces (ST_Subdivide): point-in-polygon tests
-- against a few dozen vertices instead of thousands. Used by every spatial join.
-- Deliberately no GiST index here: the join must hold one piece and scan the points' own GiST
-- index (PostGIS then reuses the prepared polygon), never probe this table once per point.
-- parallel_workers lets the planner split the pieces between workers even though the table
-- is small. See pipelines/spatial_join.py and bench/README.md.
CREATE TABLE pantau.admin_area_parts (
    part_id serial PRIMARY KEY,
    code    text NOT NULL REFERENCES pantau.admin_areas (code),
    geom    geometry(Polygon, 4326) NOT NULL
) WITH (parallel_workers = 2);

CREATE TABLE pantau.ingest_runs (
    batch_id     bigserial PRIMARY KEY,
    source       text        NOT NULL,
    files        text[]      NOT NULL DEFAULT '{}',
    status       text        NOT NULL DEFAULT 'running'
                 CHECK (status IN ('running', 'succeeded', 'failed')),
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    read_count   integer     NOT NULL DEFAULT 0,
    inserted     integer     NOT NULL DEFAULT 0,
    updated      integer     NOT NULL DEFAULT 0,
    unchanged    integer     NOT NULL DEFAULT 0,
    rejected     integer     NOT NULL DEFAULT 0,
    outside_area integer     NOT NULL DEFAULT 0,
    details      jsonb       NOT NULL DEFAULT '{}'
);

-- Input rows that could not be used: kept whole, with a machine-readable reason.
CREATE TABLE pantau.rejected_rows (
    rejected_id bigserial PRIMARY KEY,
    batch_id    bigint NOT NULL REFERENCES pantau.ingest_runs (batch_id),
    source      text   NOT NULL,
    file        text,
    line_no     integer,
    reason      text   NOT NULL,
    detail      text,
    raw         text   NOT NULL,
    rejected_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rejected_rows_batch_idx ON pantau.rejected_rows (batch_id);

-- One row per report and source, whatever its feed. Text is stored redacted only.
CREATE TABLE pantau.reports (
    source          text NOT NULL CHECK (source IN ('jaki', 'qlue')),
    source_id       text NOT NULL,
    ticket_code     text,
    category        text NOT NULL,
    source_category text,
    status          text NOT NULL
                    CHECK (status IN ('received', 'coordinated', 'in_progress', 'completed')),
    source_status   text,
    created_at      timestamptz NOT NULL,
    coordinated_at  timestamptz,
    completed_at    timestamptz,
    updated_at      timestamptz NOT NULL,
    agency          text,
    geom            geometry(Point, 4326) NOT NULL,
    h3_r12          bigint NOT NULL,
    area_code       text,
    kelurahan_code  text,
    kecamatan_code  text,
    kota_code       text,
    outside         boolean NOT NULL,
    photo_url       text,
    photo_done_url  text,
    text_redacted   text,
    batch_id        bigint REFERENCES pantau.ingest_runs (batch_id),
    PRIMARY KEY (source, source_id),
    CHECK (outside = (area_code IS NULL)),
    CHECK (completed_at IS NULL OR completed_at >= created_at)
);
CREATE INDEX reports_created_idx ON pantau.reports (created_at);
CREATE INDEX reports_kelurahan_idx ON pantau.reports (kelurahan_code, created_at);
CREATE INDEX reports_geom_idx ON pantau.reports USING gist (geom);
