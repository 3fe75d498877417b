"""Review 8 R8-2: a parameter is a secret's when its whole name is a credential's (the list)
or when one of its word parts is a credential word. With the whole-name rule alone,
``x-auth-token``, ``X-Api-Key``, ``aws_secret_access_key`` and PHP's ``api_key[]`` were
published in sources.opml, the feeds, the page and /healthz; the harmless names of review 7
(``cHash``, ``sortKey``, ``hash``) stay visible."""

from __future__ import annotations

import pytest

from aggregator.redact import redacted_url

SECRET = [
    "x-auth-token", "X-Api-Key", "XApiKey", "aws_secret_access_key", "token_secret",
    "webhook_secret", "signing_key", "access_key_id", "new_password", "personal_access_token",
    "gitlab_private_token", "api_key[]", "api_key%5B%5D", "user_passwd", "admin-pwd",
    "X-Auth", "requestSignature", "url_sig", "db_credential", "session_id", "phpSessid",
    "old_sid", "secretKey", "private.key", "adgangskode",
]  # fmt: skip
HARMLESS = [
    "cHash", "sortKey", "sort_key", "hash", "keyword", "monkey", "passage", "authors",
    "author", "tokens", "id", "type", "category", "key_word", "X-Amz-Date", "utm_source",
    "sidebar", "sessions_page",
]  # fmt: skip


@pytest.mark.parametrize("name", SECRET)
def test_a_credential_parameter_is_not_published(name: str) -> None:
    url = f"https://intra.kommune.dk/feed?format=rss&{name}=S3cr3tV4lue&lang=da"
    public = redacted_url(url)
    assert "S3cr3tV4lue" not in public
    assert public == f"https://intra.kommune.dk/feed?format=rss&{name}=***&lang=da"


@pytest.mark.parametrize("name", HARMLESS)
def test_a_harmless_parameter_is_shown_as_it_is(name: str) -> None:
    url = f"https://typo3.kommune.dk/index.php?id=12&{name}=9f2c1e0a"
    assert redacted_url(url) == url
