"""Pantau's Streamlit dashboard: ``app.py`` routes, ``app_pages/`` lay out, ``data.py`` reads.

Dependencies point one way: ``dashboard -> geo -> database``. The dashboard only reads, through
the ``pantau_reader`` role.
"""
