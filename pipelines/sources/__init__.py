"""Source adapters: one per feed, all behind the small interface of :mod:`.base`.

``SOURCES`` maps the ``--source`` name of ``pipelines ingest`` to its file adapter.
"""

from __future__ import annotations

from pipelines.sources.base import FileSource
from pipelines.sources.jaki import JakiFiles
from pipelines.sources.qlue import QlueFiles

SOURCES: dict[str, type[FileSource]] = {"jaki": JakiFiles, "qlue": QlueFiles}
