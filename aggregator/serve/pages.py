"""The search page, in the site's layout (templates/base.html) and language. Pure render."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from aggregator.archive_search import SearchResults
from aggregator.config import Config
from aggregator.digest.i18n import MONTHS

_ENV = Environment(
    loader=PackageLoader("aggregator", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

TEXT: dict[str, dict[str, Any]] = {
    "da": {
        "skip": "Gå til indholdet",
        "title": "Søg i arkivet",
        "title_query": "Søgning: {query}",
        "label": "Søg i alle indlæg",
        "button": "Søg",
        "none": "Ingen indlæg passer til søgningen.",
        "one": "Ét indlæg passer.",
        "many": "Indlæg {first}–{last}.",
        "many_more": "Indlæg {first}–{last}; der er flere.",
        "previous": "Forrige side",
        "next": "Næste side",
        "pages": "Sider",
        "subscribe": "Følg søgningen",
        "feed_title": "{site}: søgning efter »{query}«",
        "help_title": "Sådan søger du",
        "help": [
            ("digitalisering kommune", "indlæg med begge ord, i alle bøjninger"),
            ('"offentlige sektor"', "ordene lige efter hinanden"),
            ("skole OR dagtilbud", "et af ordene"),
            ("data -møde", "uden ordet møde"),
            ("kilde:OS2", "kun fra kilder, hvis navn indeholder OS2"),
            ("tag:kommuner", "kun fra kilder med det tag"),
            ("fra:2026-01-01", "udgivet den dag eller senere"),
        ],
    },
    "en": {
        "skip": "Skip to content",
        "title": "Search the archive",
        "title_query": "Search: {query}",
        "label": "Search all posts",
        "button": "Search",
        "none": "No posts match the search.",
        "one": "One post matches.",
        "many": "Posts {first}–{last}.",
        "many_more": "Posts {first}–{last}; there are more.",
        "previous": "Previous page",
        "next": "Next page",
        "pages": "Pages",
        "subscribe": "Follow this search",
        "feed_title": "{site}: search for “{query}”",
        "help_title": "How to search",
        "help": [
            ("digitalisering kommune", "posts with both words, in any form"),
            ('"offentlige sektor"', "the words next to each other"),
            ("skole OR dagtilbud", "either word"),
            ("data -møde", "without the word møde"),
            ("kilde:OS2", "only from sources whose name contains OS2"),
            ("tag:kommuner", "only from sources with that tag"),
            ("fra:2026-01-01", "published on that day or later"),
        ],
    },
}


@dataclass(frozen=True, slots=True)
class FeedLink:
    label: str
    media_type: str
    href: str
    title: str


def feed_title(config: Config, query: str) -> str:
    text = TEXT[config.site.language]
    return str(text["feed_title"]).format(site=config.site.title, query=query)


def search_href(query: str, page: int = 1, path: str = "search") -> str:
    params: dict[str, str | int] = {"q": query}
    if page > 1:
        params["side"] = page
    return f"{path}?{urlencode(params)}"


def render_search_page(
    config: Config,
    query: str,
    results: SearchResults | None,
    error: str | None,
    page: int,
    per_page: int,
) -> str:
    language = config.site.language
    text = TEXT[language]
    zone = config.site.zone
    hits = []
    for hit in results.hits if results else ():
        entry = hit.entry
        local = entry.published.astimezone(zone)
        month = MONTHS[language][local.month - 1]
        lang = entry.language.split("-")[0] if entry.language else None
        hits.append(
            {
                "link": entry.link,
                "title_html": Markup(hit.title_html),  # escaped by search.highlight
                "snippet_html": Markup(hit.snippet_html),
                "source": entry.sources[0].title or entry.sources[0].name if entry.sources else "",
                "date": f"{local.day}. {month} {local.year}",
                "datetime": local.isoformat(),
                "lang": lang if lang and lang != language else None,
            }
        )
    first = (page - 1) * per_page + 1
    if not hits:
        summary = text["none"]
    elif len(hits) == 1 and page == 1 and not (results and results.more):
        summary = text["one"]
    else:
        key = "many_more" if results and results.more else "many"
        summary = str(text[key]).format(first=first, last=first + len(hits) - 1)
    feeds = (
        [
            FeedLink("Atom", "application/atom+xml", search_href(query, path="search.atom"),
                     feed_title(config, query)),
            FeedLink("JSON Feed", "application/feed+json", search_href(query, path="search.json"),
                     feed_title(config, query)),
        ]
        if query and not error
        else []
    )  # fmt: skip
    template = _ENV.get_template("search.html")
    return template.render(
        lang=language,
        title=str(text["title_query"]).format(query=query) if query else text["title"],
        stylesheet="style.css",
        root="./",
        site=config.site,
        text=text,
        query=query,
        error=error,
        summary=summary,
        hits=hits,
        first_number=first,
        feeds=feeds,
        previous_href=search_href(query, page - 1) if page > 1 and not error else None,
        next_href=search_href(query, page + 1) if results and results.more else None,
    )
