"""Official administrative boundaries: read any supported file, normalise, load into PostGIS."""
