"""The writer's commit: every file's data is on disk before any is renamed into place, and
every folder renamed into is synced after its renames (so a crash after the commit keeps
the new names)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from aggregator.export.writer import Generation


def test_every_folder_renamed_into_is_synced_after_its_renames(tmp_path: Path, monkeypatch):
    events: list[tuple[str, str]] = []
    lock = threading.Lock()
    real_fsync, real_fdatasync, real_replace = os.fsync, os.fdatasync, os.replace

    def named(fd: int) -> str:
        return os.readlink(f"/proc/self/fd/{fd}")

    def fsync(fd: int) -> None:
        kind = "folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        with lock:
            events.append((f"fsync {kind}", named(fd)))
        real_fsync(fd)

    def fdatasync(fd: int) -> None:
        with lock:
            events.append(("fdatasync", named(fd)))
        real_fdatasync(fd)

    def replace(source: str, target: str) -> None:
        with lock:
            events.append(("rename", str(target)))
        real_replace(source, target)

    root = tmp_path / "out"
    with Generation(root, owned=("source",)) as generation:
        for n in range(40):
            generation.add(f"source/s{n}/atom.xml", f"<feed>{n} æøå</feed>".encode())
        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(os, "fdatasync", fdatasync)
        monkeypatch.setattr(os, "replace", replace)
        generation.commit()
    monkeypatch.undo()
    renames = [i for i, (what, _) in enumerate(events) if what == "rename"]
    targets = {path for what, path in events if what == "rename" and "/source/" in path}
    assert len(targets) == 40
    data_synced = [i for i, (what, _) in enumerate(events) if what == "fdatasync"]
    assert len(data_synced) >= 40
    assert max(data_synced) < min(renames)  # data first, then names
    for target in targets:
        folder = os.path.dirname(target)
        synced = [i for i, (what, path) in enumerate(events)
                  if what == "fsync folder" and path == folder]  # fmt: skip
        last_rename = max(i for i, (what, path) in enumerate(events)
                          if what == "rename" and os.path.dirname(path) == folder)  # fmt: skip
        assert synced, f"{folder} never synced"
        assert max(synced) > last_rename
    assert (root / "source/s7/atom.xml").read_text(encoding="utf-8") == "<feed>7 æøå</feed>"


@pytest.mark.parametrize("folders", [1, 3, 200])
def test_a_commit_publishes_every_staged_file(tmp_path: Path, folders: int) -> None:
    root = tmp_path / "out"
    with Generation(root, owned=("archive",)) as generation:
        for n in range(folders * 2):
            generation.add(f"archive/m{n % folders}/{n}.json", b'{"n": %d}' % n)
        generation.commit()
    written = sorted(p.relative_to(root).as_posix() for p in (root / "archive").rglob("*.json"))
    assert len(written) == folders * 2
    assert not list(root.rglob("*.tmp"))
