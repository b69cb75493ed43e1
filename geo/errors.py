"""The project's exceptions.

Every expected failure (missing server, bad input file, unreachable database) is raised as a
:class:`PantauError` with a message written for the person at the terminal; the command line
prints the message and exits non-zero instead of showing a traceback.
"""

from __future__ import annotations


class PantauError(Exception):
    """An expected failure whose message tells the user what to do."""


class DatabaseUnavailableError(PantauError):
    """The configured PostgreSQL server cannot be reached."""


class ServerSetupError(PantauError):
    """PostgreSQL or PostGIS is missing and could not be installed automatically."""


class BoundaryFileError(PantauError):
    """A boundary file cannot be read or lacks what a boundary set needs."""


class DataSourceError(PantauError):
    """A reference data file cannot be found, downloaded or verified."""
