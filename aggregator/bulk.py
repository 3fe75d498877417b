"""Building many long-lived objects at once without the garbage collector's passes."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def no_collector_passes() -> Iterator[None]:
    """The cyclic collector paused for the block. A digest of a large archive builds tens of
    thousands of entries, sources and items that all live on: each collection walks them
    all and frees nothing, and those walks were half of the digest's build. The objects are
    plain values without cycles, so nothing is left for the collector afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
