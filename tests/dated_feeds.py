"""Small RSS, Atom and JSON Feed documents of one post per date string, written as given:
the date tests feed each reading road the same dates."""

from __future__ import annotations

import json
from typing import Any


def rss(*dates: str) -> bytes:
    items = "".join(
        f"<item><title>Post {n}</title><link>https://kommune.example/{n}</link>"
        f"<guid>urn:post:{n}</guid><pubDate>{date}</pubDate></item>"
        for n, date in enumerate(dates)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>K</title>'
        f"<link>https://kommune.example/</link>{items}</channel></rss>"
    ).encode()


def atom(*dates: str) -> bytes:
    entries = "".join(
        f"<entry><title>Post {n}</title><id>urn:post:{n}</id>"
        f'<link href="https://kommune.example/{n}"/><published>{date}</published>'
        f"<updated>{date}</updated></entry>"
        for n, date in enumerate(dates)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>K</title><id>urn:k</id><updated>2026-11-20T10:00:00Z</updated>{entries}</feed>"
    ).encode()


def json_feed(*dates: str, modified: bool = False) -> bytes:
    """``modified``: each item's date_modified too, as Atom's updated."""
    items: list[dict[str, Any]] = []
    for n, date in enumerate(dates):
        item = {"id": f"urn:post:{n}", "url": f"https://kommune.example/{n}",
                "title": f"Post {n}", "content_text": "Tekst", "date_published": date}  # fmt: skip
        if modified:
            item["date_modified"] = date
        items.append(item)
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "K", "items": items}
    return json.dumps(feed).encode()
