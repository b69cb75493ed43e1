"""Benchmarks: ``python -m bench <name> [--json]``. Not tests; CI never runs them."""
