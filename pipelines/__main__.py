"""Pantau's command line: ``python -m pipelines <command> --help``."""

import sys

from pipelines.cli import app
from pipelines.run import run_cli

if __name__ == "__main__":
    sys.exit(run_cli(app))
