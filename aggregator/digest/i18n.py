"""The digest's words in Danish (default) and English, and how dates are said in each."""

from __future__ import annotations

from datetime import date
from typing import Final

MONTHS: Final = {
    "da": ("januar", "februar", "marts", "april", "maj", "juni", "juli", "august",
           "september", "oktober", "november", "december"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}  # fmt: skip
WEEKDAY_NAMES: Final = {
    "da": ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}

TEXT: Final = {
    "da": {
        "subject_week": "{title} · uge {week}: {count} nye indlæg",
        "subject_day": "{title} · {date}: {count} nye indlæg",
        "subject_empty_week": "{title} · uge {week}: intet nyt",
        "subject_empty_day": "{title} · {date}: intet nyt",
        "week_label": "Uge {week} · {range}",
        "top_one": "Ét nyt indlæg fra én kilde",
        "top_many": "{count} nye indlæg fra {sources}",
        "sources_one": "én kilde",
        "sources_many": "{n} kilder",
        "empty": "Der er ikke kommet nye indlæg siden sidste udsendelse.",
        "also_in": "Også bragt af",
        "by": "af",
        "more": "og {n} mere",
        "more_link": "Se dem alle på siden",
        "left_out_sources": "Og {posts} indlæg mere fra {groups} andre kilder",
        "left_out_tags": "Og {posts} indlæg mere under {groups} andre emner",
        "no_tag": "Andet",
        "failed_heading": "Kilder uden svar hele perioden",
        "failing_since": "fejler siden {since}",
        "gone": "findes ikke længere (410)",
        "page": "Websiden",
        "feed": "Det samlede feed",
        "archive": "Tidligere udsendelser",
        "unsubscribe": "Afmeld",
        "sent_to": "Sendt til {address}, fordi du er på modtagerlisten for {title}.",
        "links": "Links",
    },
    "en": {
        "subject_week": "{title} · week {week}: {count} new posts",
        "subject_day": "{title} · {date}: {count} new posts",
        "subject_empty_week": "{title} · week {week}: nothing new",
        "subject_empty_day": "{title} · {date}: nothing new",
        "week_label": "Week {week} · {range}",
        "top_one": "One new post from one source",
        "top_many": "{count} new posts from {sources}",
        "sources_one": "one source",
        "sources_many": "{n} sources",
        "empty": "No new posts have arrived since the last digest.",
        "also_in": "Also published by",
        "by": "by",
        "more": "and {n} more",
        "more_link": "See them all on the page",
        "left_out_sources": "And {posts} more posts from {groups} other sources",
        "left_out_tags": "And {posts} more posts under {groups} other topics",
        "no_tag": "Other",
        "failed_heading": "Sources that failed the whole period",
        "failing_since": "failing since {since}",
        "gone": "gone (410)",
        "page": "The web page",
        "feed": "The merged feed",
        "archive": "Past digests",
        "unsubscribe": "Unsubscribe",
        "sent_to": "Sent to {address} because you are on the recipient list of {title}.",
        "links": "Links",
    },
}


def long_date(value: date, language: str) -> str:
    month = MONTHS[language][value.month - 1]
    if language == "da":
        return f"{value.day}. {month} {value.year}"
    return f"{value.day} {month} {value.year}"


def short_date(value: date, language: str) -> str:
    month = MONTHS[language][value.month - 1]
    return f"{value.day}. {month[:3]}." if language == "da" else f"{value.day} {month[:3]}"


def day_label(value: date, language: str) -> str:
    name = WEEKDAY_NAMES[language][value.weekday()]
    return f"{name.capitalize()} {long_date(value, language)}"


def date_range(first: date, last: date, language: str) -> str:
    """``23.–29. november 2026``, ``30. november – 6. december 2026``, and across a year
    ``28. december 2026 – 3. januar 2027`` (English: ``23–29 November 2026``)."""
    months = MONTHS[language]
    dot = "." if language == "da" else ""
    if first.year != last.year:
        return f"{long_date(first, language)} – {long_date(last, language)}"
    if first.month != last.month:
        return (
            f"{first.day}{dot} {months[first.month - 1]} – {last.day}{dot} "
            f"{months[last.month - 1]} {last.year}"
        )
    return f"{first.day}{dot}–{last.day}{dot} {months[last.month - 1]} {last.year}"
