"""What every output format says about the merged feed itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin

from aggregator import __version__

ATOM_FILE = "atom.xml"
RSS_FILE = "rss.xml"
JSON_FILE = "feed.json"
GENERATOR = "aggregator"


@dataclass(frozen=True, slots=True)
class FeedMeta:
    title: str
    description: str
    base_url: str
    language: str
    updated: datetime
    generator_version: str = __version__

    def url(self, name: str = "") -> str:
        base = self.base_url if self.base_url.endswith("/") else self.base_url + "/"
        return urljoin(base, name)


def rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
