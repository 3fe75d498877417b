"""A first guess at the item selector of a news list page with no feed, for ``aggregator add``.

A list of posts is a run of sibling elements of one tag and class, each holding a link (or
being one: a card that is an ``<a>`` around its heading and teaser) and some text, most with
a heading. A post's date is the element inside it whose text reads as a whole date, where the
page writes dates as text, not as ``<time datetime>``. The guess is only a start: ``aggregator
add`` previews it, and a selector that stops matching is reported as an error at the next poll.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from aggregator.page_dates import parse_date
from aggregator.parse_html import DEFAULTS, NATURAL_ATTRIBUTE, document, select, take
from aggregator.types import Selector

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
            # A card may be the link itself: parse_html then takes the item's own href.
            usable = [
                m
                for m in members
                if m.xpath("descendant-or-self::a[@href]")
                and len(" ".join(m.itertext()).split()) >= 3
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


# A date an item shows as text is short and has a year: a teaser that names 2027 is no date.
_DATE_TEXT_LENGTH = 80
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
_CSS_NAME = re.compile(r"-?[A-Za-z_][\w-]*")
_ITEMS_TRIED = 20


def _date_candidates(item: Any) -> list[str]:
    """Selectors, inside an item, of the elements whose text could be its date: by class
    first, then by tag, then by tag and place (a classless ``<p>`` after the teaser's)."""
    found: list[str] = []
    for element in item.iterdescendants():
        if not isinstance(element.tag, str):
            continue
        text = " ".join(" ".join(element.itertext()).split())
        if len(text) > _DATE_TEXT_LENGTH or not _YEAR.search(text):
            continue
        tag = element.tag
        found += [f"{tag}.{name}" for name in _classes(element) if _CSS_NAME.fullmatch(name)]
        place = 1 + sum(1 for s in element.itersiblings(preceding=True) if s.tag == tag)
        found += [tag, f"{tag}:nth-of-type({place})"]
    return list(dict.fromkeys(found))


def guess_date_selector(
    content: bytes,
    items: Selector,
    headers: Mapping[str, str] | None = None,
    zone: str = "Europe/Copenhagen",
) -> Selector | None:
    """The selector of the items' dates, when they are text the default (``time``) does not
    find, or None: undated posts are stored as archive, hidden from outputs and the digest.
    It must give a date, read as a poll reads it, for most of the items."""
    page = document(content, headers or {})
    matched = list(select(page, items))[:_ITEMS_TRIED]
    if not matched:
        return None
    readings: dict[str, bool] = {}

    def dates(selector: Selector) -> tuple[int, int]:
        """How many items it dates, and (negated) how long its texts are: of an element and
        the one inside it that both read as the date, the inner one says it alone."""
        count = length = 0
        for item in matched:
            value = take(select(item, selector), selector, NATURAL_ATTRIBUTE["date"])
            if value and value not in readings:
                readings[value] = bool(_YEAR.search(value)) and parse_date(value, zone) is not None
            if value and readings[value]:
                count, length = count + 1, length + len(value)
        return count, -length

    candidates = dict.fromkeys(c for item in matched for c in _date_candidates(item.root))
    scored = [(dates(Selector(query)), query) for query in candidates]
    if not scored:
        return None
    (count, _), query = max(scored, key=lambda pair: pair[0])  # the first of equals
    if count * 2 < len(matched) or dates(DEFAULTS["date"])[0] >= count:
        return None
    return Selector(query)
