"""SIGKILL of ``aggregator poll`` at random moments, of the whole process group and of the
main process alone: nothing committed is lost, nothing is stored twice, the file is sound,
and no worker outlives its parent."""

from __future__ import annotations

import os
import random
import signal
import time
from dataclasses import replace

import pytest

from tests.faults.harness import (
    Ledger,
    command,
    group_members,
    kill_group,
    ledger,
    run,
    serve_known_feeds,
    started,
    write_config,
)
from tests.feedserver import FeedServer, Handler, Request, Response

FEEDS = 50  # more than a few, so the workers have shares to poll


@pytest.mark.parametrize(("trial", "whole_group"), [(0, True), (1, False), (2, True), (3, False)])
def test_sigkill_at_a_random_moment_loses_and_duplicates_nothing(
    tmp_path, server, trial, whole_group
):
    feeds = serve_known_feeds(server, FEEDS)
    slow_down(server, feeds)
    config = write_config(tmp_path, feeds, allow_private_hosts=["127.0.0.1"])
    outcome = kill_at(command("poll", config=config), random.Random(trial).uniform(0.3, 2.5),
                      whole_group)  # fmt: skip
    assert outcome["orphans"] == 0
    after_kill = ledger(tmp_path / "aggregator.db", FEEDS)
    assert not after_kill.corrupt
    assert after_kill.duplicated == 0
    again = run(command("poll", config=config))
    assert again.returncode == 0, again
    assert ledger(tmp_path / "aggregator.db", FEEDS) == Ledger(0, 0, False)


def slow_down(server: FeedServer, feeds: list[dict[str, str]]) -> None:
    """Every fifth feed answers after 0.3 s, so a kill lands in the middle of fetching,
    parsing and writing."""
    for feed in feeds[::5]:
        path = feed["url"].split(server.base_url, 1)[1]
        answer = server.routes[path]

        def delayed(request: Request, answer: Handler = answer) -> Response:
            return replace(answer(request), delay=0.3)

        server.route(path, delayed)


def kill_at(args: list[str], seconds: float, whole_group: bool) -> dict[str, int]:
    """Start, SIGKILL after ``seconds`` (the group, or the main process only), and count the
    group's processes still alive two seconds later: orphaned workers."""
    with started(args) as process:
        time.sleep(seconds)
        if whole_group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        deadline = time.monotonic() + 2
        while group_members(process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        orphans = len(group_members(process.pid))
        kill_group(process)
    return {"orphans": orphans}
