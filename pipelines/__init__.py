"""Pantau's pipelines: the local database, migrations, boundary and feed loads.

Run them as ``python -m pipelines <command>`` from the repository root.
"""
