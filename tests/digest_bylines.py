"""What a digest shows of a post whose source gave only its day: the day, no time."""

from __future__ import annotations

from aggregator.digest.build import Digest
from aggregator.digest.render import render_digest


def assert_day_alone(digest: Digest, invented: str) -> None:
    """The digest's two posts, 18 Nov (a day only) and 19 Nov 08:30 UTC, in both languages:
    the first with its day alone, never with ``invented`` (the time a zone made up)."""
    for language, day, timed in (("da", "18. nov.", "19. nov. 09:30"),
                                 ("en", "18 Nov", "19 Nov 09:30")):  # fmt: skip
        rendered = render_digest(digest, language)
        lines = rendered.text.splitlines()
        assert f"  {day}" in lines
        assert f"  {timed}" in lines
        assert f">{day}</p>" in rendered.html
        assert invented not in rendered.text
