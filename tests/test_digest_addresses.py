"""Addresses beyond ASCII: a Danish domain (post@ærø.dk) and a Danish local part
(søren@kommune.dk), through a real SMTP server on loopback with and without SMTPUTF8."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from email import message_from_string, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from aggregator.config import parse_config
from aggregator.digest import send_digest
from aggregator.errors import ConfigError
from tests.conftest import free_port
from tests.feedgen import Item, rss
from tests.smtp import Inbox
from tests.test_digest import NOW, POLLED

SOEREN = "søren@kommune.dk"
AEROE = "post@xn--r-3fa9c.dk"  # post@ærø.dk, as every mail server takes it
RECIPIENTS = ["a@kommune.dk", SOEREN, "post@ærø.dk", "zz@kommune.dk"]


def inbox_offering(smtputf8: bool) -> Iterator[Inbox]:
    inbox = Inbox("127.0.0.1", free_port())
    controller = Controller(inbox, hostname=inbox.host, port=inbox.port, enable_SMTPUTF8=smtputf8)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def utf8_inbox() -> Iterator[Inbox]:
    yield from inbox_offering(True)


@pytest.fixture
def ascii_inbox() -> Iterator[Inbox]:
    yield from inbox_offering(False)


def configured(server, make_config, store, inbox: Inbox):
    from aggregator.pipeline import poll

    items = [
        Item("Ærø får ny løsning", "https://os2.eu/1", "<p>Tekst.</p>", POLLED - timedelta(hours=2))
    ]
    url = server.static_feed("/os2", rss("OS2", "https://os2.eu/", items))
    config = make_config(
        [{"name": "OS2", "url": url}],
        digest={"recipients": RECIPIENTS},
        smtp={"host": inbox.host, "port": inbox.port, "from": "nyt@digitalisering.dk",
              "retry_seconds": 0},
    )  # fmt: skip
    poll(config, store, clock=lambda: POLLED)
    return config


def test_a_danish_domain_is_kept_as_its_idna_a_label_and_a_broken_one_refused():
    config = parse_config({"digest": {"recipients": ["post@ærø.dk", "Post@Ærø.dk"][:1]}})
    assert config.digest.recipients == (AEROE,)
    with pytest.raises(ConfigError, match="listed twice"):
        parse_config({"digest": {"recipients": ["post@ærø.dk", "POST@xn--r-3fa9c.dk"]}})
    with pytest.raises(ConfigError, match=r"not an e-mail address: 'post@ærø\.-dk' \(its domain"):
        parse_config({"digest": {"recipients": ["post@ærø.-dk"]}})


def test_every_address_is_delivered_through_a_server_offering_smtputf8(
    server, make_config, store, utf8_inbox
):
    config = configured(server, make_config, store, utf8_inbox)
    outcome = send_digest(config, store, NOW)
    assert sorted(outcome.sent_to) == sorted(["a@kommune.dk", SOEREN, AEROE, "zz@kommune.dk"])
    by_recipient = {r.recipients[0]: r for r in utf8_inbox.messages}
    assert set(by_recipient) == set(outcome.sent_to)
    # UTF-8 headers (RFC 6532), read as text: the stdlib's byte parser would not decode them
    soeren = message_from_string(by_recipient[SOEREN].raw.decode("utf-8"), policy=policy.default)
    assert isinstance(soeren, EmailMessage)
    assert soeren["To"].addresses[0].username == "søren"
    plain = soeren.get_body(("plain",))
    assert plain is not None
    assert "Ærø får ny løsning" in plain.get_content()


def test_without_smtputf8_only_the_danish_local_part_fails_and_the_rest_are_sent_once(
    server, make_config, store, ascii_inbox
):
    config = configured(server, make_config, store, ascii_inbox)
    outcome = send_digest(config, store, NOW)
    assert sorted(outcome.sent_to) == sorted(["a@kommune.dk", AEROE, "zz@kommune.dk"])
    [failed] = outcome.in_state("failed")
    assert failed.recipient == SOEREN
    assert failed.last_reply == (
        f"{SOEREN}: an address with letters beyond ASCII needs SMTPUTF8 (RFC 6531), which "
        f"{ascii_inbox.host}:{ascii_inbox.port} does not offer"
    )
    again = send_digest(config, store, NOW + timedelta(hours=1))
    assert ascii_inbox.copies() == {"a@kommune.dk": 1, AEROE: 1, "zz@kommune.dk": 1}
    assert [d.state for d in again.deliveries if d.recipient == SOEREN] in (["failed"], [])
