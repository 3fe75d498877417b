"""The digest against mail servers that fail in the ways real ones do, each a real server on
loopback: which faults are the server's (nobody's attempts are used up, everyone waits) and
which a recipient's own, what the admin is told, and that each recipient still gets one copy."""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from aggregator.digest import send as smtp_send
from aggregator.digest import send_digest
from aggregator.errors import DigestError
from aggregator.store import Store
from tests.smtp import greeting, raw_server, smtp_server, tarpit
from tests.test_digest import NOW, WEEK_47, smtp, week_of_posts

__all__ = ["week_of_posts"]  # a fixture, used by name

STAFF = ["anne@kommune.dk", "bo@kommune.dk", "soeren@kommune.dk", "aase@kommune.dk"]


def _rows(store):
    run = store.ledger.run("default", WEEK_47.start_utc)
    return {d.recipient: (d.state, d.attempts) for d in store.ledger.deliveries(run.id)}


def _deliveries(store):
    run = store.ledger.run("default", WEEK_47.start_utc)
    return {d.recipient: d for d in store.ledger.deliveries(run.id)}


def _config(week_of_posts, inbox, recipients=STAFF, **more):
    return week_of_posts(
        digest={"recipients": recipients, "catch_up_hours": 500},
        smtp=smtp(inbox, retry_seconds=60, retry_wait_seconds=0, **more),
    )


def _tick(n: int) -> datetime:
    """Some hours on: a later send, by a person (deferred recipients tried at once)."""
    return NOW + timedelta(hours=n)


def _clock(n: int) -> Callable[[], datetime]:
    return lambda: _tick(n)


def _everyone_gets_one_copy_at(config, store, inbox, hours: int) -> None:
    """The server mended: a person's send some hours on reaches everyone, once."""
    outcome = send_digest(config, store, _tick(hours), clock=_clock(hours), retry_now=True)
    assert sorted(outcome.sent_to) == sorted(STAFF)
    assert inbox.copies() == dict.fromkeys(STAFF, 1)


BUSY_AT_DATA = [
    ("451 4.3.0 at the final dot", "end", "451 4.3.0 Midlertidig fejl, prøv igen"),
    ("452 4.3.1 at the final dot", "end", "452 4.3.1 Insufficient system storage"),
    ("421 at the final dot", "end", "421 4.3.2 Lukker ned"),
    ("451 to the DATA command", "command", "451 4.3.0 Try again later"),
    ("421 to the DATA command", "command", "421 4.4.5 Server busy"),
    ("451 without an enhanced code", "end", "451 Requested action aborted: local error"),
]


@pytest.mark.parametrize(("case", "where", "reply"), BUSY_AT_DATA, ids=[c[0] for c in BUSY_AT_DATA])
def test_a_4xx_at_data_for_every_message_uses_up_nobodys_attempts(
    week_of_posts, store, inbox, case, where, reply
):
    """A briefly overloaded server answers every message with a 4xx at DATA, for more runs
    than smtp.retry_attempts: nobody is failed or charged, and once it recovers each
    recipient gets one copy."""
    config = _config(week_of_posts, inbox)
    for address in STAFF:
        inbox.data_actions[address] = [f"reply:{reply}"] * 50
    inbox.data_command_replies.extend([reply] * 50 if where == "command" else [])
    for n in range(config.smtp.retry_attempts + 2):
        outcome = send_digest(config, store, _tick(n), clock=_clock(n),
                              retry_now=True)  # fmt: skip
        assert {d.state for d in outcome.deliveries} == {"retry"}, case
        assert set(_rows(store).values()) == {("retry", 0)}, case
    assert not inbox.messages
    shown = _deliveries(store)[STAFF[0]].last_reply or ""
    assert reply.split(" ", 1)[1].split(",")[0] in shown, shown
    assert "b'" not in shown
    inbox.data_actions.clear()
    inbox.data_command_replies.clear()
    _everyone_gets_one_copy_at(config, store, inbox, 20)


def test_a_4xx_at_data_for_one_message_defers_only_that_one_uncharged(week_of_posts, store, inbox):
    config = _config(week_of_posts, inbox)
    inbox.data_actions[STAFF[1]] = ["reply:451 4.7.0 Temporary content scan failure"]
    outcome = send_digest(config, store, NOW, clock=lambda: NOW)
    assert sorted(outcome.sent_to) == sorted(a for a in STAFF if a != STAFF[1])
    assert _rows(store)[STAFF[1]] == ("retry", 0)
    later = send_digest(config, store, _tick(1), clock=lambda: _tick(1))
    assert STAFF[1] in later.sent_to
    assert inbox.copies() == dict.fromkeys(STAFF, 1)


def test_the_same_4xx_at_rcpt_for_every_recipient_is_the_servers(week_of_posts, store, inbox):
    config = _config(week_of_posts, inbox)
    for address in STAFF:
        inbox.rcpt_replies[address] = ["451 4.3.0 Mail server temporarily rejected message"] * 50
    for n in range(config.smtp.retry_attempts + 2):
        send_digest(config, store, _tick(n), clock=_clock(n), retry_now=True)
        assert set(_rows(store).values()) == {("retry", 0)}
    for address in STAFF:
        inbox.rcpt_replies[address] = []
    send_digest(config, store, _tick(20), clock=lambda: _tick(20), retry_now=True)
    assert inbox.copies() == dict.fromkeys(STAFF, 1)


def test_a_4xx_at_rcpt_for_one_recipient_of_several_is_that_recipients(week_of_posts, store, inbox):
    """Greylisting, a full mailbox: that recipient's attempts count, up to failed."""
    config = _config(week_of_posts, inbox)
    grey = STAFF[2]
    inbox.rcpt_replies[grey] = ["450 4.2.2 Mailbox full"] * 50
    for n in range(config.smtp.retry_attempts):
        send_digest(config, store, _tick(n), clock=_clock(n), retry_now=True)
        assert _rows(store)[grey][1] == n + 1
    rows = _rows(store)
    assert rows.pop(grey) == ("failed", config.smtp.retry_attempts)
    assert set(rows.values()) == {("sent", 1)}
    assert "gave up after 5 attempts: RCPT: 450 4.2.2 Mailbox full" in str(
        _deliveries(store)[grey].last_reply
    )


def test_too_many_recipients_on_one_connection_sends_the_rest_on_another(
    week_of_posts, store, inbox
):
    """452 4.5.3 (RFC 5321 §4.5.3.1.10): the rest go in a further transaction, here on a
    new connection, as the limit is the connection's; nobody is charged more than once."""
    config = _config(week_of_posts, inbox)
    inbox.recipients_per_connection = 1
    outcome = send_digest(config, store, NOW, clock=lambda: NOW)
    assert sorted(outcome.sent_to) == sorted(STAFF)
    assert set(_rows(store).values()) == {("sent", 1)}
    assert inbox.copies() == dict.fromkeys(STAFF, 1)
    assert inbox.connections == len(STAFF)


def test_a_421_after_some_messages_on_a_connection_goes_on_on_a_new_one(
    week_of_posts, store, inbox
):
    config = _config(week_of_posts, inbox)
    inbox.messages_per_connection = 2
    outcome = send_digest(config, store, NOW, clock=lambda: NOW)
    assert sorted(outcome.sent_to) == sorted(STAFF)
    assert set(_rows(store).values()) == {("sent", 1)}
    assert inbox.copies() == dict.fromkeys(STAFF, 1)


def test_too_many_recipients_even_on_a_new_connection_waits_uncharged(week_of_posts, store, inbox):
    """A rate limit, not a connection's: the rest wait for a later tick, nobody charged."""
    config = _config(week_of_posts, inbox)
    inbox.recipients_per_connection = 0
    send_digest(config, store, NOW, clock=lambda: NOW)
    assert set(_rows(store).values()) == {("retry", 0)}
    assert "452 4.5.3 Too many recipients" in str(_deliveries(store)["bo@kommune.dk"].last_reply)


def test_a_421_greeting_is_one_clear_line_and_charges_nobody(week_of_posts, store, inbox):
    with raw_server(greeting("421 4.3.2 Tjenesten er ikke tilgængelig")) as port:
        config = week_of_posts(
            digest={"recipients": STAFF},
            smtp={"host": "127.0.0.1", "port": port, "retry_seconds": 60},
        )
        with pytest.raises(DigestError) as raised:
            send_digest(config, store, NOW, clock=lambda: NOW)
    message = str(raised.value)
    assert message == (
        f"cannot send the digest through 127.0.0.1:{port}: the server refused the "
        "connection: 421 4.3.2 Tjenesten er ikke tilgængelig"
    )
    assert set(_rows(store).values()) == {("retry", 0)}


def test_a_sender_refused_for_good_is_not_tried_again_by_itself(week_of_posts, store, inbox):
    """5xx at MAIL FROM: smtp.from is wrong; one clear error, nobody charged, and no new try
    every tick: the next is at the digest's last chance, or when a person runs it."""
    config = _config(week_of_posts, inbox)
    inbox.mail_replies.extend(["553 5.7.1 <nyt@offentlig-digitalisering.dk>: Sender address "
                               "rejected: not owned by user"] * 3)  # fmt: skip
    with pytest.raises(DigestError) as raised:
        send_digest(config, store, NOW, clock=lambda: NOW)
    assert str(raised.value) == (
        f"{inbox.host}:{inbox.port} refused the sender nyt@offentlig-digitalisering.dk: MAIL: "
        "553 5.7.1 <nyt@offentlig-digitalisering.dk>: Sender address rejected: not owned by "
        "user; check smtp.from (and smtp.username), then run aggregator digest"
    )
    run = store.ledger.run("default", WEEK_47.start_utc)
    last_chance = run.created_at + timedelta(hours=500)
    for delivery in store.ledger.deliveries(run.id):
        assert (delivery.state, delivery.attempts) == ("retry", 0)
        assert delivery.next_attempt_at == last_chance
        assert not delivery.due(NOW + timedelta(hours=5))
    inbox.mail_replies.clear()
    again = send_digest(config, store, _tick(1), clock=lambda: _tick(1), retry_now=True)
    assert sorted(again.sent_to) == sorted(STAFF)


def test_a_message_larger_than_the_servers_size_is_not_sent_and_nobody_is_charged(
    week_of_posts, store
):
    with smtp_server(size_limit=2000) as small:
        config = _config(week_of_posts, small)
        with pytest.raises(DigestError) as raised:
            send_digest(config, store, NOW, clock=lambda: NOW)
        message = str(raised.value)
        assert message.startswith(
            f"the digest is too large for {small.host}:{small.port} "
            "(SIZE: the server takes messages of at most 2000 bytes"
        )
        assert "digest.max_items_per_group" in message
        assert not small.messages
        run = store.ledger.run("default", WEEK_47.start_utc)
        for delivery in store.ledger.deliveries(run.id):
            assert (delivery.state, delivery.attempts) == ("retry", 0)
            assert delivery.next_attempt_at == run.created_at + timedelta(hours=500)


def test_a_552_at_the_final_dot_for_size_is_the_servers_limit(week_of_posts, store, inbox):
    """A server that does not advertise its limit and refuses at the end: the same for every
    recipient, so nobody is failed for it."""
    config = _config(week_of_posts, inbox)
    for address in STAFF:
        inbox.data_actions[address] = ["reply:552 5.3.4 Message size exceeds fixed limit"]
    with pytest.raises(DigestError, match=r"552 5\.3\.4 Message size exceeds fixed limit"):
        send_digest(config, store, NOW, clock=lambda: NOW)
    assert set(_rows(store).values()) == {("retry", 0)}
    assert not inbox.messages


def test_starttls_offered_but_failing_is_one_clear_line(week_of_posts, store, inbox):
    config = _config(week_of_posts, inbox, starttls=True)
    inbox.advertise_starttls = True
    with pytest.raises(DigestError) as raised:
        send_digest(config, store, NOW, clock=lambda: NOW)
    assert str(raised.value) == (
        f"cannot send the digest through {inbox.host}:{inbox.port}: STARTTLS failed: 454 TLS "
        "not available (check smtp.starttls, smtp.tls and the server's certificate)"
    )
    assert set(_rows(store).values()) == {("retry", 0)}


def test_a_server_without_starttls_when_it_is_asked_for(week_of_posts, store, inbox):
    config = _config(week_of_posts, inbox, starttls=True)
    with pytest.raises(DigestError) as raised:
        send_digest(config, store, NOW, clock=lambda: NOW)
    assert "STARTTLS failed: the server does not offer STARTTLS" in str(raised.value)
    assert not inbox.messages


def test_a_tarpit_that_answers_a_line_at_a_time_is_given_up_in_bounded_time(week_of_posts, store):
    """Each read gets a line within smtp.timeout_seconds, the greeting never ends: the
    whole step is bounded too, so the digest worker is not held for ever."""
    with raw_server(tarpit(0.2)) as port:
        config = week_of_posts(
            digest={"recipients": STAFF},
            smtp={"host": "127.0.0.1", "port": port, "timeout_seconds": 1, "retry_seconds": 60},
        )
        raised: list[BaseException] = []

        def run() -> None:
            own = Store.open(config.database_path)  # SQLite objects stay in their thread
            try:
                send_digest(config, own, NOW, clock=lambda: NOW)
            except BaseException as exc:
                raised.append(exc)
            finally:
                own.close()

        sender = threading.Thread(target=run, daemon=True)
        sender.start()
        sender.join(120)
        assert not sender.is_alive(), "the sender is still held by the tarpit"
    [error] = raised
    assert isinstance(error, DigestError)
    assert "no complete answer within" in str(error)
    assert set(_rows(store).values()) == {("retry", 0)}


def test_a_connection_lost_after_the_final_dot_is_sent_again_with_the_same_message_id(
    week_of_posts, store, inbox
):
    """The one window: the server may have the message. We send again (a second copy with
    the same Message-ID, which mail clients show once) rather than risk a silent loss."""
    config = _config(week_of_posts, inbox)
    victim = STAFF[1]
    inbox.data_actions[victim] = ["drop-after"]
    send_digest(config, store, NOW, clock=lambda: NOW)
    delivery = _deliveries(store)[victim]
    assert (delivery.state, delivery.attempts) == ("retry", 1)
    assert str(delivery.last_reply).startswith(
        "connection lost after the message's final dot, before the server's answer (it may "
        "have the message; sent again with the same Message-ID):"
    )
    send_digest(config, store, _tick(1), clock=lambda: _tick(1))
    copies = [m.message["Message-ID"] for m in inbox.messages if m.recipients == [victim]]
    assert len(copies) == 2
    assert copies[0] == copies[1]


@pytest.mark.parametrize(
    ("code", "reply", "expected"),
    [
        (451, b"4.3.0 Midlertidig fejl\r\n  p\xc3\xa5 serveren",
         "451 4.3.0 Midlertidig fejl på serveren"),
        (421, "Lukker", "421 Lukker"),
        (550, b"\xff bad bytes", "550 \ufffd bad bytes"),
    ],
)  # fmt: skip
def test_smtp_words_are_one_decoded_line(code, reply, expected):
    assert smtp_send.smtp_words(code, reply) == expected


def test_a_session_describes_an_smtplib_error_without_a_tuple():
    session_error = smtplib.SMTPResponseException(454, b"4.7.0 TLS not available")
    assert smtp_send.describe(session_error) == "454 4.7.0 TLS not available"


def test_the_digest_refused_at_data_for_everyone_is_the_servers_filter(week_of_posts, store, inbox):
    """554 5.7.1 to every message (a spam filter that dislikes the digest): the same
    message for all, so nobody is failed; the admin is told, and a later run sends."""
    config = _config(week_of_posts, inbox)
    for address in STAFF:
        inbox.data_actions[address] = ["reply:554 5.7.1 Message rejected as spam"]
    with pytest.raises(DigestError) as raised:
        send_digest(config, store, NOW, clock=lambda: NOW)
    assert str(raised.value) == (
        f"{inbox.host}:{inbox.port} refused the digest itself for every recipient (DATA: 554 "
        "5.7.1 Message rejected as spam): its content filter or a limit, not the "
        "recipients'; see the server's log, then run aggregator digest"
    )
    run = store.ledger.run("default", WEEK_47.start_utc)
    for delivery in store.ledger.deliveries(run.id):
        assert (delivery.state, delivery.attempts) == ("retry", 0)
        assert delivery.next_attempt_at == run.created_at + timedelta(hours=500)
    inbox.data_actions.clear()
    _everyone_gets_one_copy_at(config, store, inbox, 1)


def test_a_5xx_at_data_for_one_recipient_of_several_fails_that_one(week_of_posts, store, inbox):
    config = _config(week_of_posts, inbox)
    inbox.data_actions[STAFF[0]] = ["reply:552 5.2.2 Mailbox full"]
    outcome = send_digest(config, store, NOW, clock=lambda: NOW)
    assert sorted(outcome.sent_to) == sorted(STAFF[1:])
    [failed] = outcome.in_state("failed")
    assert (failed.recipient, failed.attempts) == (STAFF[0], 1)
    assert failed.last_reply == "DATA: 552 5.2.2 Mailbox full"
