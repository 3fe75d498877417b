"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, and misbehaves on
request: answers to MAIL, per-recipient answers to RCPT, faults at DATA (to the command or to
the final dot), a 421 at QUIT, slowness, a STARTTLS it cannot do, a SIZE limit, limits per
connection, and hooks that run at a chosen moment (a test kills the sender there). Two raw
servers stand for what aiosmtpd cannot be made to do: a 421 greeting, and a tarpit."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

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
    # replies to the successive DATA commands themselves, before any of the message is sent
    data_command_replies: list[str] = field(default_factory=list)
    advertise_starttls: bool = False  # offered, but answered 454 (no certificate here)
    recipients_per_connection: int | None = None  # then "452 4.5.3 Too many recipients"
    messages_per_connection: int | None = None  # then 421 at MAIL, and the server hangs up
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
        session.rcpts = session.messages = 0
        if self.advertise_starttls:
            responses = [*responses[:-1], "250-STARTTLS", responses[-1]]
        return responses

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self._hook("mail", self._last)
        limit = self.messages_per_connection
        if limit is not None and getattr(session, "messages", 0) >= limit:
            asyncio.get_running_loop().call_later(0.1, server.transport.close)
            return "421 4.7.0 Too many messages on one connection, closing"
        reply = self.mail_replies.pop(0) if self.mail_replies else "250 OK"
        if reply.startswith("2"):
            envelope.mail_from = address
        return reply

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self._hook("rcpt", address)
        session.rcpts = getattr(session, "rcpts", 0) + 1
        limit = self.recipients_per_connection
        if limit is not None and session.rcpts > limit:
            return "452 4.5.3 Too many recipients"
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
        session.messages = getattr(session, "messages", 0) + 1
        self._hook("data-stored", address)
        if action == "drop-after":
            server.transport.abort()
        return "250 Message accepted for delivery"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self._hook("quit", self._last)
        return self.quit_reply or "221 Bye"


class _Smtp(SMTP):
    async def smtp_DATA(self, arg: str) -> None:
        inbox = self.event_handler
        if inbox.data_command_replies and self.envelope and self.envelope.rcpt_tos:
            await self.push(inbox.data_command_replies.pop(0))
            return
        await super().smtp_DATA(arg)


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _Smtp(self.handler, **self.SMTP_kwargs)


@contextmanager
def smtp_server(port: int | None = None, *, size_limit: int | None = None) -> Iterator[Inbox]:
    """``size_limit``: the SIZE advertised and enforced (aiosmtpd's default is 32 MiB)."""
    inbox = Inbox("127.0.0.1", port or free_port())
    limits: dict[str, Any] = {} if size_limit is None else {"data_size_limit": size_limit}
    controller = _Controller(inbox, hostname=inbox.host, port=inbox.port, **limits)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@contextmanager
def raw_server(talk: Callable[[socket.socket, threading.Event], None]) -> Iterator[int]:
    """A TCP server on loopback whose every connection ``talk`` handles, until the test ends
    (then the event is set); yields the port."""
    listener = socket.create_server(("127.0.0.1", free_port()))
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=_talk, args=(conn,), daemon=True).start()

    def _talk(conn: socket.socket) -> None:
        with conn, suppress(OSError):
            talk(conn, done)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        done.set()
        listener.close()
        thread.join(10)


def greeting(reply: str) -> Callable[[socket.socket, threading.Event], None]:
    """Answer the connection with ``reply`` (a 421 busy server) and hang up."""

    def talk(conn: socket.socket, done: threading.Event) -> None:
        conn.sendall(reply.encode() + b"\r\n")

    return talk


def tarpit(every: float) -> Callable[[socket.socket, threading.Event], None]:
    """A greeting that never ends: one more continuation line every ``every`` seconds, each
    well within any timeout for one read."""

    def talk(conn: socket.socket, done: threading.Event) -> None:
        while not done.wait(every):
            conn.sendall(b"220-langsom.example.dk venter\r\n")

    return talk
