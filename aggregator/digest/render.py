"""Digest -> HTML (CSS inlined for mail clients) and plain text, then one message per person.

Rendering happens once per digest; what differs per recipient (the address in the footer,
the unsubscribe link) is put in by ``personalise``, so a preview is byte for byte what the
recipients get, but for the placeholder address.
"""

from __future__ import annotations

import email.utils
import html as html_lib
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, time
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime, make_msgid
from functools import cache
from typing import Any
from urllib.parse import quote, urlsplit

import css_inline
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from aggregator.config import DigestSettings, SmtpSettings
from aggregator.digest.build import NO_TAG, Digest, DigestGroup, DigestItem, LeftOut
from aggregator.digest.i18n import TEXT, date_range, day_label, long_date, short_date

TEXT_WIDTH = 72
# Gmail clips a message whose HTML is over 102 KB; stay under with room for headers.
HTML_LIMIT = 100 * 1024

PREVIEW_ADDRESS = "recipient@example.invalid"


def wrap(text: str, width: int = TEXT_WIDTH, indent: str = "  ", first: str | None = None) -> str:
    """Greedy word wrap; ``first`` replaces the indent on the first line (a bullet). A word
    longer than the line (a URL) stays whole on a line of its own."""
    lines: list[str] = []
    lead = indent if first is None else first
    current = ""
    for word in text.split():
        if current and len(lead) + len(current) + 1 + len(word) > width:
            lines.append(lead + current)
            lead, current = indent, word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(lead + current)
    return "\n".join(lines)


def _underline(text: str) -> str:
    return "=" * min(len(text), TEXT_WIDTH)


_ENV = Environment(
    loader=PackageLoader("aggregator", "digest/templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_ENV.filters["wrap"] = wrap
_ENV.filters["underline"] = _underline


@cache
def _inliner() -> css_inline.CSSInliner:
    # keep_at_rules keeps the dark-mode and narrow-screen @media blocks in a <style> tag;
    # nothing remote is ever loaded.
    return css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


@dataclass(frozen=True, slots=True)
class RenderedDigest:
    subject: str
    html: str
    text: str
    language: str
    entry_count: int
    list_id: str = ""
    from_name: str = ""
    # Where each recipient's address and unsubscribe link go: new for every render, so no
    # feed's text can carry them (a post linking to a mark would learn every address).
    address_mark: str = ""
    unsubscribe_mark: str = ""


def _new_marks() -> tuple[str, str]:
    token = secrets.token_hex(16)
    return f"@@recipient-{token}@@", f"https://unsubscribe.invalid/{token}"


@dataclass(frozen=True, slots=True)
class _Item:
    title: str
    link: str | None
    ref: int | None
    summary: str
    byline: str
    also_in: tuple[str, ...]


def _when(published: datetime, language: str) -> str:
    """The day, and the time of day unless it is midnight: a source that gives only a date
    (a page's "18. november 2026", a feed's worded date) is read as midnight in the site's
    zone, and "00:00" would be a time it never gave."""
    day = short_date(published.date(), language)
    return day if published.time() == time(0) else f"{day} {published:%H:%M}"


def period_label(digest: Digest, language: str) -> str:
    period = digest.period
    if period.kind == "day":
        return day_label(period.start.date(), language)
    week_range = date_range(period.start.date(), period.last_day, language)
    return TEXT[language]["week_label"].format(week=period.iso_week, range=week_range)


def subject_line(digest: Digest, settings: DigestSettings, language: str) -> str:
    t = TEXT[language]
    period = digest.period
    fields = {
        "title": digest.title,
        "name": digest.name,
        "week": period.iso_week,
        "year": period.iso_year,
        "date": long_date(period.start.date(), language),
        "period": period_label(digest, language),
        "count": digest.entry_count,
        "sources": digest.source_count,
    }
    if settings.subject:
        template = settings.subject
    else:
        empty = "empty_" if digest.is_empty else ""
        template = t[f"subject_{empty}{period.kind}"]
    subject = template.format_map(fields)
    return f"{settings.subject_prefix} {subject}" if settings.subject_prefix else subject


def _context(
    digest: Digest, language: str, address_mark: str, unsubscribe_mark: str
) -> dict[str, Any]:
    t = TEXT[language]
    count, n_sources = digest.entry_count, digest.source_count
    if digest.is_empty:
        top = t["empty"]
    elif count == 1:
        top = t["top_one"]
    else:
        sources = t["sources_one"] if n_sources == 1 else t["sources_many"].format(n=n_sources)
        top = t["top_many"].format(count=count, sources=sources)
    refs: list[str] = []
    show_source = digest.group_by != "source"

    def item(entry: DigestItem) -> _Item:
        ref = None
        if entry.link:
            refs.append(entry.link)
            ref = len(refs)
        parts = [entry.source] if show_source else []
        parts.append(_when(entry.published, language))
        if entry.author:
            parts.append(f"{t['by']} {entry.author}")
        return _Item(entry.title, entry.link, ref, entry.summary, " · ".join(parts), entry.also_in)

    def group(g: DigestGroup) -> dict[str, Any]:
        return {
            "name": t["no_tag"] if g.name == NO_TAG and digest.group_by == "tag" else g.name,
            "site_url": g.site_url,
            "entries": [item(i) for i in g.items],
            "more": t["more"].format(n=g.more) if g.more else "",
        }

    groups = [group(g) for g in digest.groups]
    left_out = ""
    if digest.left_out:
        kind = "tags" if digest.group_by == "tag" else "sources"
        left_out = t[f"left_out_{kind}"].format(
            posts=digest.left_out.posts, groups=digest.left_out.groups
        )
    failed = [
        {
            "name": f.name,
            "state": t["gone"]
            if f.gone
            else t["failing_since"].format(
                since=short_date(f.since.date(), language) if f.since else "?"
            ),
            "error": f.error or "",
        }
        for f in digest.failed
    ]
    links = digest.links
    footer_links = (
        [(t["page"], links.page), (t["feed"], links.feed), (t["archive"], links.archive)]
        if links
        else []
    )
    more_url = links.page if links else None
    for _, url in footer_links:
        refs.append(url)
    refs.append(unsubscribe_mark)  # dropped by the template unless unsubscribing is set up
    return {
        "digest": digest,
        "groups": groups,
        "left_out": left_out,
        "failed": failed,
        "lang": language,
        "t": t,
        "top": top,
        "label": period_label(digest, language),
        "footer_links": footer_links,
        "more_url": more_url,
        "refs": refs,
        "first_footer_ref": len(refs) - len(footer_links),
        "unsubscribe_ref": len(refs),
        "sent_to": t["sent_to"].format(address=address_mark, title=digest.title),
        "unsubscribe_url": unsubscribe_mark,
    }


def render_digest(
    digest: Digest,
    language: str = "da",
    settings: DigestSettings | None = None,
    *,
    with_unsubscribe: bool = False,
    personal: bool = True,
) -> RenderedDigest:
    """Subject, HTML and text; over the size limit, fewer posts per group are shown (the
    rest are counted in "and N more") until the HTML fits, and at one post a group, fewer
    groups (the last ones counted in one line)."""
    settings = settings or DigestSettings()
    address_mark, unsubscribe_mark = _new_marks()
    shown = digest
    while True:
        context = _context(shown, language, address_mark, unsubscribe_mark)
        context["subject"] = subject_line(digest, settings, language)
        context["with_unsubscribe"] = with_unsubscribe
        context["personal"] = personal
        html = _inliner().inline(_ENV.get_template("digest.html").render(context))
        size = len(html.encode("utf-8"))
        largest = max((len(g.items) for g in shown.groups), default=0)
        if size <= HTML_LIMIT or (largest <= 1 and len(shown.groups) <= 1):
            break
        if largest > 1:
            shown = _capped(shown, max(1, largest * 3 // 4))
        else:  # the size is about proportional to the groups: keep the share that fits
            shown = _fewer_groups(shown, len(shown.groups) * HTML_LIMIT // size)
    return RenderedDigest(
        subject=context["subject"],
        html=html,
        text=_ENV.get_template("digest.txt").render(context),
        language=language,
        entry_count=digest.entry_count,
        address_mark=address_mark,
        unsubscribe_mark=unsubscribe_mark,
    )


def _capped(digest: Digest, cap: int) -> Digest:
    groups = tuple(
        replace(g, items=g.items[:cap], more=g.more + max(0, len(g.items) - cap))
        for g in digest.groups
    )
    return replace(digest, groups=groups)


def _fewer_groups(digest: Digest, keep: int) -> Digest:
    """The first ``keep`` groups (at least one); the others' posts counted in ``left_out``."""
    kept, dropped = digest.groups[: max(1, keep)], digest.groups[max(1, keep) :]
    shown = {i.source_url or i.source for g in kept for i in g.items}
    before = digest.left_out or LeftOut(0, 0, 0)
    left_out = LeftOut(
        groups=before.groups + len(dropped),
        posts=before.posts + sum(len(g.items) + g.more for g in dropped),
        sources=before.sources
        + len({i.source_url or i.source for g in dropped for i in g.items} - shown),
    )
    return replace(digest, groups=kept, left_out=left_out)


def unsubscribe_targets(settings: DigestSettings, address: str) -> tuple[str | None, str | None]:
    """(https URL, mailto URI) for one recipient, from the digest's settings."""
    url = None
    if settings.unsubscribe_url:
        url = settings.unsubscribe_url.format(address=quote(address, safe=""), name=settings.name)
    mailto = None
    if settings.unsubscribe_mailto:
        subject = quote(f"unsubscribe {settings.name}")
        mailto = f"mailto:{settings.unsubscribe_mailto}?subject={subject}"
    return url, mailto


def personalise(rendered: RenderedDigest, address: str, unsubscribe: str | None) -> tuple[str, str]:
    """The HTML and text for one recipient: their address and their unsubscribe link."""
    target = unsubscribe or ""
    marks = rendered.address_mark, rendered.unsubscribe_mark
    html = rendered.html.replace(marks[0], html_lib.escape(address)).replace(
        marks[1], html_lib.escape(target)
    )
    text = rendered.text.replace(marks[0], address).replace(marks[1], target)
    return html, text


def list_id(settings: DigestSettings, base_url: str) -> str:
    host = urlsplit(base_url).hostname or "localhost"
    return f"{settings.name}.digest.{host}"


def new_message_id(sender: str) -> str:
    return make_msgid(idstring="digest", domain=sender.rpartition("@")[2] or "localhost")


# Headers may be long (RFC 5322 allows 998): a List-Unsubscribe URL folded at 78 would be
# turned into encoded words that no client reads as a URL. The parts are encoded at 76 already.
_WIRE = SMTP.clone(max_line_length=998)
_ANGLES = str.maketrans("", "", "<>")


_WIRE_UTF8 = SMTPUTF8.clone(max_line_length=998)


def message_bytes(message: EmailMessage) -> bytes:
    """The message as sent and as previewed: to an address beyond ASCII (søren@kommune.dk),
    with UTF-8 headers (RFC 6532), as the SMTPUTF8 transaction it goes in carries them."""
    utf8 = any(
        not (address.username.isascii() and address.domain.isascii())
        for name in ("From", "To")
        for address in getattr(message[name], "addresses", ())
    )
    return message.as_bytes(policy=_WIRE_UTF8 if utf8 else _WIRE)


def _address(address: str, name: str = "") -> Address:
    """By its parts: ``addr_spec`` refuses a local part beyond ASCII (søren@), which an
    SMTPUTF8 message may carry."""
    local, _, domain = address.rpartition("@")
    return Address(display_name=name, username=local, domain=domain)


def compose(
    rendered: RenderedDigest,
    settings: DigestSettings,
    smtp: SmtpSettings,
    *,
    title: str,
    base_url: str,
    recipient: str,
    message_id: str,
    now: datetime,
) -> EmailMessage:
    """One recipient's message: multipart/alternative, plain text first, HTML last (the part
    clients prefer); list headers per RFC 2369, 2919 and 8058, Auto-Submitted per RFC 3834."""
    url, mailto = unsubscribe_targets(settings, recipient)
    html, text = personalise(rendered, recipient, url or mailto)
    message = EmailMessage(policy=SMTP)
    message["Subject"] = rendered.subject
    message["From"] = _address(smtp.sender, smtp.from_name or title)
    message["To"] = _address(recipient)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    # A non-ASCII title is left to the policy, which writes it as encoded words (a folded
    # Header here would put a line break in the value, which the policy refuses).
    words = title.translate(_ANGLES)  # the list's id is the one part in angle brackets
    phrase = words if not words.isascii() else f'"{email.utils.quote(words)}"'
    message["List-Id"] = f"{phrase} <{list_id(settings, base_url)}>"
    targets = [f"<{t}>" for t in (mailto, url) if t]
    if targets:
        message["List-Unsubscribe"] = ", ".join(targets)
    if url:
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message["Precedence"] = "bulk"
    message["Content-Language"] = rendered.language
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message
