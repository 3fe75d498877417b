"""Review 8 R8-14: ``poll.proxy`` with a password holding ``#``, ``/`` or ``?`` (not
percent-encoded) was refused with the whole password in the message, twice: urlsplit ends
the netloc at that character, so redacting it found no ``@`` to hide, and urlsplit's own
words repeated the would-be port. The message went to stderr and, from the service, into
the journal. The user and password are hidden before any parsing."""

from __future__ import annotations

from typing import Any

import pytest

from aggregator.errors import ConfigError


@pytest.mark.parametrize("password", ["S3cr#tPw", "S3cr/tPw", "S3cr?tPw", "S3cr@tPw"])
def test_a_refused_poll_proxy_does_not_show_its_password(make_config: Any, password: str) -> None:
    with pytest.raises(ConfigError) as refused:
        make_config([], poll={"proxy": f"http://kommune:{password}@proxy.kommune.local:3128/x"})
    message = str(refused.value)
    assert "S3cr" not in message, message
    assert "tPw" not in message
    assert "poll.proxy: not a proxy URL: http://***@proxy.kommune.local:3128" in message
    assert "%23, %2F, %3F or %40" in message
