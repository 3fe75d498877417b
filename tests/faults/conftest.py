from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.feedserver import FeedServer


@pytest.fixture
def server() -> Iterator[FeedServer]:
    feed_server = FeedServer().start()
    yield feed_server
    feed_server.stop()
