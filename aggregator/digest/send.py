"""The only side effect of the digest: handing messages to an SMTP server, one recipient per
transaction over one reused connection.

smtplib's low-level ``mail``/``rcpt``/``data`` are used instead of ``send_message`` so the
caller learns the moment the server answers 250 to the message's final dot: that answer,
not a clean QUIT, is what makes a delivery sent.
"""

from __future__ import annotations

import base64
import re
import smtplib
import ssl
from dataclasses import dataclass
from typing import Literal

from aggregator.config import SmtpSettings
from aggregator.errors import DigestError, SmtpLoginRefused

Verdict = Literal["sent", "retry", "failed"]
_ENHANCED = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})\b")  # RFC 3463 status


@dataclass(frozen=True, slots=True)
class Answer:
    """What became of one recipient's message: the server's code and words."""

    verdict: Verdict
    code: int | None
    reply: str
    stage: str | None = None  # MAIL, RCPT or DATA; None for a lost connection

    @staticmethod
    def of(code: int, reply: bytes | str, stage: str) -> Answer:
        words = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
        words = " ".join(f"{stage}: {code} {words}".split())
        if 200 <= code < 300:
            return Answer("sent", code, words, stage)
        # 4xx is temporary (RFC 5321 §4.2.1), 5xx permanent; anything else is a broken
        # server, tried again.
        return Answer("failed" if 500 <= code < 600 else "retry", code, words, stage)

    @property
    def policy_refusal(self) -> str | None:
        """``550 5.7.1`` for a permanent refusal at RCPT on policy grounds (relaying denied,
        a login required: enhanced status X.7.X, or a reply about relaying), else None. For
        one recipient it may be theirs; for every recipient it is the server's setting."""
        if self.stage != "RCPT" or self.verdict != "failed" or self.code is None:
            return None
        enhanced = _ENHANCED.match(self.reply.removeprefix(f"RCPT: {self.code} "))
        if enhanced and enhanced.group(2) == "7":
            return f"{self.code} {enhanced.group(0)}"
        return f"{self.code}" if "relay" in self.reply.lower() else None

    @property
    def connection_lost(self) -> bool:
        """No answer at all: a timeout or a dropped connection."""
        return self.verdict == "retry" and self.code is None

    @property
    def sender_refused(self) -> bool:
        """MAIL FROM refused: about the sender or the server (a wrong address, a login
        required, a sending quota), the same for every recipient."""
        return self.stage == "MAIL" and self.verdict != "sent"


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


class SmtpSession:
    """One connection, opened on first use and again after the server drops it."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if s.tls:
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_seconds, context=context)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
        try:
            smtp.ehlo_or_helo_if_needed()
            if s.starttls:
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.username:
                password = s.password
                if password is None:
                    raise DigestError(f"smtp.username is set but ${s.password_env} is empty")
                _login(smtp, s.username, password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def connect(self) -> None:
        """Connect now; a connection or login failure is a DigestError naming the server."""
        if self._smtp is not None:
            return
        try:
            self._smtp = self._connect()
        except smtplib.SMTPAuthenticationError as exc:
            words = exc.smtp_error
            text = words.decode("utf-8", "replace") if isinstance(words, bytes) else str(words)
            raise SmtpLoginRefused(
                f"{self.where} refused the login of {self.settings.username}: "
                f"{exc.smtp_code} {' '.join(text.split())}"
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DigestError(f"cannot send the digest through {self.where}: {exc}") from exc

    def deliver(self, sender: str, recipient: str, message: bytes) -> Answer:
        """MAIL, RCPT, DATA for one recipient. Never raises for the server's answers or a lost
        connection: those are an Answer (a lost connection is temporary)."""
        self.connect()
        smtp = self._smtp
        assert smtp is not None
        try:
            code, reply = smtp.mail(sender)
            if code != 250:
                return self._refused(code, reply, "MAIL")
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                return self._refused(code, reply, "RCPT")
            try:
                code, reply = smtp.data(message)
            except smtplib.SMTPDataError as exc:  # the answer to DATA itself, before the body
                return self._refused(exc.smtp_code, exc.smtp_error, "DATA")
            if code != 250:
                return self._refused(code, reply, "DATA")
            return Answer.of(code, reply, "DATA")
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self._drop()
            return Answer("retry", None, f"connection lost: {type(exc).__name__}: {exc}")

    def _refused(self, code: int, reply: bytes | str, stage: str) -> Answer:
        answer = Answer.of(code, reply, stage)
        if code == 421:  # the server is closing the connection (RFC 5321 §3.8)
            self._drop()
        else:
            try:
                self._smtp.rset() if self._smtp else None
            except (smtplib.SMTPException, OSError):
                self._drop()
        return answer

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
            self._smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            self._drop()
