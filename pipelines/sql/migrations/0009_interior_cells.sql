-- The interior-cells lookup changes its rule: a res-11 cell is listed when all its res-12
-- children (the hexagon enlarged by 8/7, which holds them) lie inside one unit, and a point is
-- looked up by the parent of its stored res-12 cell instead of by its own res-11 cell: one H3
-- computation per report instead of two (pipelines/boundaries/cells.py; bench/README.md).
-- Cells listed under the old rule would give a few points near a boundary a wrong owner under
-- the new key, so the table is renamed (code and schema of different versions fail loudly
-- instead of silently) and emptied; the next boundary load or ingest rebuilds it.
ALTER TABLE pantau.admin_area_cells RENAME TO admin_interior_cells;
ALTER INDEX pantau.admin_area_cells_pkey RENAME TO admin_interior_cells_pkey;
DELETE FROM pantau.admin_interior_cells;
COMMENT ON TABLE pantau.admin_interior_cells IS
    'H3 res-11 cells whose res-12 children all lie inside one kelurahan-level unit; a report '
    'whose res-12 cell has one of them as parent belongs to that unit (pipelines/boundaries/cells.py)';
