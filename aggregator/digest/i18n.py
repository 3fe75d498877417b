"""The digest's words in Danish (default) and English."""

from __future__ import annotations

from datetime import date
from typing import Final

MONTHS: Final = {
    "da": ("januar", "februar", "marts", "april", "maj", "juni", "juli", "august",
           "september", "oktober", "november", "december"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}  # fmt: skip

TEXT: Final = {
    "da": {
        "week": "Uge {week}, {year}",
        "subject": "{title}: uge {week}, {year}",
        "intro_one": "Ét nyt indlæg fra {sources} i ugen {first} til {last}.",
        "intro_many": "{count} nye indlæg fra {sources} i ugen {first} til {last}.",
        "sources_one": "én kilde",
        "sources_many": "{n} kilder",
        "empty": "Der blev ikke udgivet noget nyt i ugen {first} til {last}.",
        "also_in": "Også i",
        "by": "af",
        "read_more": "Læs mere",
        "footer": "Du får denne e-mail, fordi du er på listen over modtagere af {title}.",
    },
    "en": {
        "week": "Week {week}, {year}",
        "subject": "{title}: week {week}, {year}",
        "intro_one": "One new post from {sources} in the week {first} to {last}.",
        "intro_many": "{count} new posts from {sources} in the week {first} to {last}.",
        "sources_one": "one source",
        "sources_many": "{n} sources",
        "empty": "Nothing new was published in the week {first} to {last}.",
        "also_in": "Also in",
        "by": "by",
        "read_more": "Read more",
        "footer": "You receive this e-mail because you are on the recipient list of {title}.",
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
