"""The only side effect of the digest: handing messages to an SMTP server, one recipient per
transaction over one reused connection.

smtplib's low-level ``mail``/``rcpt``/``docmd`` are used instead of ``send_message`` so the
caller learns the moment the server answers 250 to the message's final dot: that answer,
not a clean QUIT, is what makes a delivery sent; and whether the connection was lost before
the final dot (the server has nothing) or after it (it may have the message).
"""

from __future__ import annotations

import base64
import re
import smtplib
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Literal

from aggregator.config import SmtpSettings
from aggregator.errors import DigestError, SmtpLoginRefused
from aggregator.text import terminal_text

Verdict = Literal["sent", "retry", "failed"]
_ENHANCED = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})\b")  # RFC 3463 status
# A whole step (the greeting and login, or one transaction) may take this many times
# smtp.timeout_seconds: each read is bounded by the timeout, but a server that sends a line
# at a time (a tarpit) would otherwise hold the digest worker for ever.
_STEP_TIMEOUTS = 5


def smtp_words(code: int | None, reply: bytes | str) -> str:
    """``451 4.3.0 Midlertidig fejl``: the code and the server's words decoded, on one line."""
    words = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    # A server's words reach the log, status and the terminal: none of its escape
    # sequences may set the window title or the colours there (review 10 R10-12).
    words = terminal_text(" ".join(words.split()))
    return " ".join(f"{code if code is not None else ''} {words}".split())


def describe(exc: BaseException) -> str:
    """One line for what smtplib, ssl or the socket raised: never a tuple or a bytes repr."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return smtp_words(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"the server's TLS certificate is not trusted ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or exc})"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "the server closed the connection"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running, on that port?)"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name ({exc.strerror})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__


@dataclass(frozen=True, slots=True)
class Answer:
    """What became of one recipient's message: the server's code and words."""

    verdict: Verdict
    code: int | None
    reply: str
    # MAIL, RCPT or DATA; SIZE or SMTPUTF8 for what was refused before MAIL, from the
    # server's EHLO; None for a lost connection
    stage: str | None = None
    after_dot: bool = False  # lost after the final dot was sent: the server may have it
    fresh: bool = True  # on a connection that had carried no message yet

    @staticmethod
    def of(code: int, reply: bytes | str, stage: str, *, fresh: bool = True) -> Answer:
        words = f"{stage}: {smtp_words(code, reply)}"
        if 200 <= code < 300:
            return Answer("sent", code, words, stage, fresh=fresh)
        # 4xx is temporary (RFC 5321 §4.2.1), 5xx permanent; anything else is a broken
        # server, tried again.
        verdict: Verdict = "failed" if 500 <= code < 600 else "retry"
        return Answer(verdict, code, words, stage, fresh=fresh)

    @property
    def enhanced(self) -> tuple[str, str, str] | None:
        """The RFC 3463 status after the code, e.g. ('4', '3', '1')."""
        if self.code is None or self.stage is None:
            return None
        found = _ENHANCED.match(self.reply.removeprefix(f"{self.stage}: {self.code} "))
        return (found.group(1), found.group(2), found.group(3)) if found else None

    @property
    def key(self) -> str:
        """The code and enhanced status, which several recipients' answers share when the
        server gives everyone the same one."""
        enhanced = self.enhanced
        return f"{self.code} {'.'.join(enhanced)}" if enhanced else f"{self.code}"

    @property
    def policy_refusal(self) -> str | None:
        """``550 5.7.1`` for a permanent refusal at RCPT on policy grounds (relaying denied,
        a login required: enhanced status X.7.X, or a reply about relaying), else None. For
        one recipient it may be theirs; for every recipient it is the server's setting."""
        if self.stage != "RCPT" or self.verdict != "failed" or self.code is None:
            return None
        enhanced = self.enhanced
        if enhanced and enhanced[1] == "7":
            return self.key
        return f"{self.code}" if "relay" in self.reply.lower() else None

    @property
    def temporary_at_rcpt(self) -> bool:
        """A 4xx for this recipient: theirs (greylisting, a full mailbox), unless every
        recipient gets the same one (the server is busy)."""
        return self.stage == "RCPT" and self.verdict == "retry" and not self.server_busy

    @property
    def too_many_recipients(self) -> bool:
        """452 4.5.3 at RCPT (RFC 5321 §4.5.3.1.10): ours are one a transaction, so the limit
        is the connection's or the server's, never this recipient's."""
        return (
            self.stage == "RCPT"
            and self.code == 452
            and (self.enhanced == ("4", "5", "3") or "too many" in self.reply.lower())
        )

    @property
    def server_busy(self) -> bool:
        """A temporary answer about the server, not this recipient: 421 (closing, RFC 5321
        §3.8) at any step, too many recipients, or a 4xx to the message itself at DATA,
        which would be the same for every recipient of it."""
        if self.verdict != "retry" or self.code is None:
            return False
        return self.code == 421 or self.stage == "DATA" or self.too_many_recipients

    @property
    def system_busy(self) -> bool:
        """The server says so itself: 421, or a mail system or network status (4.3.x
        insufficient storage, 4.4.x congestion): no use offering it the next recipient."""
        enhanced = self.enhanced
        return self.server_busy and (self.code == 421 or bool(enhanced and enhanced[1] in "34"))

    @property
    def too_big(self) -> bool:
        """The message is larger than the server takes (RFC 1870 SIZE, 552 or 5.3.4): the
        same for every recipient, a setting to change, not a recipient's failure."""
        if self.stage == "SIZE":
            return True
        if self.stage not in ("MAIL", "DATA") or self.code is None or self.code // 100 != 5:
            return False
        enhanced = self.enhanced
        if enhanced is not None:
            return enhanced[1:] == ("3", "4")
        return self.code == 552 and any(w in self.reply.lower() for w in ("size", "big", "large"))

    @property
    def message_refused(self) -> bool:
        """A 5xx to the message at DATA (a content filter, 554 5.7.1): for one recipient it
        may be theirs (552 5.2.2 mailbox full); for everyone, the same message, the server's."""
        return self.stage == "DATA" and self.verdict == "failed" and not self.too_big

    @property
    def sender_needs_smtputf8(self) -> bool:
        """smtp.from has letters beyond ASCII (søren@) and the server cannot carry them:
        the same for every recipient, a setting to change."""
        return self.stage == "SMTPUTF8"

    @property
    def sender_refused(self) -> bool:
        """MAIL FROM refused: about the sender or the server (a wrong address, a login
        required, a sending quota), the same for every recipient."""
        return self.stage == "MAIL" and self.verdict != "sent"

    @property
    def connection_lost(self) -> bool:
        """No answer at all: a timeout or a dropped connection."""
        return self.verdict == "retry" and self.code is None

    @property
    def connections_limit(self) -> bool:
        """What a new connection may well not say, when this one had carried messages: a
        421 (a limit of messages per connection), 452 4.5.3 too many recipients (RFC 5321
        §4.5.3.1.10; ours are one a transaction, so the limit is the connection's), or a
        connection closed before the message's final dot (an idle one timed out)."""
        if self.fresh or self.after_dot:
            return False
        return self.connection_lost or self.code == 421 or self.too_many_recipients


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    """AUTH PLAIN when offered: UTF-8 (RFC 4616), where smtplib would encode æøå as ASCII,
    and one clear answer instead of smtplib trying every mechanism in turn."""
    if "plain" not in smtp.esmtp_features.get("auth", "").lower().split():
        smtp.login(username, password)
        return
    token = base64.b64encode(f"\0{username}\0{password}".encode()).decode("ascii")
    code, reply = smtp.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def _dot_stuffed(message: bytes) -> bytes:
    """The message as DATA sends it (RFC 5321 §4.5.2): CRLF line ends, a leading dot
    doubled, and the final dot."""
    lines = re.sub(rb"\r\n|\r|\n", b"\r\n", message)
    stuffed = re.sub(rb"(?m)^\.", b"..", lines)
    return stuffed + (b"" if stuffed.endswith(b"\r\n") else b"\r\n") + b".\r\n"


class SmtpSession:
    """One connection, opened on first use and again after the server drops it."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._carried = 0  # messages the current connection has carried
        self._expired = False  # the watchdog cut the current step off

    def __enter__(self) -> SmtpSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    @property
    def step_seconds(self) -> float:
        return self.settings.timeout_seconds * _STEP_TIMEOUTS

    @contextmanager
    def _bounded(self, smtp: smtplib.SMTP) -> Iterator[None]:
        """Cut the connection when the step takes longer than ``step_seconds``."""
        self._expired = False

        def cut() -> None:
            self._expired = True
            sock = getattr(smtp, "sock", None)
            if sock is not None:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)  # the blocked read returns at once

        watchdog = threading.Timer(self.step_seconds, cut)
        watchdog.daemon = True
        watchdog.start()
        try:
            yield
        finally:
            watchdog.cancel()

    def _why(self, exc: BaseException) -> str:
        if self._expired:
            return f"no complete answer within {self.step_seconds:g} s (a server far too slow)"
        if isinstance(exc, TimeoutError):
            return f"no answer within smtp.timeout_seconds ({self.settings.timeout_seconds:g} s)"
        return describe(exc)

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if s.tls:
            smtp = smtplib.SMTP_SSL(timeout=s.timeout_seconds, context=context)
        else:
            smtp = smtplib.SMTP(timeout=s.timeout_seconds)
        # Connected here, not by the constructor, so the watchdog covers the greeting; the
        # constructor would also have kept the host name TLS checks the certificate against.
        smtp._host = s.host  # type: ignore[attr-defined]
        step = "connect"
        try:
            with self._bounded(smtp):
                code, reply = smtp.connect(s.host, s.port)
                if code != 220:  # 421: busy, or refusing this client (RFC 5321 §3.1)
                    raise smtplib.SMTPConnectError(code, reply)
                step = "hello"
                smtp.ehlo_or_helo_if_needed()
                if s.starttls:
                    step = "starttls"
                    if not smtp.has_extn("starttls"):
                        raise DigestError("the server does not offer STARTTLS")
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if s.username:
                    password = s.password
                    if password is None:
                        raise DigestError(f"smtp.username is set but ${s.password_env} is empty")
                    step = "login"
                    _login(smtp, s.username, password)
        except smtplib.SMTPConnectError as exc:
            smtp.close()
            raise _Refused("the server refused the connection", exc) from exc
        except DigestError as exc:
            smtp.close()
            if step == "starttls":
                raise _Refused("STARTTLS failed", exc) from exc
            raise
        except BaseException as exc:
            smtp.close()
            if step == "starttls" and not isinstance(exc, smtplib.SMTPAuthenticationError):
                raise _Refused("STARTTLS failed", exc) from exc
            raise
        self._carried = 0
        return smtp

    def connect(self) -> None:
        """Connect now; a connection or login failure is a DigestError naming the server."""
        if self._smtp is not None:
            return
        try:
            self._smtp = self._connect()
        except smtplib.SMTPAuthenticationError as exc:
            raise SmtpLoginRefused(
                f"{self.where} refused the login of {self.settings.username}: "
                f"{describe(exc)}; check smtp.username and the password, then run aggregator digest"
            ) from exc
        except _Refused as exc:
            raise DigestError(
                f"cannot send the digest through {self.where}: {exc.step}: {self._why(exc.cause)}"
                + (
                    " (check smtp.starttls, smtp.tls and the server's certificate)"
                    if exc.step.startswith("STARTTLS")
                    else ""
                )
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DigestError(
                f"cannot send the digest through {self.where}: {self._why(exc)}"
            ) from exc

    def deliver(self, sender: str, recipient: str, message: bytes) -> Answer:
        """MAIL, RCPT, DATA for one recipient. Never raises for the server's answers or a lost
        connection: those are an Answer (a lost connection is temporary). An answer that
        speaks of this connection's limits is tried once more on a new connection; that new
        connection failing is the DigestError of ``connect``."""
        self.connect()
        answer = self._transaction(sender, recipient, message)
        if answer.connections_limit:
            self.close()
            self.connect()
            answer = self._transaction(sender, recipient, message)
        return answer

    def _transaction(self, sender: str, recipient: str, message: bytes) -> Answer:
        smtp = self._smtp
        assert smtp is not None
        fresh = self._carried == 0
        stage = "MAIL"
        after_dot = False
        try:
            with self._bounded(smtp):
                limit = smtp.esmtp_features.get("size", "").strip()
                options: list[str] = []
                if not (sender.isascii() and recipient.isascii()):
                    if not smtp.has_extn("smtputf8") and not sender.isascii():
                        return Answer("failed", None, f"{sender} has letters beyond ASCII, "
                                      f"which need SMTPUTF8 (RFC 6531), and {self.where} "
                                      "does not offer it", "SMTPUTF8")  # fmt: skip
                    if not smtp.has_extn("smtputf8"):
                        return Answer(
                            "failed",
                            None,
                            f"{recipient}: an address with letters "
                            "beyond ASCII needs SMTPUTF8 (RFC 6531), which "
                            f"{self.where} does not offer",
                            "RCPT",
                        )  # fmt: skip (that recipient's own failure)
                    options.append("SMTPUTF8")
                    if smtp.has_extn("8bitmime"):
                        options.append("BODY=8BITMIME")
                if limit.isdigit():
                    options.append(f"SIZE={len(message)}")  # RFC 1870: refused at MAIL
                    if 0 < int(limit) < len(message):
                        self._reset()
                        return Answer("failed", 552, f"SIZE: the server takes messages of at "
                                      f"most {limit} bytes, the digest is {len(message)}",
                                      "SIZE")  # fmt: skip
                code, reply = smtp.mail(sender, options)
                if code != 250:
                    return self._refused(code, reply, "MAIL", fresh)
                stage = "RCPT"
                code, reply = smtp.rcpt(recipient)
                if code not in (250, 251):
                    return self._refused(code, reply, "RCPT", fresh)
                stage = "DATA"
                code, reply = smtp.docmd("DATA")
                if code != 354:
                    return self._refused(code, reply, "DATA", fresh)
                smtp.send(_dot_stuffed(message))
                after_dot = True
                code, reply = smtp.getreply()
                if code != 250:
                    return self._refused(code, reply, "DATA", fresh)
                self._carried += 1
                return Answer.of(code, reply, "DATA", fresh=fresh)
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            why = self._why(exc)
            lost = (
                "connection lost after the message's final dot, before the server's answer "
                f"(it may have the message; sent again with the same Message-ID): {why}"
                if after_dot
                else f"connection lost at {stage}: {why}"
            )
            return Answer("retry", None, lost, after_dot=after_dot, fresh=fresh)

    def _refused(self, code: int, reply: bytes | str, stage: str, fresh: bool) -> Answer:
        answer = Answer.of(code, reply, stage, fresh=fresh)
        if code == 421:  # the server is closing the connection (RFC 5321 §3.8)
            self._drop()
        else:
            self._reset()
        return answer

    def _reset(self) -> None:
        try:
            self._smtp.rset() if self._smtp else None
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None

    def close(self) -> None:
        """QUIT; its failure changes nothing, every answer that counted is recorded."""
        if self._smtp is None:
            return
        try:
            with self._bounded(self._smtp):
                self._smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            self._drop()


class _Refused(Exception):
    """A step of connecting failed; ``step`` names it for the admin."""

    def __init__(self, step: str, cause: BaseException) -> None:
        super().__init__(step)
        self.step, self.cause = step, cause
