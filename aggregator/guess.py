"""A first guess at the item selector of a news list page with no feed, for ``aggregator add``.

A list of posts is a run of sibling elements of one tag and class, each holding a link and
some text, most with a heading. The guess is only a start: ``aggregator add`` previews it,
and a selector that stops matching is reported as an error at the next poll.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from aggregator.parse_html import document

# Class names that mark chrome, not content.
_CHROME = ("cookie", "consent", "nav", "menu", "footer", "header", "breadcrumb", "pagination",
           "pager", "social", "share", "banner", "skip")  # fmt: skip
_HEADINGS = {"h1", "h2", "h3", "h4", "h5"}


def _classes(element: Any) -> list[str]:
    return [c for c in (element.get("class") or "").split() if c]


def _is_chrome(element: Any) -> bool:
    for node in [element, *element.iterancestors()]:
        tag = node.tag if isinstance(node.tag, str) else ""
        names = " ".join(_classes(node)).lower() + " " + (node.get("id") or "").lower()
        if tag in ("nav", "header", "footer") or any(word in names for word in _CHROME):
            return True
    return False


def _selector(element: Any) -> str:
    classes = _classes(element)
    own = element.tag + (f".{classes[0]}" if classes else "")
    parent = element.getparent()
    if parent is not None and (parent_classes := _classes(parent)):
        return f".{parent_classes[0]} > {own}"
    if parent is not None and parent.get("id"):
        return f"#{parent.get('id')} > {own}"
    return str(own)


def guess_item_selector(content: bytes, headers: dict[str, str] | None = None) -> str | None:
    """The CSS selector of the likeliest list of posts on the page, or None."""
    root = document(content, headers or {}).root
    scores: Counter[str] = Counter()
    for parent in root.iter():
        if not isinstance(parent.tag, str):
            continue
        groups: dict[tuple[str, str], list[Any]] = {}
        for child in parent:
            if isinstance(child.tag, str):
                key = (child.tag, (_classes(child) or [""])[0])
                groups.setdefault(key, []).append(child)
        for members in groups.values():
            if len(members) < 2 or _is_chrome(members[0]):
                continue
            usable = [
                m
                for m in members
                if m.xpath(".//a[@href]") and len(" ".join(m.itertext()).split()) >= 3
            ]
            if len(usable) < 2:
                continue
            headed = sum(1 for m in usable if any(d.tag in _HEADINGS for d in m.iter()))
            words = sum(len(" ".join(m.itertext()).split()) for m in usable) / len(usable)
            score = len(usable) * (2 if headed * 2 >= len(usable) else 1) * min(words, 40)
            selector = _selector(members[0])
            scores[selector] = max(scores[selector], int(score))
    if not scores:
        return None
    return scores.most_common(1)[0][0]
