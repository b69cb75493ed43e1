-- The stable, documented read-only interface for the dashboard, analysts and QGIS users.
-- Columns are only ever added to these views, never renamed or removed.

-- H3 cells are stored as BIGINT. Bits 52-55 hold the resolution; the digit of resolution r
-- sits at bit 3 * (15 - r); unused digits are 7 (all ones). The parent at resolution p keeps
-- digits 1..p, sets the resolution field to p and fills the rest with ones.
-- NULL when p is outside 0..resolution(cell). Plain SQL, so the planner inlines it.
CREATE FUNCTION api.h3_get_resolution(cell bigint) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT ((cell >> 52) & 15)::integer $$;

CREATE FUNCTION api.h3_cell_to_parent(cell bigint, res integer) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
        SELECT CASE
            WHEN res < 0 OR res > ((cell >> 52) & 15) THEN NULL
            ELSE (cell & ~(15::bigint << 52)) | (res::bigint << 52)
                 | ((1::bigint << (3 * (15 - res))) - 1)
        END
    $$;

-- The H3 index as the usual 15-hex-digit text (what h3-py, QGIS plugins and deck.gl take).
CREATE FUNCTION api.h3_cell_to_text(cell bigint) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT lpad(to_hex(cell), 15, '0') $$;

CREATE VIEW api.admin_areas AS
SELECT level, code, name, parent_code, area_km2, is_placeholder, geom,
       source_code, kota_code, kecamatan_code
FROM pantau.admin_areas;

COMMENT ON VIEW api.admin_areas IS
    'Kota, kecamatan and kelurahan of DKI Jakarta (BPS codes), EPSG:4326. '
    'Placeholder units (lakes, leftovers) are kelurahan-level rows with is_placeholder.';

CREATE VIEW api.reports AS
SELECT source, source_id, category, source_category, status,
       created_at, coordinated_at, completed_at, updated_at,
       ST_Y(geom) AS lat, ST_X(geom) AS lng,
       kelurahan_code, kecamatan_code, kota_code, h3_r12, outside,
       ticket_code, source_status, agency, area_code, geom
FROM pantau.reports;

COMMENT ON VIEW api.reports IS
    'One row per citizen report (JAKI, Qlue), canonical categories and statuses, times in '
    'timestamptz. kelurahan_code is null when outside Jakarta or in a placeholder unit.';

CREATE VIEW api.boundary_source AS
SELECT load_id, source, format, file_name, sha256, licence, attribution, counts, loaded_at
FROM pantau.boundary_loads
ORDER BY load_id DESC
LIMIT 1;

COMMENT ON VIEW api.boundary_source IS 'Provenance of the boundary set currently loaded.';

CREATE VIEW api.ingest_runs AS
SELECT batch_id, source, status, started_at, finished_at, read_count, inserted, updated,
       unchanged, rejected, outside_area
FROM pantau.ingest_runs;
