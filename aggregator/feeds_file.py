"""Edits of feeds.yaml that keep the admin's file: the added or removed source is the only
change, and every other byte (comments, order, quoting, blank lines) stays as it was.

ruamel.yaml's round-trip loader tells where each source starts; the new block is dumped by
ruamel.yaml alone and spliced in as text, since a whole-document round-trip may still reflow
what it did not need to touch.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from aggregator.errors import ConfigError

FIELD_ORDER = ("name", "url", "type", "tags", "items", "fields", "follow", "follow_limit")


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.width = 100
    yaml.indent(mapping=2, sequence=2, offset=0)
    return yaml


def _load(text: str) -> Any:
    try:
        return _yaml().load(text)
    except YAMLError as exc:
        raise ConfigError(f"feeds.yaml is not valid YAML: {exc}") from None


def _to_node(value: Any) -> Any:
    if isinstance(value, Mapping):
        node = CommentedMap()
        for key, item in value.items():
            node[key] = _to_node(item)
        return node
    if isinstance(value, (list, tuple)):
        seq = CommentedSeq(_to_node(v) for v in value)
        if all(isinstance(v, str) for v in value):
            seq.fa.set_flow_style()  # tags: [kommuner, os2], as people write them
        return seq
    return value


def render_block(entry: Mapping[str, Any], dash_column: int, comment: str | None = None) -> str:
    """One source as the lines of a sequence item whose dash is at ``dash_column``."""
    ordered = {k: entry[k] for k in FIELD_ORDER if k in entry}
    ordered.update((k, v) for k, v in entry.items() if k not in ordered)
    out = io.StringIO()
    _yaml().dump(_to_node(ordered), out)
    lines = out.getvalue().rstrip("\n").split("\n")
    pad = " " * dash_column
    block = [f"{pad}- {lines[0]}"] + [f"{pad}  {line}" if line else "" for line in lines[1:]]
    if comment:
        block = [f"{pad}# {line}".rstrip() for line in comment.split("\n")] + block
    return "\n".join(block) + "\n"


def _blocks(entries: Sequence[Mapping[str, Any]], dash_column: int, comment: str | None) -> str:
    return "".join(
        render_block(entry, dash_column, comment if index == 0 else None)
        for index, entry in enumerate(entries)
    )


def _is_content(line: str, dash_column: int) -> bool:
    """A line that belongs to an item: neither blank nor a comment, indented past the dash."""
    stripped = line.lstrip(" ")
    if not stripped or stripped.startswith("#"):
        return False
    return len(line) - len(stripped) > dash_column


def _dash_column(line: str, key_column: int) -> int:
    dash = line.rfind("-", 0, key_column)
    if dash < 0:
        raise ConfigError("feeds.yaml: cannot find where the feeds list is; edit it by hand")
    return dash


def _item_starts(feeds: CommentedSeq) -> list[tuple[int, int]]:
    """(line, key column) of each item of the feeds list."""
    return [(feeds.lc.item(i)[0], feeds.lc.item(i)[1]) for i in range(len(feeds))]


def _last_content_line(lines: Sequence[str], start: int, stop: int, dash_column: int) -> int:
    last = start
    for number in range(start + 1, stop):
        if _is_content(lines[number], dash_column):
            last = number
        elif lines[number].strip() and not lines[number].lstrip().startswith("#"):
            break
    return last


def _feeds_seq(document: Any) -> CommentedSeq | None:
    if document is None:
        return None
    if not isinstance(document, CommentedMap):
        raise ConfigError("feeds.yaml: expected a mapping of settings at the top level")
    feeds = document.get("feeds")
    if feeds is not None and not isinstance(feeds, CommentedSeq):
        raise ConfigError("feeds.yaml: feeds is not a list")
    return feeds


def append_sources(
    text: str, entries: Sequence[Mapping[str, Any]], comment: str | None = None
) -> str:
    """``text`` with the sources added at the end of its feeds list."""
    if not entries:
        return text
    document = _load(text)
    feeds = _feeds_seq(document)
    lines = text.split("\n")
    if feeds is not None and len(feeds) and not feeds.fa.flow_style():
        starts = _item_starts(feeds)
        line, column = starts[-1]
        dash = _dash_column(lines[line], column)
        stop = _section_end(lines, line, dash)
        end = _last_content_line(lines, line, stop, dash)
        block = "".join(
            render_block(e, dash, comment if i == 0 else None) for i, e in enumerate(entries)
        )
        head = "\n".join(lines[: end + 1]) + "\n"
        tail = "\n".join(lines[end + 1 :])
        return head + block + tail
    block = _blocks(entries, 2, comment)
    if document is not None and "feeds" in document:
        # "feeds:" with nothing, or "feeds: []": that one line becomes the list's head.
        key_line = document.lc.key("feeds")[0]
        lines[key_line] = _without_value(lines[key_line])
        head = "\n".join(lines[: key_line + 1]) + "\n"
        tail = "\n".join(lines[key_line + 1 :])
        return head + block + tail
    ending = "" if not text or text.endswith("\n") else "\n"
    return text + ending + "feeds:\n" + block


def _without_value(line: str) -> str:
    key, _, rest = line.partition(":")
    comment = rest[rest.find("#") :] if "#" in rest else ""
    return f"{key}:" + (f"  {comment}" if comment else "")


def _section_end(lines: Sequence[str], start: int, dash_column: int) -> int:
    """The first line after ``start`` that is outside the list (a key further left)."""
    for number in range(start + 1, len(lines)):
        line = lines[number]
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(stripped)
        if indent < dash_column or (indent == dash_column and not stripped.startswith("-")):
            return number
    return len(lines)


def remove_source(text: str, name: str) -> str:
    """``text`` without the source called ``name`` (its own lines only)."""
    document = _load(text)
    feeds = _feeds_seq(document)
    names = [str(item.get("name", "")) if isinstance(item, Mapping) else "" for item in feeds or []]
    if feeds is None or name not in names:
        raise ConfigError(f"no feed named {name!r} in feeds.yaml")
    index = names.index(name)
    lines = text.split("\n")
    starts = _item_starts(feeds)
    line, column = starts[index]
    dash = _dash_column(lines[line], column)
    stop = starts[index + 1][0] if index + 1 < len(starts) else _section_end(lines, line, dash)
    end = _last_content_line(lines, line, stop, dash)
    if len(feeds) == 1:
        key_line = document.lc.key("feeds")[0]
        key, _, rest = lines[key_line].partition(":")
        lines[key_line] = f"{key}: []" + rest[len(rest.rstrip()) :]
    return "\n".join(lines[:line] + lines[end + 1 :])


def update(path: Path, change: Callable[[str], str]) -> None:
    """Apply ``change`` to the file's text and save it, one command at a time: two ``add``,
    ``remove`` or ``import`` at once would each read the file before the other wrote it, and
    the last to rename would silently undo the other's edit."""
    with _edit_lock(path):
        save(path, change(path.read_text(encoding="utf-8")))


@contextmanager
def _edit_lock(path: Path) -> Iterator[None]:
    lock = path.with_name(f".{path.name}.lock")
    try:
        handle = open(lock, "a")  # noqa: SIM115 - held for the whole edit
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create the edit lock {lock}: {exc}") from exc
    with handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # waits its turn; the kernel frees it
        yield


def save(path: Path, text: str) -> None:
    """Check the edited text is a valid configuration, then replace the file atomically."""
    from aggregator.config import config_from_text

    try:
        config_from_text(path, text)  # warnings and problems name the file, not a temporary
    except ConfigError as exc:
        problems = str(exc).split("\n", 1)[-1]
        raise ConfigError(
            f"{path} was left unchanged: the edit would make it invalid\n{problems}"
        ) from None
    # A name of its own: another process's edit must never install this one.
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        with contextlib.suppress(OSError):  # keep the admin's permissions, not mkstemp's 0600
            os.chmod(temporary, path.stat().st_mode & 0o7777)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
