"""The only side effect of the digest: handing the message to an SMTP server."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from aggregator.config import SmtpSettings
from aggregator.errors import DigestError


def send_message(
    message: EmailMessage, settings: SmtpSettings, recipients: tuple[str, ...]
) -> tuple[str, ...]:
    """Send; returns the recipients the server refused while accepting others (the message
    went out, so the caller records it rather than send it again to everyone)."""
    if not recipients:
        raise DigestError("no recipients: set digest.recipients in feeds.yaml")
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds) as smtp:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                password = settings.password
                if password is None:
                    raise DigestError(f"smtp.username is set but ${settings.password_env} is empty")
                smtp.login(settings.username, password)
            refused = smtp.send_message(message, to_addrs=list(recipients))
    except (smtplib.SMTPException, OSError) as exc:
        raise DigestError(
            f"cannot send the digest through {settings.host}:{settings.port}: {exc}"
        ) from exc
    return tuple(sorted(refused))
