"""Review 10 R10-12: an SMTP server's words went to the log (the terminal of a person running
`aggregator digest`, journald) and the ledger with its escape sequences: a reply such as
'550 5.1.1 Ukendt modtager ESC]0;...BEL ESC[31m...' set the terminal's window title and
colours, where a feed server's words (its reason phrase) have been stripped of them since
review 6. Now a server's words are stripped the same way wherever they are kept."""

from __future__ import annotations

import logging
from typing import Any

from aggregator.digest import send_digest
from aggregator.store import Store
from tests.test_deliver_faults import STAFF, _config, _deliveries, _tick
from tests.test_digest import week_of_posts

__all__ = ["week_of_posts"]  # a fixture, used by name

HOSTILE = "550 5.1.1 Ukendt modtager \x1b]0;Du er hacket\x07\x1b[8mskjult\x1b[0m, farvel"


def test_a_servers_escape_sequences_reach_neither_the_log_nor_the_ledger(
    week_of_posts: Any, store: Store, inbox: Any, caplog: Any
) -> None:
    config = _config(week_of_posts, inbox)
    refused = STAFF[0]
    inbox.rcpt_replies[refused] = [HOSTILE]
    caplog.set_level(logging.INFO)
    send_digest(config, store, _tick(0), retry_now=True)
    reply = str(_deliveries(store)[refused].last_reply)
    assert reply == "RCPT: 550 5.1.1 Ukendt modtager skjult, farvel", reply
    logged = [r.getMessage() for r in caplog.records if refused in r.getMessage()]
    assert logged, [r.getMessage() for r in caplog.records]
    assert all("\x1b" not in line and "\x07" not in line for line in logged), logged
    assert inbox.copies() == dict.fromkeys(STAFF[1:], 1)
