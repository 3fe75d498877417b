"""What a source is called where several are shown together (a digest, the page, the merged
and per-source feeds, the OPML): its feed's title, told apart by its configured name when
another source there has the same title. Two municipalities' WordPress blogs both called
"Nyheder" are two sources, and must read as two."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

__all__ = ["source_labels"]


def _fold(title: str) -> str:
    return " ".join(title.split()).casefold()


def source_labels(feeds: Iterable[tuple[str, str, str | None]]) -> dict[str, str]:
    """Each feed's label by URL, from (url, configured name, feed title): its title (its
    name while it has none), or "title (name)" when another feed of ``feeds`` has the same
    title, whatever its case and spacing."""
    titles: dict[str, tuple[str, str, str]] = {}
    for url, name, title in feeds:
        if url not in titles:
            shown = title or name
            titles[url] = (name, shown, _fold(shown))
    shared = Counter(folded for _, _, folded in titles.values())
    return {
        url: f"{title} ({name})" if shared[folded] > 1 and name != title else title
        for url, (name, title, folded) in titles.items()
    }
