"""Review 8 R8-14: ``poll.proxy`` with a password holding ``#``, ``/`` or ``?`` (not
percent-encoded) was refused with the whole password in the message, twice: urlsplit ends
the netloc at that character, so redacting it found no ``@`` to hide, and urlsplit's own
words repeated the would-be port. The message went to stderr and, from the service, into
the journal. The user and password are hidden before any parsing; a feed's URL with the same
mistake is published without them too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from aggregator.errors import ConfigError
from aggregator.export import export_feeds
from aggregator.redact import redacted_text, redacted_url


@pytest.mark.parametrize("password", ["S3cr#tPw", "S3cr/tPw", "S3cr?tPw", "S3cr@tPw"])
def test_a_refused_poll_proxy_does_not_show_its_password(make_config: Any, password: str) -> None:
    with pytest.raises(ConfigError) as refused:
        make_config([], poll={"proxy": f"http://kommune:{password}@proxy.kommune.local:3128/x"})
    message = str(refused.value)
    assert "S3cr" not in message, message
    assert "tPw" not in message
    assert "poll.proxy: not a proxy URL: http://***@proxy.kommune.local:3128" in message
    assert "%23, %2F, %3F or %40" in message


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("https://jens:S3cr#tPw@os2.eu/feed", "https://***@os2.eu/feed"),
        ("https://jens:S3cr/tPw@os2.eu/feed?token=S3crtok", "https://***@os2.eu/feed?token=***"),
        ("https://jens:S3cr?tPw@os2.eu/feed", "https://***@os2.eu/feed"),
        ("https://jens:S3#c@r@os2.eu/feed", "https://***@os2.eu/feed"),
        ("https://medium.com/@jens/feed", "https://medium.com/@jens/feed"),  # a path's @ stays
        ("https://os2.eu/feed?mail=jens@os2.eu", "https://os2.eu/feed?mail=jens@os2.eu"),
    ],
)  # fmt: skip
def test_a_feed_url_with_such_a_password_is_published_without_it(url: str, public: str) -> None:
    """The same mistake in a feed's URL: the public outputs and /healthz redact feed URLs and
    the URLs in errors, and urlsplit's netloc held no ``@`` to hide."""
    assert redacted_url(url) == public
    assert (
        redacted_text(f"cannot fetch {url}: Invalid port") == f"cannot fetch {public}: Invalid port"
    )


def test_such_a_feed_url_is_not_in_sources_opml(make_config: Any, store: Any) -> None:
    when = datetime(2026, 11, 18, 9, tzinfo=UTC)
    config = make_config([{"name": "Medlemmer", "url": "https://jens:S3cr#tPw@os2.eu/feed"}])
    export_feeds(config, store, when)
    opml = (config.output_dir / "sources.opml").read_text(encoding="utf-8")
    assert "S3cr" not in opml
    assert "https://***@os2.eu/feed" in opml
