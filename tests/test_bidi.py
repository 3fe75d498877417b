"""Bidi controls and C1 controls in one-line fields: what a title opens, it closes.

An unclosed right-to-left override in a title turned the rest of its line around: the
digest's reference number after it, the page's date. Cleaning closes what is left open
and drops closers without an opener; the page also isolates each title in <bdi>.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aggregator.clean import MAX_BIDI_DEPTH, line_text
from aggregator.normalise import normalise_entry
from aggregator.types import ParsedEntry

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
LRE, RLE, PDF, LRO, RLO = "\u202a", "\u202b", "\u202c", "\u202d", "\u202e"
LRI, RLI, FSI, PDI = "\u2066", "\u2067", "\u2068", "\u2069"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Æble og ørred", "Æble og ørred"),
        (f"Æble {RLO}evil", f"Æble {RLO}evil{PDF}"),
        (f"{RLI}عربي{PDI} og dansk", f"{RLI}عربي{PDI} og dansk"),
        (f"a{PDF}b{PDI}c", "abc"),
        (f"{LRE}{RLI}x", f"{LRE}{RLI}x{PDI}{PDF}"),
        (f"{RLI}{LRO}x{PDI}y", f"{RLI}{LRO}x{PDF}{PDI}y"),  # PDI ends what its isolate holds
        (f"{FSI}x{PDF}y", f"{FSI}xy{PDI}"),  # PDF does not close an isolate
        (f"{RLE}a{PDF}{PDF}b", f"{RLE}a{PDF}b"),
        ("Titel \x9b2J slet\x85\x7f", "Titel 2J slet"),
    ],
)
def test_line_text(value, expected):
    assert line_text(value) == expected


def test_depth_is_bounded_as_the_bidi_algorithm_bounds_it():
    cleaned = line_text(RLO * 1000 + "x")
    assert cleaned == RLO * MAX_BIDI_DEPTH + "x" + PDF * MAX_BIDI_DEPTH


def test_title_and_author_are_balanced_when_normalised():
    entry = ParsedEntry(
        "id-1", "https://ex.dk/a", f"Æble {RLO}evil \u009b2J", f"Åse {RLI}Ørsted",
        "<p>Tekst</p>", NOW - timedelta(days=1), None,
    )  # fmt: skip
    plan = normalise_entry(entry, "https://ex.dk/feed", NOW)
    assert plan.title == f"Æble {RLO}evil 2J{PDF}"
    assert plan.author == f"Åse {RLI}Ørsted{PDI}"
