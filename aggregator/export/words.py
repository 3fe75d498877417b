"""The page's words in Danish (default) and English."""

from __future__ import annotations

from typing import Final

TEXT: Final = {
    "da": {
        "skip": "Gå til indlæggene",
        "sources": "Kilder",
        "topics": "Emner",
        "feeds": "Abonnér",
        "archive": "Arkiv",
        "merged": "Alle indlæg",
        "by": "af",
        "also": "Også bragt af",
        "categories": "Emner",
        "enclosures": "Vedhæftet",
        "site": "websted",
        "feed": "feed",
        "no_entries": "Der er ingen indlæg endnu.",
        "state_ok": "ok",
        "state_new": "ikke hentet endnu",
        "state_failing": "fejler siden {since}",
        "state_gone": "væk (findes ikke længere)",
        "state_moved": "flyttet til {url}",
        "state_disabled": "sat på pause",
        "untitled": "(uden titel)",
        "tag_title": "Emne: {name}",
        "source_title": "Kilde: {name}",
        "month_title": "Arkiv: {name}",
        "previous_month": "Forrige måned",
        "next_month": "Næste måned",
        "front": "Forside",
        "opml": "Alle kilder som OPML",
        "published_at": "Udgivet",
        "entries_count": "{n} indlæg",
    },
    "en": {
        "skip": "Skip to the posts",
        "sources": "Sources",
        "topics": "Topics",
        "feeds": "Subscribe",
        "archive": "Archive",
        "merged": "All posts",
        "by": "by",
        "also": "Also carried by",
        "categories": "Topics",
        "enclosures": "Attached",
        "site": "site",
        "feed": "feed",
        "no_entries": "There are no posts yet.",
        "state_ok": "ok",
        "state_new": "not fetched yet",
        "state_failing": "failing since {since}",
        "state_gone": "gone (no longer exists)",
        "state_moved": "moved to {url}",
        "state_disabled": "paused",
        "untitled": "(untitled)",
        "tag_title": "Topic: {name}",
        "source_title": "Source: {name}",
        "month_title": "Archive: {name}",
        "previous_month": "Previous month",
        "next_month": "Next month",
        "front": "Front page",
        "opml": "All sources as OPML",
        "published_at": "Published",
        "entries_count": "{n} posts",
    },
}


def untitled(language: str) -> str:
    return TEXT[language]["untitled"]
