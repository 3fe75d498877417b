"""Review 10 R10-2: a file the export cannot finish writing (the disk fills up, a quota) left its
partial temporary beside the target for good. The temporary was known to the generation only
once written, so the aborted generation did not remove it, and the abort also removed the
mark (.aggregator-export.pending) that makes the next generation look for leftovers. On a
disk that was already full each failed export could leave another one.

The write fails here as on a full disk, for real: the process's file size limit
(RLIMIT_FSIZE) makes the kernel refuse the bytes past it (EFBIG)."""

from __future__ import annotations

import resource
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from aggregator.errors import ExportError
from aggregator.export.writer import Generation

LIMIT = 4096


@contextmanager
def file_size_limit(size: int) -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, not a killed process
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def leftovers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.tmp"))


def test_a_file_that_cannot_be_written_leaves_no_temporary(tmp_path: Path) -> None:
    root = tmp_path / "output"
    with Generation(root, owned=("source",)) as generation:
        generation.add("source/kl/atom.xml", b"<feed/>")
        generation.commit()

    with file_size_limit(LIMIT), Generation(root, owned=("source",)) as generation:
        generation.add("source/kl/rss.xml", b"<rss/>")  # staged
        with pytest.raises(ExportError, match="cannot write"):
            generation.add("source/kl/feed.json", b"{" + b" " * (4 * LIMIT) + b"}")

    assert leftovers(root) == []
    assert (root / "source/kl/atom.xml").read_bytes() == b"<feed/>"  # the site is as it was
    assert not (root / "source/kl/rss.xml").exists()


def test_the_first_file_that_cannot_be_written_leaves_no_temporary(tmp_path: Path) -> None:
    root = tmp_path / "output"
    with (
        file_size_limit(LIMIT),
        Generation(root, owned=("source",)) as generation,
        pytest.raises(ExportError, match="cannot write"),
    ):
        generation.add("source/kl/feed.json", b"{" + b" " * (4 * LIMIT) + b"}")

    assert leftovers(root) == []
