-- The interior lookup moves from H3 res-11 cells to squares of longitude and latitude in two
-- levels (1/2500 degree, then half that along the boundaries): a point's square is two
-- multiplications away where its H3 cell was a library call, and 90 % of the reports fall in
-- a listed square instead of 84 % (pipelines/boundaries/squares.py; bench/README.md).
-- A key is the level, the row and the column of a square; a listed square lies wholly inside
-- one kelurahan-level unit, whose code it holds. Built from the loaded polygons in PostGIS,
-- in the transaction of the boundary load, or by the next ingest when it is empty (as here).
-- (The ingest takes the unit's other codes from admin_areas, as for every owner.)
CREATE TABLE pantau.admin_area_squares (
    square    bigint PRIMARY KEY,
    area_code text NOT NULL REFERENCES pantau.admin_areas (code)
);
ALTER TABLE pantau.admin_area_squares OWNER TO pantau_writer;
DROP TABLE IF EXISTS pantau.admin_area_cells;
DROP TABLE IF EXISTS pantau.admin_interior_cells;  -- a development version of this migration
