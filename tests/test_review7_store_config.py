"""Review 7 R3: one feed listed twice in feeds.yaml in two spellings (https://Kommune.dk/feed/
and https://kommune.dk/feed) is refused as a listing twice as written is, in the canonical
form ``add`` and the carry-over of a moved feed compare URLs in, naming both entries."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from aggregator.canonical import canonical_path, canonical_url, canonical_url_of_many
from aggregator.config import parse_config
from aggregator.errors import ConfigError
from tests.test_config_messages import problems

FIRST = "https://kommune.dk/nyheder/feed"


def test_another_spelling_of_a_listed_feed_names_both_entries_and_lines(tmp_path):
    assert problems(tmp_path, """\
        feeds:
          - name: Kommunen
            url: https://kommune.dk/nyheder/feed
          - name: KL
            url: https://www.kl.dk/rss
          - name: Kommunens nyheder
            url: https://Kommune.dk/nyheder/feed/
        """) == [
        "feeds[2].url: 'Kommunens nyheder' is the same feed as 'Kommunen' (feeds[0].url, "
        "line 3): https://Kommune.dk/nyheder/feed/ is https://kommune.dk/nyheder/feed written "
        "another way; keep one (line 7)",
    ]  # fmt: skip


def test_the_same_spelling_twice_names_both_entries_too(tmp_path):
    assert problems(tmp_path, """\
        feeds:
          - name: Kommunen
            url: https://kommune.dk/nyheder/feed
          - name: Kopi
            url: https://kommune.dk/nyheder/feed
        """) == [
        "feeds[1].url: 'Kopi' has the same URL as 'Kommunen' (feeds[0].url, line 3); keep one "
        "(line 5)",
    ]  # fmt: skip


def feeds_of(*urls: str) -> dict[str, list[dict[str, str]]]:
    return {"feeds": [{"name": f"Kilde {n}", "url": url} for n, url in enumerate(urls)]}


@pytest.mark.parametrize(
    "spelling",
    [
        "https://KOMMUNE.dk/nyheder/feed",  # the host's case
        "https://kommune.dk/nyheder/feed/",  # a trailing slash
        "http://kommune.dk/nyheder/feed",  # http for https
        "https://www.kommune.dk/nyheder/feed",  # www.
        "https://kommune.dk:443/nyheder/feed",  # the default port
        "http://kommune.dk:80/nyheder/feed",
        "https://kommune.dk//nyheder//feed",  # doubled slashes
        "https://kommune.dk/nyheder/feed?utm_source=nyhedsbrev",  # a tracking parameter
        "https://kommune.dk/nyheder/feed#top",  # a fragment
        " https://kommune.dk/nyheder/feed ",
    ],
)
def test_a_spelling_of_one_feed_is_refused(spelling):
    with pytest.raises(ConfigError) as caught:
        parse_config(feeds_of(FIRST, spelling))
    assert str(caught.value).startswith("feeds[1].url: 'Kilde 1' ")
    assert "'Kilde 0' (feeds[0].url)" in str(caught.value)


@pytest.mark.parametrize(
    "other",
    [
        "https://kommune.dk/nyheder/Feed",  # a path's case is the server's to tell apart
        "https://kommune.dk/nyheder/feed?type=atom",  # a parameter that chooses the feed
        "https://kommune.dk:8443/nyheder/feed",  # another port is another server
        "https://ny.kommune.dk/nyheder/feed",  # another host
        "https://kommune.dk/nyheder/feed/atom",
    ],
)
def test_other_feeds_on_the_same_site_are_not_refused(other):
    assert len(parse_config(feeds_of(FIRST, other)).feeds) == 2


def test_query_parameters_in_another_order_are_one_feed():
    data = feeds_of("https://kommune.dk/rss?kategori=8&sprog=da",
                    "https://kommune.dk/rss?sprog=da&kategori=8")  # fmt: skip
    with pytest.raises(ConfigError, match="is the same feed as 'Kilde 0'"):
        parse_config(data)


_HOSTS = st.sampled_from(["kommune.dk", "www.kommune.dk", "Kommune.DK", "xn--r-1ga.dk",
                          "a-b.dk", "kommune.dk.", "127.0.0.1", "[::1]", "user:pw@kommune.dk",
                          "www."])  # fmt: skip
_PORTS = st.sampled_from(["", ":443", ":80", ":8080", ":", ":x"])
_PATHS = st.lists(
    st.sampled_from(["", "/", "//", "feed", "Feed", "nyheder", ";jsessionid=1", "(S(ab))",
                     "%2F", "%2f", "%7E", "%41", "%2E", ".", "..", "a.b", "~x", "ø", " ", "\t",
                     ":", "@", "!$&'*+,="]),
    max_size=5,
).map("/".join)  # fmt: skip
_TAILS = st.sampled_from(["", "?", "?a=1", "?utm_source=x", "?b=2&a=1", "#top", "?&"])


@given(st.sampled_from(["https", "http", "HTTP", "ftp"]), _HOSTS, _PORTS, _PATHS, _TAILS)
@example("https", "kommune.dk", "", "/feed/", "")
@example("http", "www.kommune.dk", ":80", "//a//b/", "")
def test_the_many_feeds_shortcut_is_canonical_url(scheme, host, port, path, tail):
    url = f"{scheme}://{host}{port}{path}{tail}"
    assert canonical_url_of_many(url) == canonical_url(url)


@given(_PATHS)
def test_a_canonical_path_is_its_own_canonical_path(path):
    """Migration 23 takes a stored path to today's form by canonical_path: again, no change."""
    form = canonical_path(f"/{path}")
    assert canonical_path(form) == form


def test_a_long_feeds_yaml_is_still_checked_whole():
    """The canonical comparison takes every entry, also in a list of 20,000."""
    data = feeds_of(*(f"https://b{i}.dk/feed" for i in range(20_000)), "https://B17.dk/feed/")
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert str(caught.value) == textwrap.dedent("""\
        feeds[20000].url: 'Kilde 20000' is the same feed as 'Kilde 17' (feeds[17].url): \
https://B17.dk/feed/ is https://b17.dk/feed written another way; keep one""")
