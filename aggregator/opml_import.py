"""OPML subscription lists -> sources for feeds.yaml; the outlines a feed sits in become its
tags (``Danmark/Kommuner/OS2`` gives ``[danmark, kommuner]``), as does a ``category``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree

from aggregator.errors import ConfigError


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    name: str
    url: str
    tags: tuple[str, ...]


def _tag(text: str) -> str:
    return "-".join(text.strip().lower().split())


def _url(text: str) -> str:
    """``feed://host/x`` (Safari, NetNewsWire) as ``https://host/x``; ``feed:https://…`` as
    the URL inside it."""
    text = text.strip()
    lowered = text.lower()
    if lowered.startswith("feed:http://") or lowered.startswith("feed:https://"):
        return text[len("feed:") :]
    if lowered.startswith("feed://"):
        return f"https://{text[len('feed://') :]}"
    return text


def _walk(outline: Any, path: tuple[str, ...], found: list[OpmlFeed]) -> None:
    for child in outline.iterchildren("outline"):
        label = " ".join((child.get("text") or child.get("title") or "").split())
        url = _url(child.get("xmlUrl") or child.get("xmlurl") or "")
        if url:
            categories = [
                _tag(part)
                for value in (child.get("category") or "").split(",")
                for part in value.split("/")
                if part.strip()
            ]
            tags = tuple(dict.fromkeys([*path, *categories]))
            found.append(OpmlFeed(label or url, url, tags))
        _walk(child, (*path, _tag(label)) if label and not url else path, found)


def read_opml(content: bytes) -> list[OpmlFeed]:
    """The feeds of an OPML file, in document order; entities and network access refused."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as exc:
        raise ConfigError(f"not an OPML file: {exc}") from None
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise ConfigError("not an OPML file: no <opml><body>")
    found: list[OpmlFeed] = []
    _walk(body, (), found)
    return found
