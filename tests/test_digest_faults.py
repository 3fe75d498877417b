"""Exactly once, on a bad day: the sender is the real `aggregator digest` process, the server a
real SMTP server on loopback that fails on purpose, and the process is killed with SIGKILL
at each step of the conversation. After a rerun, every recipient has one copy; the only
exception is the documented window (the server has the message, the ledger does not know
yet), where that one recipient gets two."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from aggregator.config import load_config
from aggregator.digest import last_complete_week
from aggregator.pipeline import poll
from aggregator.store import Store
from tests.conftest import free_port
from tests.feedgen import Item, rss
from tests.smtp import Inbox, smtp_server

EXE = Path(sys.executable).with_name("aggregator")
RECIPIENTS = [f"r{n}@kommune.dk" for n in range(5)]
VICTIM = "r2@kommune.dk"


@pytest.fixture
def setup(tmp_path, server, inbox):
    """feeds.yaml and a database whose posts were first seen in the last complete week."""
    week = last_complete_week(datetime.now(UTC), load_zone())
    polled = week.end_utc - timedelta(hours=12)
    items = [
        Item(f"Indlæg {n} om æøå", f"https://os2.eu/{n}", f"<p>Tekst {n}. Mere.</p>",
             polled - timedelta(hours=n + 1), guid=f"g{n}")
        for n in range(3)
    ]  # fmt: skip
    url = server.static_feed("/os2", rss("OS2", "https://os2.eu/", items))
    data = {
        "site": {"title": "Økonomi og ældrepleje", "base_url": "https://planet.example.dk/"},
        "poll": {"allow_private_hosts": ["127.0.0.1"], "timeout_seconds": 3},
        "digest": {"recipients": RECIPIENTS},
        "smtp": {"host": inbox.host, "port": inbox.port, "timeout_seconds": 1,
                 "retry_seconds": 0.2, "retry_wait_seconds": 5},
        "feeds": [{"name": "OS2", "url": url}],
    }  # fmt: skip
    path = tmp_path / "feeds.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    config = load_config(path)
    store = Store.open(config.database_path)
    try:
        poll(config, store, clock=lambda: polled)
    finally:
        store.close()
    return path


def load_zone() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Copenhagen")


def digest(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EXE), "digest", "-c", str(config), *args],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )  # fmt: skip


def killed_at(inbox: Inbox, config: Path, event: str, address: str, *, lock: bool = False) -> int:
    """Run the sender and SIGKILL it when the server sees ``event`` for ``address``. With
    ``lock``, the database is locked first, so the kill lands after the client has read the
    250 but before it could write ``sent``."""
    process: dict[str, subprocess.Popen[str]] = {}
    db_path = config.parent / "aggregator.db"

    def kill() -> None:
        process["p"].send_signal(signal.SIGKILL)

    def hook(seen: str, who: str) -> None:
        if seen != event or who != address or "done" in process:
            return
        process["done"] = process["p"]
        if not lock:
            kill()
            return
        holder = sqlite3.connect(db_path, timeout=5, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")

        def later() -> None:
            time.sleep(0.8)  # the client has the 250 and waits for the lock
            kill()
            holder.execute("ROLLBACK")
            holder.close()

        threading.Thread(target=later, daemon=True).start()

    inbox.hooks.append(hook)
    process["p"] = subprocess.Popen(
        [str(EXE), "digest", "-c", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        process["p"].wait(timeout=60)
        time.sleep(1.0 if lock else 0)  # the lock is given back after the kill
    finally:
        inbox.hooks.remove(hook)
    assert "done" in process, "the kill point was never reached"
    return process["p"].returncode


def once(extra: dict[str, int] | None = None) -> dict[str, int]:
    return dict.fromkeys(RECIPIENTS, 1) | (extra or {})


KILL_CASES: list[tuple[str, str, str, bool, dict[str, int]]] = [
    ("SIGKILL at RCPT", "rcpt", VICTIM, False, once()),
    ("SIGKILL mid-DATA (the server discards the message)", "data-received", VICTIM, False,
     once()),
    ("SIGKILL after the server stored it, before its 250", "data-stored", VICTIM, False,
     once({VICTIM: 2})),
    ("SIGKILL after the 250, before the ledger write", "data-stored", VICTIM, True,
     once({VICTIM: 2})),
    ("SIGKILL after the ledger write (next MAIL)", "mail", VICTIM, False, once()),
    ("SIGKILL at QUIT", "quit", RECIPIENTS[-1], False, once()),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "event", "address", "lock", "expected"), KILL_CASES, ids=[c[0] for c in KILL_CASES]
)
def test_sigkill_then_rerun(setup, inbox, case, event, address, lock, expected):
    if event == "data-received":
        inbox.data_actions[VICTIM] = ["drop"]  # an incomplete message is not delivered
    assert killed_at(inbox, setup, event, address, lock=lock) == -signal.SIGKILL
    rerun = digest(setup)
    assert rerun.returncode == 0, rerun.stderr
    assert dict(inbox.copies()) == expected, case
    assert "already sent" in digest(setup).stdout  # and a third run sends nothing
    assert dict(inbox.copies()) == expected


FaultSetup = Callable[[Inbox], None]


def _greylist(inbox: Inbox) -> None:
    inbox.rcpt_replies["r1@kommune.dk"] = ["451 4.7.1 Greylisted", "451 4.7.1 Greylisted"]


def _reject(inbox: Inbox) -> None:
    inbox.rcpt_replies["r3@kommune.dk"] = ["550 5.1.1 Ukendt modtager r3"]


def _quit_421(inbox: Inbox) -> None:
    inbox.quit_reply = "421 4.3.2 Lukker ned"


def _drop_mid_data(inbox: Inbox) -> None:
    inbox.data_actions[VICTIM] = ["drop"]


def _drop_after_data(inbox: Inbox) -> None:
    inbox.data_actions[VICTIM] = ["drop-after"]


def _slow(inbox: Inbox) -> None:
    inbox.data_actions["r1@kommune.dk"] = ["slow:0.5"]


def _too_slow(inbox: Inbox) -> None:
    inbox.data_actions[VICTIM] = ["slow:1.5"]


def _data_451(inbox: Inbox) -> None:
    inbox.data_actions[VICTIM] = ["reply:451 4.3.0 Midlertidig fejl"]


FAULT_CASES: list[tuple[str, FaultSetup, dict[str, int]]] = [
    ("451 at RCPT twice", _greylist, once()),
    ("550 at RCPT", _reject, {a: 1 for a in RECIPIENTS if a != "r3@kommune.dk"}),
    ("421 at QUIT", _quit_421, once()),
    ("451 after DATA", _data_451, once()),
    ("connection dropped mid-DATA", _drop_mid_data, once()),
    ("connection dropped after DATA, before the 250", _drop_after_data, once({VICTIM: 2})),
    ("slow server within the timeout", _slow, once()),
    # aiosmtpd drops a message whose client left before the answer; an MTA that keeps it
    # would give this recipient a second copy, as in the case above.
    ("slow server past the timeout after DATA", _too_slow, once()),
]


@pytest.mark.parametrize(
    ("case", "fault", "expected"), FAULT_CASES, ids=[c[0] for c in FAULT_CASES]
)
def test_server_faults_then_rerun(setup, inbox, case, fault, expected):
    fault(inbox)
    first = digest(setup)
    assert first.returncode == 0, first.stderr
    rerun = digest(setup)
    assert rerun.returncode == 0, rerun.stderr
    time.sleep(2 if "slow" in case else 0)  # a late handler stores its copy before counting
    assert dict(inbox.copies()) == expected, case
    for received in inbox.messages:
        [address] = received.recipients
        assert received.message["To"] == address
        assert received.message["Subject"].startswith("Økonomi og ældrepleje · uge ")
    if case == "550 at RCPT":
        assert "1 failed" in first.stdout
        status = digest(setup, "--status")
        assert "FAILED r3@kommune.dk  RCPT: 550 5.1.1 Ukendt modtager r3" in status.stdout


def test_plain_status_names_the_recipients_the_latest_digest_missed(setup, inbox):
    """Issue 13: not only ``digest --status``; ``status`` shows them too."""
    _reject(inbox)
    assert digest(setup).returncode == 0
    status = subprocess.run(
        [str(EXE), "status", "-c", str(setup)], capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert status.returncode == 0, status.stderr
    tail = status.stdout.split("\nDigests not delivered to everyone (details: aggregator "
                               "digest --status):\n")[1]  # fmt: skip
    assert re.fullmatch(
        r"  default, week from \d{4}-\d\d-\d\d 00:00 (CET|CEST): FAILED r3@kommune.dk  "
        r"RCPT: 550 5.1.1 Ukendt modtager r3\n", tail,
    ), tail  # fmt: skip
    as_json = subprocess.run(
        [str(EXE), "status", "--json", "-c", str(setup)], capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert as_json.returncode == 0, as_json.stderr
    shown = json.loads(as_json.stdout)
    assert [f["name"] for f in shown["feeds"]] == ["OS2"]
    [missed] = shown["undelivered_digests"]
    period_start = datetime.fromisoformat(missed.pop("period_start"))
    period_end = datetime.fromisoformat(missed.pop("period_end"))
    assert period_end - period_start == timedelta(days=7)
    assert missed == {
        "digest": "default", "kind": "week", "recipient": "r3@kommune.dk", "state": "failed",
        "attempts": 1, "next_attempt_at": None, "last_code": 550,
        "last_reply": "RCPT: 550 5.1.1 Ukendt modtager r3",
    }  # fmt: skip


def _smtp_port(config: Path, port: int) -> None:
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["smtp"]["port"] = port
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def _ledger(config: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(config.parent / "aggregator.db") as db:
        rows = db.execute("SELECT recipient, state, attempts FROM digest_deliveries ORDER BY 1")
        return [(str(r), str(s), int(a)) for r, s, a in rows]


def test_a_server_that_is_down_charges_no_recipient(setup):
    """More runs than smtp.retry_attempts while nothing listens: no recipient is given up
    on, and once a server answers on the port each gets one copy."""
    port = free_port()
    _smtp_port(setup, port)
    for _ in range(7):
        down = digest(setup)
        assert down.returncode != 0
        assert f"cannot send the digest through 127.0.0.1:{port}" in down.stderr
        assert "Traceback" not in down.stderr
    assert _ledger(setup) == [(r, "retry", 0) for r in RECIPIENTS]
    with smtp_server(port) as back:
        up = digest(setup)
        assert up.returncode == 0, up.stderr
        assert dict(back.copies()) == once()
        assert "already sent" in digest(setup).stdout
        assert dict(back.copies()) == once()


@pytest.mark.parametrize(
    ("case", "replies", "first_copies"),
    [
        ("sender refused on every MAIL, then fixed", ["553 5.7.1 Sender address rejected"] * 9,
         {}),
        ("a sending quota after the first recipient", ["250 OK"] + ["550 5.4.5 Daily sending "
         "quota exceeded"] * 9, {RECIPIENTS[0]: 1}),
        ("a 451 at MAIL", ["451 4.3.0 Try later"], {}),
    ],
    ids=["sender refused", "quota", "451 at MAIL"],
)  # fmt: skip
def test_a_refused_sender_charges_no_recipient(setup, inbox, case, replies, first_copies):
    """A refusal at MAIL FROM is about the sender or the server, the same for everyone: the
    run stops, no recipient is failed, and a later run sends to exactly the ones not sent."""
    inbox.mail_replies.extend(replies)
    first = digest(setup)
    assert first.returncode != 0, case
    assert "refused the sender aggregator@localhost" in first.stderr
    assert dict(inbox.copies()) == first_copies
    assert all(state in ("retry", "sent") for _, state, _ in _ledger(setup))
    inbox.mail_replies.clear()  # the admin fixed smtp.from, or the quota was reset
    again = digest(setup)
    assert again.returncode == 0, again.stderr
    assert dict(inbox.copies()) == once()
    assert [state for _, state, _ in _ledger(setup)] == ["sent"] * len(RECIPIENTS)


def test_a_run_where_everyone_failed_is_not_called_sent(setup, inbox):
    for address in RECIPIENTS:
        inbox.rcpt_replies[address] = ["550 5.1.1 Ukendt modtager"]
    assert digest(setup).returncode == 0
    rerun = digest(setup)
    assert "already sent" not in rerun.stdout
    assert "not sent: every recipient failed (see digest --status" in rerun.stdout


def test_two_senders_at_once_send_each_copy_once(setup, inbox):
    """A hand-run digest while another (the service, an overlapping cron run) is sending: the
    second is refused with a clear message; never a second copy."""
    data = yaml.safe_load(setup.read_text(encoding="utf-8"))
    data["smtp"]["timeout_seconds"] = 60
    setup.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    reached, go_on = threading.Event(), threading.Event()

    def hold(event: str, address: str) -> None:  # the first sender waits at its first RCPT
        if event == "rcpt" and not reached.is_set():
            reached.set()
            go_on.wait(60)

    inbox.hooks.append(hold)
    first = subprocess.Popen(
        [str(EXE), "digest", "-c", str(setup)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert reached.wait(60)
        second = digest(setup)
    finally:
        go_on.set()
    _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert second.returncode == 1
    assert "another aggregator process is sending digests from" in second.stderr
    assert "Traceback" not in second.stderr
    assert dict(inbox.copies()) == once()
    assert "already sent" in digest(setup).stdout
    assert dict(inbox.copies()) == once()
