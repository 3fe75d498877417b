"""feeds.yaml -> validated Config.

Validation is strict (unknown keys are errors) because a typo in a hand-edited file must not be
silently ignored. Every problem is reported with its key path, e.g.
``feeds[3].url: not a valid URL``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from aggregator.errors import ConfigError
from aggregator.source_config import HtmlSourceKeys

log = logging.getLogger(__name__)

DEFAULT_CONFIG_NAME = "feeds.yaml"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Upper bounds of the durations (review 10 R10-6): a wait, timeout or age past them is a typo
# or a way to say "never", and one like 1e300 or .inf reached a clock or a socket as an
# OverflowError ("unexpected error") at every poll or digest instead of a line at load.
DAY_SECONDS = 86_400
YEAR_MINUTES = 366 * 24 * 60
YEAR_HOURS = 366 * 24
CENTURY_DAYS = 36_525


# Plainly http(s)://host[:port] and then a path, query, fragment or nothing: what urlsplit
# accepts below, 20 times faster (100,000 feeds). Anything else goes the long way.
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]*)?(?:[/?#][^\s]*)?")


def _check_url(value: str) -> str:
    if _PLAIN_URL.fullmatch(value):
        return value
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not a valid URL")
    if any(character.isspace() for character in parts.netloc):
        raise ValueError("not a valid URL: a space in the host name")
    return value.strip()


def is_feed_url(value: str) -> bool:
    """What feeds.yaml takes as a source's url."""
    try:
        _check_url(value)
    except ValueError:
        return False
    return True


HttpUrl = Annotated[str, AfterValidator(_check_url)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedConfig(HtmlSourceKeys):
    """One feed of feeds.yaml, validated by pydantic as a field of Config (the key checks of
    ``type: html`` run in ``__post_init__``). Built directly, as tests and benchmarks do, it
    is not validated."""

    name: Annotated[str, Field(min_length=1)]
    url: HttpUrl
    tags: tuple[str, ...] = ()
    interval_minutes: Annotated[int | None, Field(ge=1, le=YEAR_MINUTES)] = None
    priority: int = 0
    enabled: bool = True
    merge: bool = True  # false: this feed's posts are never merged with another feed's


FEED_KEYS = tuple(f.name for f in fields(FeedConfig))


def feed_data(feed: FeedConfig) -> dict[str, Any]:
    """The feed's keys as JSON-ready data, nested selectors included (for fingerprints)."""
    return cast("dict[str, Any]", _feed_adapter().dump_python(feed, mode="json"))


@cache
def _feed_adapter() -> TypeAdapter[FeedConfig]:
    return TypeAdapter(FeedConfig)


class SiteSettings(_Strict):
    title: str = "Offentlig digitalisering"
    description: str = "Nyt fra blogs om digitalisering i den offentlige sektor"
    base_url: HttpUrl = "http://localhost/"
    output_dir: Path = Path("output")
    database: Path = Path("aggregator.db")
    timezone: str = "Europe/Copenhagen"
    language: Literal["da", "en"] = "da"
    max_entries: int = Field(default=100, ge=1, le=10_000)
    # Jinja2 templates here override the bundled ones of the same name (the Planet habit of
    # themes); relative to feeds.yaml.
    template_dir: Path | None = None
    # A WebSub hub told about every feed an export changed; None: no hub, no pings.
    websub_hub: HttpUrl | None = None
    # Where the pages' search form sends its query: "search" when `aggregator serve` serves
    # the site (relative to the site's root), or a full URL; None: the pages have no form.
    search_url: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @field_validator("search_url")
    @classmethod
    def _search_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if not value.strip() or any(c.isspace() for c in value) or parts.fragment:
            raise ValueError("must be a path such as search, or a full http(s) URL")
        if parts.scheme and (parts.scheme not in ("http", "https") or not parts.netloc):
            raise ValueError("must be a path such as search, or a full http(s) URL")
        return value


class PollSettings(_Strict):
    """How and how often feeds are fetched. The policy module documents where each default
    comes from."""

    interval_minutes: int = Field(default=60, ge=1, le=YEAR_MINUTES)
    min_interval_minutes: int = Field(default=15, ge=1, le=YEAR_MINUTES)
    max_interval_minutes: int = Field(default=24 * 60, ge=1, le=YEAR_MINUTES)
    adaptive: bool = True
    backoff_cap_minutes: int = Field(default=24 * 60, ge=1, le=YEAR_MINUTES)
    retry_after_cap_minutes: int = Field(default=24 * 60, ge=1, le=YEAR_MINUTES)
    jitter: float = Field(default=0.1, ge=0, le=1)
    startup_spread_seconds: float = Field(default=60, ge=0, le=DAY_SECONDS)
    timeout_seconds: float = Field(default=20.0, gt=0, le=DAY_SECONDS)
    connect_timeout_seconds: float = Field(default=10.0, gt=0, le=DAY_SECONDS)
    total_timeout_seconds: float = Field(default=60.0, gt=0, le=DAY_SECONDS)
    concurrency: int = Field(default=8, ge=1, le=100)
    per_host_concurrency: int = Field(default=2, ge=1, le=100)
    max_redirects: int = Field(default=5, ge=0, le=20)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    allow_private_hosts: tuple[str, ...] = ()
    # The newest this many entries of one feed are taken per poll; the rest are not stored.
    max_entries_per_feed: int = Field(default=500, ge=1, le=100_000)
    # Processes that parse and normalise in parallel with fetching; 0 parses in-process.
    workers: int = Field(default=2, ge=0, le=64)
    # `aggregator status --check` exits 4 once a feed has failed for longer than this.
    alert_after_hours: float = Field(default=24.0, gt=0, le=YEAR_HOURS)
    # Honest and reachable: site owners should be able to tell who polls them.
    user_agent: str = "aggregator/0.1 (feed aggregator for public-sector digitalisation blogs)"
    # Every fetch goes through this proxy (http://, https://, socks5://, socks5h://; a user
    # and password in it are sent to the proxy only, and never shown); None: the standard
    # environment variables HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY say.
    proxy: str | None = None
    # An internal CA's PEM file (relative to feeds.yaml), trusted as well as the public CAs;
    # None: those, or SSL_CERT_FILE / SSL_CERT_DIR in their place when set.
    ca_bundle: Path | None = None

    @field_validator("allow_private_hosts")
    @classmethod
    def _host_or_host_port(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from aggregator.hosts import allow_entry

        for entry in value:
            allow_entry(entry)  # ValueError names the entry
        return value

    @field_validator("proxy")
    @classmethod
    def _proxy_url(cls, value: str | None) -> str | None:
        """A proxy's URL; the messages show it without the password it may carry."""
        if not value:
            return None
        from aggregator.proxies import proxy_url_problem

        if problem := proxy_url_problem(value):
            raise ValueError(problem)
        return value


_EMAIL = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+")
# What a subject template may name; filled by digest.render.subject_line.
SUBJECT_FIELDS = ("title", "name", "week", "year", "date", "period", "count", "sources")


def ascii_domain(address: str) -> str:
    """The address with its domain as an IDNA A-label (post@ærø.dk as post@xn--r-3fa9c.dk),
    which every mail server takes; a local part beyond ASCII stays: SMTPUTF8 carries it."""
    local, _, domain = address.rpartition("@")
    if domain.isascii():
        return address
    import idna

    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
    except idna.IDNAError as exc:
        raise ValueError(f"not an e-mail address: {address!r} (its domain: {exc})") from None


class DigestSettings(_Strict):
    """One digest: who gets it, which posts it holds, how they are laid out, when it goes."""

    name: str = Field(default="default", pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun", "daily"] = "mon"
    time: dt.time = dt.time(7, 0)
    recipients: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    group_by: Literal["source", "tag"] = "source"
    order: Literal["newest", "oldest"] = "newest"
    language: Literal["da", "en"] | None = None
    title: str | None = None
    subject: str | None = None
    subject_prefix: str = ""
    empty: Literal["skip", "send"] = "skip"
    max_items_per_group: int = Field(default=10, ge=1, le=1000)
    failed_sources: bool = False
    archive_after_days: float = Field(default=7.0, gt=0, le=CENTURY_DAYS)
    catch_up_hours: float = Field(default=48.0, ge=0, le=YEAR_HOURS)
    archive: bool = True
    unsubscribe_url: str | None = None
    unsubscribe_mailto: str | None = None

    @field_validator("time", mode="before")
    @classmethod
    def _one_digit_hour(cls, value: object) -> object:
        """``7:00`` as people write it; ISO wants ``07:00``."""
        if isinstance(value, str) and re.fullmatch(r"\d:\d\d", value.strip()):
            return "0" + value.strip()
        return value

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            if not _EMAIL.fullmatch(address):
                raise ValueError(f"not an e-mail address: {address!r}")
        value = tuple(ascii_domain(address) for address in value)
        seen: dict[str, str] = {}
        for address in value:
            # One mailbox in practice (domains never differ by case, and servers fold the
            # local part too): two spellings would be two deliveries to one person.
            first = seen.setdefault(address.casefold(), address)
            if first is not address:
                twice = f"{first!r} and {address!r} are" if first != address else f"{address!r} is"
                raise ValueError(f"{twice} listed twice (addresses are compared ignoring case)")
        return value

    @field_validator("unsubscribe_mailto")
    @classmethod
    def _mailto(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.fullmatch(value.removeprefix("mailto:")):
            raise ValueError(f"not an e-mail address: {value!r}")
        return ascii_domain(value.removeprefix("mailto:")) if value else None

    @field_validator("unsubscribe_url")
    @classmethod
    def _unsubscribe_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if urlsplit(value).scheme != "https":
            raise ValueError("must be an https URL (RFC 8058)")
        _check_fields(value, ("address", "name"))
        return value

    @field_validator("subject")
    @classmethod
    def _subject(cls, value: str | None) -> str | None:
        if value is not None:
            _check_fields(value, SUBJECT_FIELDS)
        return value


def _check_fields(template: str, allowed: tuple[str, ...]) -> None:
    """Only the bare listed placeholders: no attribute or index access (``{title.__class__}``),
    no format spec or conversion (``{count:>999999999}`` would build a huge string)."""
    names = ", ".join("{" + n + "}" for n in allowed)
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"not a valid template: {exc}") from None
    for _, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in allowed:
            raise ValueError(f"unknown placeholder {{{field}}} (use {names})")
        if spec or conversion:
            written = (
                "{"
                + field
                + (f"!{conversion}" if conversion else "")
                + (f":{spec}" if spec else "")
                + "}"
            )
            raise ValueError(
                f"{written}: a placeholder takes no format or conversion (use {names})"
            )


class DedupConfig(_Strict):
    """Near-duplicate thresholds; the reasoning for each default is in aggregator/dedup.py."""

    content_threshold: float = Field(default=0.7, gt=0, le=1)
    title_threshold: float = Field(default=0.5, ge=0, le=1)
    window_days: int = Field(default=7, ge=0)
    min_words: int = Field(default=8, ge=1)
    max_consecutive_changes: int = Field(default=5, ge=1)


class SmtpSettings(_Strict):
    host: str = "localhost"
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = Field(default="aggregator@localhost", alias="from")
    username: str | None = None
    from_name: str | None = None
    password_env: str = "AGGREGATOR_SMTP_PASSWORD"
    starttls: bool = False
    tls: bool = False
    timeout_seconds: float = Field(default=30.0, gt=0, le=DAY_SECONDS)
    retry_attempts: int = Field(default=5, ge=1, le=50)
    retry_seconds: float = Field(default=60.0, ge=0, le=DAY_SECONDS)
    retry_wait_seconds: float = Field(default=120.0, ge=0, le=DAY_SECONDS)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        """Checked as the digest's From header will be built, so a bad one fails at load,
        not at Monday's send."""
        from email.headerregistry import Address

        hint = "give only the address (digital@kommune.dk); the name goes in smtp.from_name"
        if not re.fullmatch(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+", value):
            raise ValueError(f"not an e-mail address: {value!r}; {hint}")
        value = ascii_domain(value)
        local, _, domain = value.rpartition("@")
        # RFC 6531 adds every letter beyond ASCII to an atom's: søren@ is checked as the
        # ASCII address of the same shape (the send needs a server offering SMTPUTF8).
        shape = "".join(c if c.isascii() else "a" for c in local)
        try:
            Address(addr_spec=f"{shape}@{domain}")
        except ValueError as exc:
            raise ValueError(f"not an e-mail address: {value!r} ({exc}); {hint}") from None
        return value

    @property
    def password(self) -> str | None:
        """Read at send time so the secret never sits in the file or the Config object."""
        return os.environ.get(self.password_env) or None


class ServeSettings(_Strict):
    """`aggregator serve` and `run --serve`; the command line options override these."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    root_path: str = ""
    # Only these addresses may set X-Forwarded-For and X-Forwarded-Proto.
    trusted_proxies: tuple[str, ...] = ("127.0.0.1",)
    # A line per request on stdout (uvicorn's access log), with the client's address.
    access_log: bool = False

    @field_validator("root_path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if value and not value.startswith("/"):
            raise ValueError("must start with /, e.g. /nyheder")
        return value.rstrip("/")


class Config(_Strict):
    site: SiteSettings = SiteSettings()
    poll: PollSettings = PollSettings()
    digest: DigestSettings = DigestSettings()
    smtp: SmtpSettings = SmtpSettings()
    dedup: DedupConfig = DedupConfig()
    digests: tuple[DigestSettings, ...] = ()
    serve: ServeSettings = ServeSettings()
    feeds: tuple[FeedConfig, ...] = ()
    source_path: Path | None = Field(default=None, exclude=True)

    @property
    def all_digests(self) -> tuple[DigestSettings, ...]:
        """The old single ``digest:`` section is the digest named ``default``; it exists unless
        only ``digests:`` is given."""
        if "digest" in self.model_fields_set or not self.digests:
            legacy = self.digest.model_copy(update={"name": "default"})
            return (legacy, *self.digests)
        return self.digests

    def named_digest(self, name: str) -> DigestSettings:
        for digest in self.all_digests:
            if digest.name == name:
                return digest
        known = ", ".join(d.name for d in self.all_digests)
        raise ConfigError(f"no digest is named {name!r} (configured: {known})")

    @property
    def zone(self) -> ZoneInfo:
        """``site.zone``, named as the cached view (config_view.ConfigView) names it, so a
        search reads either."""
        return self.site.zone

    @property
    def base_dir(self) -> Path:
        return self.source_path.parent if self.source_path else Path.cwd()

    @property
    def database_path(self) -> Path:
        return self.base_dir / self.site.database

    @property
    def output_dir(self) -> Path:
        return self.base_dir / self.site.output_dir

    @property
    def ca_bundle_path(self) -> Path | None:
        return self.base_dir / self.poll.ca_bundle if self.poll.ca_bundle else None

    @property
    def template_dir(self) -> Path | None:
        return self.base_dir / self.site.template_dir if self.site.template_dir else None

    def feed(self, url: str) -> FeedConfig | None:
        return next((f for f in self.feeds if f.url == url), None)


def cross_field_problems(
    data: dict[str, Any], lines: Callable[[str], int | None] | None = None
) -> list[tuple[str, str]]:
    """Checks across keys, run on the raw data so they are reported with every other problem
    (a model validator would only run once all else is valid); ``lines`` gives the line of a
    key path, for a message that names another entry."""
    problems: list[tuple[str, str]] = []
    poll = data.get("poll")
    if isinstance(poll, dict):
        low = poll.get(
            "min_interval_minutes", PollSettings.model_fields["min_interval_minutes"].default
        )
        high = poll.get(
            "max_interval_minutes", PollSettings.model_fields["max_interval_minutes"].default
        )
        if isinstance(low, int) and isinstance(high, int) and low > high:
            problems.append(
                ("poll.min_interval_minutes", f"{low} is more than max_interval_minutes ({high})")
            )
    smtp = data.get("smtp")
    if isinstance(smtp, dict) and smtp.get("tls") is True and smtp.get("starttls") is True:
        problems.append(("smtp.tls", "starttls and tls exclude each other (tls is for port 465)"))
    problems += _digest_problems(data)
    feeds = data.get("feeds")
    if isinstance(feeds, list):
        names: dict[str, int] = {}
        for index, feed in enumerate(feeds):
            if not isinstance(feed, dict):
                continue
            name = feed.get("name")
            if isinstance(name, str) and name.strip():
                key = name_key(name)
                if key in names:
                    problems.append((
                        f"feeds[{index}].name",
                        f"{name.strip()!r} is already the name of feeds[{names[key]}]; "
                        "names must be unique (retry, split and status go by name)",
                    ))  # fmt: skip
                names.setdefault(key, index)
        problems += _same_feed_problems(feeds, lines)
    return problems


def _same_feed_problems(
    feeds: list[Any], lines: Callable[[str], int | None] | None
) -> list[tuple[str, str]]:
    """One feed listed twice, as written or in another spelling (https://Kommune.dk/feed/
    and https://kommune.dk/feed): compared in the canonical form that ``add``, ``import``
    and the carry-over of a moved feed's posts compare URLs in (scheme, www., the host's
    case, the default port, a trailing slash, tracking parameters, the fragment). It would
    be polled twice, and its posts stored and announced as two feeds'. Both entries are
    named, the first with its line.

    Another spelling is refused only when the entries would read the same thing: both
    feeds, or both ``type: html`` with the same selectors (``items``, ``fields``,
    ``content``). Two lists of one page (``…/aktuelt#nyheder`` with ``section.nyheder
    article`` and ``…/aktuelt#presse`` with ``section.presse article``) are two sources.
    One URL as written is always refused: the store knows a feed by its URL."""
    from aggregator.canonical import canonical_url_of_many

    problems: list[tuple[str, str]] = []
    as_written: dict[str, int] = {}
    canonical_first: dict[tuple[str, str], int] = {}
    for index, feed in enumerate(feeds):
        url = feed.get("url") if isinstance(feed, dict) else None
        if not isinstance(url, str) or not url.strip():
            continue
        url = url.strip()
        other = as_written.setdefault(url, index)
        if other == index:
            canonical = canonical_url_of_many(url)
            if canonical is None:
                continue  # not a URL: reported as such
            other = canonical_first.setdefault((canonical, _what_is_read(feed)), index)
            if other == index:
                continue
        line = lines(f"feeds[{other}].url") if lines else None
        where = f"feeds[{other}].url" + (f", line {line}" if line else "")
        first_url = feeds[other]["url"].strip()
        label, first = _feed_label(feeds, index), _feed_label(feeds, other)
        hint = ""
        if first_url == url and "html" == feed.get("type") == feeds[other].get("type"):
            # Two lists of one page are told apart by a fragment: each is a feed of its own.
            hint = ", or tell two lists of one page apart by a fragment (…#nyheder, …#presse)"
        message = (
            f"{label} has the same URL as {first} ({where}); keep one{hint}"
            if first_url == url
            else f"{label} is the same feed as {first} ({where}): {url} is {first_url} "
            "written another way; keep one"
        )
        problems.append((f"feeds[{index}].url", message))
    return problems


def _what_is_read(feed: dict[str, Any]) -> str:
    """What an entry reads at its URL: a feed, or a page through its selectors as written
    (a mapping's keys in any order)."""
    if feed.get("type") != "html":
        return "feed"  # a type that is neither is reported as such
    selectors = {key: feed.get(key) for key in ("items", "fields", "content")}
    return "html " + json.dumps(selectors, sort_keys=True, default=str)


def _feed_label(feeds: list[Any], index: int) -> str:
    name = feeds[index].get("name")
    return repr(name.strip()) if isinstance(name, str) and name.strip() else f"feeds[{index}]"


def _digest_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Digest names are unique (the old ``digest:`` section is the one named ``default``), and
    a digest's ``sources`` name configured feeds and its ``tags`` tags some feed has."""
    problems: list[tuple[str, str]] = []
    digests = data.get("digests")
    listed = [(f"digests[{i}]", d) for i, d in enumerate(digests or ()) if isinstance(d, dict)]
    if "digest" in data or not listed:
        section = data.get("digest")
        listed.insert(0, ("digest", section if isinstance(section, dict) else {}))
    feeds = data.get("feeds")
    known = {
        f["name"].strip() for f in feeds if isinstance(f, dict) and isinstance(f.get("name"), str)
    } if isinstance(feeds, list) else set()  # fmt: skip
    first: dict[str, str] = {}
    for path, digest in listed:
        # the digest: section is the one named default, whatever its name: says
        name = "default" if path == "digest" else digest.get("name", "default")
        if isinstance(name, str):
            name = name.strip()
            if name in first:
                problems.append((
                    f"{path}.name" if "name" in digest and path != "digest" else path,
                    f"{name!r} is already the name of {first[name]}; digest names must be "
                    "unique (digest NAME and the ledger go by name)",
                ))  # fmt: skip
            first.setdefault(name, "the digest: section" if path == "digest" else path)
        sources = digest.get("sources")
        if isinstance(sources, list) and isinstance(feeds, list):
            for index, source in enumerate(sources):
                if isinstance(source, str) and source.strip() not in known:
                    problems.append(
                        (f"{path}.sources[{index}]", f"no feed is named {source.strip()!r}")
                    )
        tags = digest.get("tags")
        if isinstance(tags, list) and isinstance(feeds, list):
            had = _feed_tags(feeds)
            for index, tag in enumerate(tags):
                if isinstance(tag, str) and tag not in had:
                    some = ", ".join(sorted(had)[:10]) or "none"
                    problems.append(
                        (
                            f"{path}.tags[{index}]",
                            f"no feed has the tag {tag!r} (the feeds' tags: {some})",
                        )
                    )
    return problems


def _feed_tags(feeds: list[Any]) -> set[str]:
    return {
        tag
        for feed in feeds
        if isinstance(feed, dict) and isinstance(feed.get("tags"), list)
        for tag in feed["tags"]
        if isinstance(tag, str)
    }


def name_key(name: str) -> str:
    """Two feeds' names are one name when this is the same: case and surrounding space do
    not count (the check of feeds.yaml, and `add` and `import` choosing a new name)."""
    return name.strip().casefold()


def _bound(value: object) -> str:
    """A limit as written in feeds.yaml: 86400, not 86400.0."""
    return f"{value:g}" if isinstance(value, float) else str(value)


_HINTS = {
    "tags": "a list of tags, e.g. [os2, kommuner]",
    "recipients": "a list of e-mail addresses, e.g. [it@kommune.dk]",
    "allow_private_hosts": "a list of host names, e.g. [intranet.kommune.local]",
    "feeds": "a list of feeds, each with a name and a url",
}
_WORDS = {
    "extra_forbidden": "unknown key",
    "unexpected_keyword_argument": "unknown key",
    "missing": "required key is missing",
    "int_type": "a whole number, e.g. 60",
    "int_parsing": "a whole number, e.g. 60",
    "int_from_float": "a whole number, e.g. 60",
    "float_type": "a number, e.g. 0.5",
    "float_parsing": "a number, e.g. 0.5",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "text",
    "string_too_short": "must not be empty",
    "time_type": "a time of day, e.g. 07:00",
    "time_parsing": "a time of day, e.g. 07:00",
}


def _format_location(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not path:
            path = part
        elif part.startswith(("function-", "constrained-")) or part in ("str", "int"):
            continue
        else:
            path += f".{part}"
    return path


def _known_keys(path: str) -> list[str]:
    """The keys allowed next to the unknown one at ``path``, for a 'did you mean'."""
    if "." not in path and "[" not in path:
        return [k for k in Config.model_fields if k != "source_path"]
    if path.startswith("feeds["):
        return list(FEED_KEYS)
    field = Config.model_fields.get(path.split(".", 1)[0])
    model = field.annotation if field else None
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or name for name, f in model.model_fields.items()]
    return []


def _plain_words(error: Any, path: str) -> str:
    kind = str(error["type"])
    field = path.rsplit(".", 1)[-1]
    got = error.get("input")
    if kind in ("model_type", "dict_type", "model_attributes_type", "dataclass_type"):
        if re.fullmatch(r"feeds\[\d+\]", path):
            return "expected a mapping with a name and a url, e.g. {name: OS2, url: https://…}"
        return "expected a mapping of settings"
    if kind in ("list_type", "tuple_type", "set_type"):
        return _HINTS.get(field, "a list, e.g. [a, b]")
    context = error.get("ctx") or {}
    if kind == "greater_than_equal":
        return f"at least {_bound(context.get('ge'))}"
    if kind == "greater_than":
        return f"more than {_bound(context.get('gt'))}"
    if kind == "less_than_equal":
        return f"at most {_bound(context.get('le'))}"
    if kind == "less_than":
        return f"less than {_bound(context.get('lt'))}"
    if kind == "literal_error":
        return f"one of {context.get('expected')}"
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):  # a model's, a feed's
        import difflib

        close = difflib.get_close_matches(field, _known_keys(path), n=1, cutoff=0.7)
        return "unknown key" + (f" (did you mean {close[0]}?)" if close else "")
    words = _WORDS.get(kind)
    if words is None:
        return str(error["msg"]).removeprefix("Value error, ")
    if kind != "missing" and isinstance(got, str | int | float | bool):
        words += f", not {got!r}"
    return words


def parse_config(
    data: object,
    source_path: Path | None = None,
    lines: Callable[[str], int | None] | None = None,
    problems: Sequence[tuple[str, str, int]] = (),
) -> Config:
    """Validate plain data. Every problem (those found before, such as keys given twice, with
    their line) is reported at once, in the order of the file."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("(top level): expected a mapping of settings, e.g. feeds: [...]")
    found: list[tuple[str, str, int | None]] = list(problems)
    config: Config | None = None
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            path = _format_location(tuple(error["loc"]))
            found.append((path, _plain_words(error, path), lines(path) if lines else None))
    found += [(p, m, lines(p) if lines else None) for p, m in cross_field_problems(data, lines)]
    if found or config is None:
        ordered = sorted(enumerate(found), key=lambda p: (p[1][2] or 0, p[0]))
        raise ConfigError(
            "\n".join(
                f"{path or '(top level)'}: {message}" + (f" (line {line})" if line else "")
                for _, (path, message, line) in ordered
            )
        )
    return config.model_copy(update={"source_path": source_path})


def load_config(path: Path) -> Config:
    """Read and validate feeds.yaml. Problems are listed with their key path and line; an
    empty feed list is allowed but warned about."""
    return config_from_text(path, read_config_text(path))


def read_config_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc


def config_from_text(path: Path, text: str) -> Config:
    """Validate ``text``, read from ``path`` (relative paths in it are relative to its folder)."""
    from aggregator.config_view import NO_FEEDS
    from aggregator.yamlfile import load_yaml

    try:
        document = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    duplicates = [
        (d.path, f"given twice, on lines {d.first_line} and {d.line}; keep one", d.line)
        for d in document.duplicates
    ]
    try:
        config = parse_config(document.data, path.resolve(), document.line_of, duplicates)
    except ConfigError as exc:
        raise ConfigError(f"{path}: invalid configuration\n{exc}") from None
    _refuse_publishing_private_files(path, config)
    _check_ca_bundle(path, config)
    _check_proxy_variables(path, config)
    if not config.feeds:
        log.warning(NO_FEEDS, path)
    return config


def _check_ca_bundle(path: Path, config: Config) -> None:
    """A CA bundle that cannot be read is refused at load, not at every fetch of a poll."""
    if config.ca_bundle_path is None:
        return
    import ssl

    from aggregator.trust import load_bundle

    try:
        load_bundle(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), str(config.ca_bundle_path))
    except ValueError as exc:
        raise ConfigError(f"{path}: invalid configuration\n  poll.ca_bundle: {exc}") from None


def _check_proxy_variables(path: Path, config: Config) -> None:
    """A proxy variable of the environment that no fetch could use is refused at load, as
    poll.proxy is, not as an unexpected error at every poll."""
    from aggregator.proxies import proxies

    try:
        proxies(config.poll.proxy, os.environ)
    except ConfigError as exc:
        raise ConfigError(f"{path}: cannot be used with this environment\n  {exc}") from None


def _refuse_publishing_private_files(path: Path, config: Config) -> None:
    """The database (recipients' addresses, the digest ledger) and feeds.yaml must not sit
    in the published folder: `serve`, a web server or an rsync would hand them out."""
    output = config.output_dir.resolve()
    private = [("site.database", config.database_path.resolve(), "the database")]
    private.append(("site.output_dir", path.resolve(), "this configuration file"))
    for key, file, what in private:
        if file == output or output in file.parents:
            raise ConfigError(
                f"{path}: invalid configuration\n  {key}: {what} {file} would be inside the "
                f"published output_dir {output}; put the output in a folder of its own"
            )
