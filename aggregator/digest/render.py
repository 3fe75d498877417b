"""Digest -> HTML and plain text, and the two into one multipart e-mail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from aggregator.digest.build import Digest, DigestItem
from aggregator.digest.i18n import TEXT, long_date, short_date


def wrap(text: str, width: int = 70, indent: str = "  ") -> str:
    """Greedy word wrap with an indent; textwrap's general machinery was most of the cost of
    rendering a large digest."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return "\n".join(indent + line for line in lines)


_ENV = Environment(
    loader=PackageLoader("aggregator", "digest/templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_ENV.filters["wrap"] = wrap


@dataclass(frozen=True, slots=True)
class RenderedDigest:
    subject: str
    html: str
    text: str
    language: str


@dataclass(frozen=True, slots=True)
class _Item:
    title: str
    link: str | None
    summary: str
    author: str | None
    also_in: tuple[str, ...]
    byline: str


def _context(digest: Digest, language: str) -> dict[str, Any]:
    t = TEXT[language]
    period = digest.period
    first = long_date(period.start.date(), language)
    last = long_date(period.last_day, language)
    count, n_sources = digest.entry_count, len(digest.groups)
    sources = t["sources_one"] if n_sources == 1 else t["sources_many"].format(n=n_sources)
    if digest.is_empty:
        intro = t["empty"].format(first=first, last=last)
    else:
        key = "intro_one" if count == 1 else "intro_many"
        intro = t[key].format(count=count, sources=sources, first=first, last=last)

    def item(entry: DigestItem) -> _Item:
        byline = short_date(entry.published.date(), language) + entry.published.strftime(" %H:%M")
        if entry.author:
            byline += f" · {t['by']} {entry.author}"
        return _Item(entry.title, entry.link, entry.summary, entry.author, entry.also_in, byline)

    groups = [
        {"source": g.source, "site_url": g.site_url, "entries": [item(i) for i in g.items]}
        for g in digest.groups
    ]
    return {
        "digest": {"title": digest.title, "groups": groups},
        "lang": language,
        "t": t,
        "intro": intro,
        "week_label": t["week"].format(week=period.iso_week, year=period.iso_year),
        "subject": t["subject"].format(
            title=digest.title, week=period.iso_week, year=period.iso_year
        ),
        "footer": t["footer"].format(title=digest.title),
    }


def render_digest(digest: Digest, language: str = "da") -> RenderedDigest:
    context = _context(digest, language)
    return RenderedDigest(
        subject=context["subject"],
        html=_ENV.get_template("digest.html").render(context),
        text=_ENV.get_template("digest.txt").render(context),
        language=language,
    )


def build_message(
    rendered: RenderedDigest,
    sender: str,
    recipients: tuple[str, ...],
    now: datetime,
) -> EmailMessage:
    """multipart/alternative: plain text first, HTML last (the part clients prefer)."""
    message = EmailMessage(policy=SMTP)
    message["Subject"] = rendered.subject
    message["From"] = Address(addr_spec=sender)
    message["To"] = ", ".join(recipients) if recipients else "undisclosed-recipients:;"
    message["Date"] = format_datetime(now)
    domain = sender.rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(idstring="digest", domain=domain)
    message["Content-Language"] = rendered.language
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message
