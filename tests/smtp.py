"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, and misbehaves on
request: answers to MAIL, per-recipient answers to RCPT, faults at DATA, a 421 at QUIT,
slowness, and hooks that run at a chosen moment (a test kills the sender there)."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.conftest import free_port


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage
    raw: bytes


@dataclass
class Inbox:
    host: str
    port: int
    messages: list[Received] = field(default_factory=list)
    # address -> replies to give to its successive RCPTs ("451 4.7.1 Greylisted"); then 250
    rcpt_replies: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    # address -> actions at its successive DATAs: "drop" (close before storing: a message
    # cut off mid-DATA), "drop-after" (store, then close without answering), "slow:SECONDS",
    # "reply:CODE TEXT" (store nothing, answer that)
    data_actions: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    quit_reply: str | None = None
    # replies to give to the successive MAIL commands ("553 5.7.1 Sender rejected"); then 250
    mail_replies: list[str] = field(default_factory=list)
    # Hooks run in the server's thread: (event, address) with events "rcpt", "data-received"
    # (message complete, not yet stored), "data-stored" (stored, 250 not yet sent), "mail"
    hooks: list[Callable[[str, str], None]] = field(default_factory=list)
    connections: int = 0
    _last: str = ""

    def copies(self) -> Counter[str]:
        return Counter(r for m in self.messages for r in m.recipients)

    def _hook(self, event: str, address: str) -> None:
        for hook in self.hooks:
            hook(event, address)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self._hook("mail", self._last)
        reply = self.mail_replies.pop(0) if self.mail_replies else "250 OK"
        if reply.startswith("2"):
            envelope.mail_from = address
        return reply

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self._hook("rcpt", address)
        queued = self.rcpt_replies.get(address)
        if queued:
            return queued.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        address = envelope.rcpt_tos[0]
        self._last = address
        queued = self.data_actions.get(address)
        action = queued.pop(0) if queued else "accept"
        self._hook("data-received", address)
        if action == "drop":
            server.transport.abort()
            return "451 never seen"
        if action.startswith("reply:"):
            return action.removeprefix("reply:")
        if action.startswith("slow:"):
            await asyncio.sleep(float(action.removeprefix("slow:")))
        raw = envelope.original_content or envelope.content
        parsed = message_from_bytes(raw, policy=policy.default)
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed, raw))
        self._hook("data-stored", address)
        if action == "drop-after":
            server.transport.abort()
        return "250 Message accepted for delivery"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self._hook("quit", self._last)
        return self.quit_reply or "221 Bye"


@contextmanager
def smtp_server(port: int | None = None) -> Iterator[Inbox]:
    inbox = Inbox("127.0.0.1", port or free_port())
    controller = Controller(inbox, hostname=inbox.host, port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()
