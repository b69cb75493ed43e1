"""Pantau's geospatial core: settings, database access and read-side queries.

Nothing in this package imports streamlit: the dashboard and the pipelines both build on it.
"""
