"""One file written the way the export writes its generations (export/writer.py)."""

from __future__ import annotations

from pathlib import Path

from aggregator.export.writer import Generation


def write_atomic(path: Path, data: bytes) -> None:
    """Write through a dot-prefixed temporary renamed over ``path``; unchanged bytes are not
    rewritten."""
    with Generation(path.parent, lock=False) as generation:
        generation.add(path.name, data)
        generation.commit()
