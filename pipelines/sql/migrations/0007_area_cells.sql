-- H3 res-11 cells that lie wholly inside one kelurahan-level unit, with that unit's codes.
-- A point whose res-11 cell is listed here has that owner without a point-in-polygon test:
-- the ingest joins most points (about 84 % in Jakarta) on this bigint key, and only the
-- points of cells that touch a boundary go through ST_Covers on admin_area_parts.
-- Built from the loaded polygons in PostGIS by pipelines/boundaries/cells.py, in the same
-- transaction as the boundary load; see that module for the rule (margin, exclusivity).
CREATE TABLE pantau.admin_area_cells (
    cell           bigint PRIMARY KEY,
    area_code      text NOT NULL REFERENCES pantau.admin_areas (code),
    kelurahan_code text,
    kecamatan_code text,
    kota_code      text NOT NULL
);
ALTER TABLE pantau.admin_area_cells OWNER TO pantau_writer;
