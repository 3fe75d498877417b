"""What the admin is told, and who is charged, when the fault is a setting or a busy server:
smtp.from beyond ASCII through a server without SMTPUTF8, and a server busy for everyone."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest

from aggregator.config import parse_config
from aggregator.digest import send_digest
from aggregator.errors import ConfigError, DigestError
from tests.smtp import Inbox
from tests.test_deliver_faults import STAFF, _config, _rows
from tests.test_digest import NOW, WEEK_47, week_of_posts
from tests.test_digest_addresses import inbox_offering

__all__ = ["week_of_posts"]  # a fixture, used by name


@pytest.fixture
def ascii_inbox() -> Iterator[Inbox]:
    yield from inbox_offering(False)


@pytest.fixture
def utf8_inbox() -> Iterator[Inbox]:
    yield from inbox_offering(True)


def test_a_sender_beyond_ascii_without_smtputf8_is_one_setting_error_charging_nobody(
    week_of_posts, store, ascii_inbox
):
    config = _config(week_of_posts, ascii_inbox, **{"from": "nyheder-søren@kommune.dk"})
    with pytest.raises(DigestError) as raised:
        send_digest(config, store, NOW, clock=lambda: NOW)
    where = f"{ascii_inbox.host}:{ascii_inbox.port}"
    assert str(raised.value) == (
        f"smtp.from nyheder-søren@kommune.dk has letters beyond ASCII, which need SMTPUTF8 "
        f"(RFC 6531), and {where} does not offer it: give smtp.from an address in ASCII (or "
        "send through a server that offers SMTPUTF8), then run aggregator digest"
    )
    assert set(_rows(store).values()) == {("retry", 0)}  # nobody charged, nobody failed
    run = store.ledger.run("default", WEEK_47.start_utc)
    for delivery in store.ledger.deliveries(run.id):  # not tried again every tick
        assert not delivery.due(NOW + timedelta(hours=5))
    assert not ascii_inbox.messages
    # Once: a person's next run says the same, and still charges nobody.
    with pytest.raises(DigestError, match=r"smtp\.from nyheder-søren@kommune\.dk has letters"):
        send_digest(config, store, NOW + timedelta(hours=1), clock=lambda: NOW, retry_now=True)
    assert set(_rows(store).values()) == {("retry", 0)}


def test_a_server_busy_for_everyone_is_no_error_but_a_warning(week_of_posts, store, inbox, caplog):
    config = _config(week_of_posts, inbox)
    for address in STAFF:
        inbox.data_actions[address] = ["reply:421 4.3.2 Lukker ned"] * 5
    with caplog.at_level(logging.WARNING, logger="aggregator"):
        outcome = send_digest(config, store, NOW, clock=lambda: NOW)  # no DigestError
    assert {d.state for d in outcome.deliveries} == {"retry"}
    assert set(_rows(store).values()) == {("retry", 0)}
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.getMessage().startswith(
        f"digest default: {inbox.host}:{inbox.port} is busy (DATA: 421 4.3.2 Lukker ned): the "
        "server's condition, not the recipients', no attempt counted; trying again in "
    )


def test_a_sender_beyond_ascii_goes_through_a_server_offering_smtputf8(
    week_of_posts, store, utf8_inbox
):
    config = _config(week_of_posts, utf8_inbox, **{"from": "nyheder-søren@Kommune.dk"})
    assert config.smtp.sender == "nyheder-søren@Kommune.dk"
    outcome = send_digest(config, store, NOW, clock=lambda: NOW)
    assert sorted(outcome.sent_to) == sorted(STAFF)
    raw = utf8_inbox.messages[0].raw.decode("utf-8")
    assert "From: Offentlig digitalisering <nyheder-søren@Kommune.dk>" in raw
    for sender in ("søren <s@kommune.dk>", "sø ren@kommune.dk", "søren@", "sø\nren@kommune.dk"):
        with pytest.raises(ConfigError, match=r"smtp\.from.*not an e-mail address"):
            parse_config({"smtp": {"from": sender}, "feeds": []})  # still checked for its shape
