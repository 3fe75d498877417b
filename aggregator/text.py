"""How the commands word things: tables, times, counts and JSON, as text.

Only the standard library: ``status`` builds its whole output from these without importing
click (see aggregator/entry.py); aggregator.console prints them for the other commands.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """Columns padded to their widest cell; the last column is not padded."""
    cells = [[str(c) for c in header], *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]


def json_text(data: object) -> str:
    """Indented JSON with æøå as they are, datetimes in ISO 8601 and paths as text."""
    import json  # here: --help needs none of it

    text = json.dumps(data, ensure_ascii=False, indent=2, default=_json_default)
    # json escapes C0 controls itself; DEL and C1 are escaped too, the same data to a reader.
    return text if text.isascii() else text.translate(_C1_ESCAPES)


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def local_time(value: datetime | None, zone: tzinfo, empty: str = "-") -> str:
    """``2026-12-01 07:00 CET``: the zone is always shown, so nobody guesses."""
    if value is None:
        return empty
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 entry``, ``2 entries``, ``0 feeds``."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {nouns or _plural_of(noun)}"


def _plural_of(noun: str) -> str:
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def json_value(value: Any) -> Any:
    """A value as JSON output shows it: aware datetimes as ISO 8601 with their offset."""
    return value.isoformat() if isinstance(value, datetime) else value


# What a terminal acts on: C0 controls but tab and newline (ESC starts every sequence, CR
# rewrites the line), DEL, and the C1 controls, of which U+009B (CSI) and U+009D (OSC) start
# sequences on their own in many terminals.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Whole sequences go, as click strips them for a pipe: CSI (ESC [ or U+009B), OSC (ESC ] or
# U+009D, to BEL or ST) and two-character escapes; the controls left then go one by one.
_SEQUENCES = re.compile(
    "(?:\x1b\\[|\x9b)[0-?]*[ -/]*[@-~]"
    "|(?:\x1b\\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\\\|\x9c)?"
    "|\x1b[@-Z\\\\-_]"
)
_C1_ESCAPES = {code: f"\\u{code:04x}" for code in range(0x7F, 0xA0)}


def terminal_text(text: str) -> str:
    """``text`` without the characters a terminal would act on, so that a feed or a server
    (a reason phrase, a title) cannot set the window title, the clipboard or the colours."""
    if text.isprintable():
        return text
    return _CONTROLS.sub("", _SEQUENCES.sub("", text))
