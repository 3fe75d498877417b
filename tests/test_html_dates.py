"""Dates as Danish list pages write them next to other words (review 6 R6): a whole date in
the text wins over a reading time or a label beside it, "kl. 9" is nine o'clock, and a
relative date counts only when it is all the text says."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aggregator.config import parse_config
from aggregator.page_dates import parse_date
from aggregator.parse_html import parse_html

NOW = datetime(2026, 12, 2, 2, 47, tzinfo=UTC)  # 03:47 in Copenhagen


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3 min læsetid · 30. november 2026", utc(2026, 11, 29, 23)),
        ("Nyhed | 2 min | 30.11.2026", utc(2026, 11, 29, 23)),
        ("Mandag 30. november 2026 kl. 9", utc(2026, 11, 30, 8)),
        ("Mandag 30. november 2026 kl. 9.00", utc(2026, 11, 30, 8)),
        ("30.11.2026 kl. 14.30", utc(2026, 11, 30, 13, 30)),
        # The publication date, not the consultation's deadline after it.
        ("Høring (frist 15. januar 2027) – 30. november 2026", utc(2026, 11, 29, 23)),
        ("Publiceret 27. november 2026 kl. 10.00", utc(2026, 11, 27, 9)),
        # Summer time: 14.30 in Copenhagen is 12.30 UTC in March, after the clocks changed.
        ("30. marts 2026 kl. 14.30", utc(2026, 3, 30, 12, 30)),
        ("i går kl. 14.30", utc(2026, 12, 1, 13, 30)),
        ("i går", utc(2026, 11, 30, 23)),
        ("i dag kl. 9.15", utc(2026, 12, 2, 8, 15)),
        ("for 2 timer siden", utc(2026, 12, 2, 0, 47)),
        ("Læs mere", None),
    ],
)
def test_a_whole_date_wins_and_a_relative_one_only_alone(text, expected):
    assert parse_date(text, "Europe/Copenhagen", now=NOW) == expected


def test_yesterday_at_a_time_across_the_change_to_summer_time():
    # 00:30 on 30 March 2026 in Copenhagen (CEST since 29 March 02:00): yesterday 14.30 was
    # already summer time, and midnight of yesterday still winter time.
    now = utc(2026, 3, 29, 22, 30)
    assert parse_date("i går kl. 14.30", now=now) == utc(2026, 3, 29, 12, 30)
    assert parse_date("i går", now=now) == utc(2026, 3, 28, 23)


def test_a_list_page_meta_line_gives_the_post_its_own_date():
    source = (
        parse_config(
            {
                "feeds": [
                    {
                        "name": "k",
                        "url": "https://kommune.dk/nyheder/",
                        "type": "html",
                        "items": "article",
                        "fields": {"date": ".meta"},
                    }
                ]
            }
        )
        .feeds[0]
        .html_source()
    )
    assert source is not None
    page = (
        '<html lang="da"><body>'
        '<article><h3><a href="/n/1">Ny borgerservice åbner</a></h3>'
        '<p class="meta">3 min læsetid · 30. november 2026</p></article>'
        '<article><h3><a href="/n/2">Høring om affald</a></h3>'
        '<p class="meta">Mandag 23. november 2026 kl. 9</p></article>'
        "</body></html>"
    ).encode()
    parsed = parse_html(page, "https://kommune.dk/nyheder/", {}, source)
    assert [e.published for e in parsed.entries] == [utc(2026, 11, 29, 23), utc(2026, 11, 23, 8)]
