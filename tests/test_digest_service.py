"""The digest in `aggregator run` as a real process, against a real SMTP server that answers
slowly or stalls: polling goes on while the digest is sent (review 5 #17), and a stop ends a
pass without waiting for the whole list or charging anyone."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from aggregator.config import load_config
from aggregator.pipeline import poll
from aggregator.store import Store
from tests.feedgen import Item, rss
from tests.test_service import Running

RECIPIENTS = [f"modtager{n}@kommune.dk" for n in range(6)]


def _service_setup(tmp_path: Path, server, inbox, **smtp: object) -> str:
    """A feed whose posts were first seen yesterday and a daily digest of yesterday, due
    since midnight; the feed's next poll an hour away."""
    yesterday = datetime.now(UTC) - timedelta(days=1)
    items = [
        Item(f"Indlæg {n} om æøå", f"https://os2.eu/{n}", f"<p>Tekst {n}. Mere.</p>",
             yesterday - timedelta(hours=n + 1), guid=f"g{n}")
        for n in range(3)
    ]  # fmt: skip
    url: str = server.static_feed("/os2", rss("OS2 Ærø", "https://os2.eu/", items))
    data = {
        "site": {"title": "Offentlig digitalisering", "base_url": "https://planet.example.dk/"},
        "poll": {"timeout_seconds": 2, "allow_private_hosts": ["127.0.0.1"],
                 "startup_spread_seconds": 0, "workers": 0},
        "digest": {"day": "daily", "time": "00:00", "recipients": RECIPIENTS,
                   "catch_up_hours": 48},
        "smtp": {"host": inbox.host, "port": inbox.port, "retry_seconds": 60, **smtp},
        "feeds": [{"name": "OS2 Ærø", "url": url}],
    }  # fmt: skip
    path = tmp_path / "feeds.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    config = load_config(path)
    store = Store.open(config.database_path)
    try:
        poll(config, store, clock=lambda: yesterday)
        store.schedule_many([(url, datetime.now(UTC) + timedelta(hours=1))])
    finally:
        store.close()
    return url


def _ledger(tmp_path: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(tmp_path / "aggregator.db") as db:
        return db.execute(
            "SELECT recipient, state, attempts FROM digest_deliveries ORDER BY recipient"
        ).fetchall()


def test_polls_happen_on_time_while_a_slow_server_takes_the_digest(tmp_path, server, inbox):
    url = _service_setup(tmp_path, server, inbox, timeout_seconds=10)
    for address in RECIPIENTS:
        inbox.data_actions[address] = ["slow:1.5"]  # 9 s for the list
    due_at: list[float] = []
    stored: list[float] = []

    def when(event: str, address: str) -> None:
        if event == "rcpt" and not due_at:  # the digest has begun: the feed falls due now
            store = Store.open(tmp_path / "aggregator.db")
            try:
                store.schedule_many([(url, datetime.now(UTC))])
            finally:
                store.close()
            due_at.append(time.monotonic())
        if event == "data-stored":
            stored.append(time.monotonic())

    inbox.hooks.append(when)
    service = Running(tmp_path)
    try:
        service.wait_for("digest default ", timeout=60)
        log = service.wait_for(": 6 sent, 0 to retry, 0 failed", timeout=60)
    finally:
        assert service.stop() == 0
    polls = [r.at for r in server.requests_to("/os2") if due_at and r.at >= due_at[0]]
    assert polls, log
    assert polls[0] - due_at[0] < 3, log  # at its time, not after the list
    assert polls[0] < stored[-1], log  # while the digest was still being sent
    assert inbox.copies() == dict.fromkeys(RECIPIENTS, 1)
    assert "polled 1 feeds" in log


def test_a_stop_ends_the_pass_and_the_rest_are_sent_once_later(tmp_path, server, inbox):
    _service_setup(tmp_path, server, inbox, timeout_seconds=10)
    for address in RECIPIENTS:
        inbox.data_actions[address] = ["slow:1"]
    begun = threading.Event()

    def first_stored(event: str, address: str) -> None:
        if event == "data-stored":
            begun.set()

    inbox.hooks.append(first_stored)
    service = Running(tmp_path)
    try:
        assert begun.wait(60), service.text()
    finally:
        stopped_at = time.monotonic()
        assert service.stop() == 0
    assert time.monotonic() - stopped_at < 4  # not the whole list
    sent = dict(inbox.copies())
    assert 1 <= len(sent) < len(RECIPIENTS)
    ledger = _ledger(tmp_path)
    assert all(state in ("sent", "pending") for _, state, _ in ledger), ledger
    assert all(attempts == (state == "sent") for _, state, attempts in ledger), ledger
    for address in RECIPIENTS:
        inbox.data_actions[address] = []
    again = Running(tmp_path)
    try:
        again.wait_for("0 to retry, 0 failed", timeout=60)
    finally:
        assert again.stop() == 0
    assert inbox.copies() == dict.fromkeys(RECIPIENTS, 1)


def test_a_stalling_server_is_an_outage_after_three_timeouts_not_one_per_recipient(
    tmp_path, server, inbox
):
    _service_setup(tmp_path, server, inbox, timeout_seconds=1)
    for address in RECIPIENTS:
        inbox.data_actions[address] = ["slow:3"] * 3
    service = Running(tmp_path)
    try:
        log = service.wait_for("taken as a server outage", timeout=60)
    finally:
        assert service.stop() == 0
    assert "lost the connection 3 times in a row" in log
    ledger = _ledger(tmp_path)
    assert [state for _, state, _ in ledger] == ["retry"] * len(RECIPIENTS), ledger
    assert [attempts for _, _, attempts in ledger] == [0] * len(RECIPIENTS), ledger


def test_a_pass_that_runs_its_time_leaves_the_rest_for_the_next_tick_uncharged(
    tmp_path, server, inbox
):
    from aggregator.scheduler import Service

    _service_setup(tmp_path, server, inbox, timeout_seconds=10)
    for address in RECIPIENTS:
        inbox.data_actions[address] = ["slow:0.5"]
    service = Service(load_config(tmp_path / "feeds.yaml"))
    service.digest_pass_seconds = 1.2
    service.send_digests()
    first = dict(inbox.copies())
    assert 1 <= len(first) < len(RECIPIENTS)
    ledger = _ledger(tmp_path)
    assert {state for _, state, _ in ledger} == {"sent", "pending"}, ledger
    assert all(attempts == (state == "sent") for _, state, attempts in ledger), ledger
    while len(inbox.copies()) < len(RECIPIENTS):  # the next ticks go on where it ended
        service.send_digests()
    assert inbox.copies() == dict.fromkeys(RECIPIENTS, 1)
    assert [state for _, state, _ in _ledger(tmp_path)] == ["sent"] * len(RECIPIENTS)
