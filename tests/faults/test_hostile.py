"""A hostile-feed corpus polled through ``aggregator poll`` beside ordinary feeds: the poll
survives, the ordinary feeds are unaffected, no output holds anything active (as an HTML5
parser sees it) or a secret, the XML outputs are well-formed, and a 1 GiB bomb costs no
more memory than an ordinary poll plus 32 MiB."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.corpus import Case, good_feeds, serve_corpus
from tests.faults.harness import (
    command,
    output_problems,
    run,
    secrets_in,
    write_config,
)
from tests.feedserver import FeedServer


@pytest.fixture(scope="module")
def corpus() -> Iterator[tuple[FeedServer, list[Case]]]:
    server, secret = FeedServer().start(), FeedServer().start()
    try:
        yield server, serve_corpus(server, secret)
    finally:
        server.stop()
        secret.stop()


def test_the_hostile_corpus_leaves_the_poll_the_other_feeds_and_the_outputs_intact(
    tmp_path, corpus
):
    server, cases = corpus
    good = good_feeds(server)
    hostile = [{"name": case.name, "url": server.url(case.path)} for case in cases]
    # The loopback feed server is allowed on its own port; the secret service is not.
    config = write_config(tmp_path, hostile + good, allow_private_hosts=["127.0.0.1"])
    polled = run(command("poll", config=config), timeout=180)
    assert polled.returncode == 0, polled
    assert polled.seconds < 90
    database = tmp_path / "aggregator.db"
    conn = sqlite3.connect(database)
    counts = dict(conn.execute("SELECT feed_url, count(*) FROM entry_sources GROUP BY feed_url"))
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = "\n".join(
        str(value)
        for row in conn.execute("SELECT title, content_html, link, author FROM entries")
        for value in row
    )
    conn.close()
    assert counts[good[0]["url"]] == 5
    assert counts[good[1]["url"]] == 2
    assert counts.get(server.url("/many"), 0) == 500  # poll.max_entries_per_feed

    previews = tmp_path / "previews"
    digest = run(command("digest", "--preview", "--out", str(previews), config=config))
    assert digest.returncode == 0, digest
    output = tmp_path / "output"
    assert output_problems(output) == []
    assert list(previews.glob("*.html"))
    assert output_problems(previews, feeds=False) == []
    forbidden = {secret for case in cases for secret in case.forbidden}
    assert secrets_in(output, forbidden) == []
    assert secrets_in(previews, forbidden) == []
    assert not [secret for secret in forbidden if secret in stored]
    for name in ("atom.xml", "rss.xml", "feed.json"):
        assert (output / name).stat().st_size < 2_000_000, name


def test_a_1_gib_bomb_costs_at_most_32_mib_more_than_an_ordinary_poll(tmp_path, corpus):
    server, _ = corpus
    ordinary = _peak(tmp_path / "ordinary", good_feeds(server))
    bombs = [{"name": e, "url": server.url(f"/bomb-{e}")} for e in ("gzip", "deflate", "br")]
    bombed = _peak(tmp_path / "bombed", good_feeds(server) + bombs)
    assert bombed - ordinary < 32, (ordinary, bombed)


def _peak(directory: Path, feeds: list[dict[str, str]]) -> float:
    directory.mkdir()
    config = write_config(directory, feeds, allow_private_hosts=["127.0.0.1"])
    result = run(command("poll", config=config))
    assert result.returncode == 0, result
    return result.peak_rss_mib
