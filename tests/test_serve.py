"""`aggregator serve`: a real uvicorn on a loopback port, driven by httpx (and chromium)."""

from __future__ import annotations

import gzip
import http.client
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import brotli
import feedparser
import httpx
import jsonschema
import pytest

from aggregator.config import Config
from aggregator.export import export_feeds
from aggregator.serve import BackgroundServer, ServerOptions
from aggregator.store import Store
from aggregator.types import EntryPlan, UpdatePlan
from tests.browser import _axe_script, check_page
from tests.conftest import free_port

NOW = datetime.now(UTC).replace(microsecond=0)
OS2 = "https://os2.eu/feed"
KL = "https://www.kl.dk/rss"
SCHEMA = json.loads((Path(__file__).parent / "jsonfeed-1.1.schema.json").read_text())


def _entry(key: str, title: str, text: str, age_days: float) -> EntryPlan:
    when = NOW - timedelta(days=age_days)
    return EntryPlan(
        key=key, canonical_url=f"https://os2.eu/{key}", link=f"https://os2.eu/{key}",
        title=title, author="Søren Ærø", content_html=f"<p>{text}</p>", summary_text=text,
        published=when, updated=when, content_hash=key, language="da",
    )  # fmt: skip


def _update(feed: str, *entries: EntryPlan) -> UpdatePlan:
    return UpdatePlan(
        feed_url=feed, fetched_at=NOW, status=200, etag=None, last_modified=None,
        not_modified=False, error=None, feed_title=None, entries=entries,
    )  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Config:
    from aggregator.config import load_config

    directory = tmp_path_factory.mktemp("site")
    (directory / "feeds.yaml").write_text(
        "site:\n  title: Offentlig digitalisering\n  base_url: https://planet.example.dk/\n"
        "  search_url: search\n"
        "feeds:\n"
        f"  - {{name: OS2, url: '{OS2}', tags: [kommuner]}}\n"
        f"  - {{name: KL, url: '{KL}', tags: [kommuner]}}\n",
        encoding="utf-8",
    )
    config = load_config(directory / "feeds.yaml")
    store = Store.open(config.database_path)
    store.sync_feeds(config.feeds, NOW)
    store.apply(
        _update(
            OS2,
            _entry("a", "Digitaliseringen af kommunerne", "Kommunerne går sammen i Århus.", 1),
            _entry("b", "Fælles <cloud> & data", "Data om <script>alert(1)</script> cloud.", 2),
            _entry("c", "Temadag om åben kildekode", "Tilmeld dig temadagen.", 3),
        ),
        NOW,
    )
    store.apply(_update(KL, _entry("d", "Kommunernes økonomi", "Budget og data.", 4)), NOW)
    export_feeds(config, store, NOW)
    store.close()
    output = config.output_dir
    (output / "index.html").write_text(
        "<!doctype html><html lang=da><title>Forside</title>" + "<p>Nyheder</p>" * 50,
        encoding="utf-8",
    )
    (output / "style.css").write_text("body { font-family: sans-serif; }\n" * 20)
    (output / "archive").mkdir(exist_ok=True)  # the export writes archives itself now
    finished = f"{NOW.year - 1}-11"
    (output / "archive" / f"{finished}.atom").write_bytes((output / "atom.xml").read_bytes())
    current = f"{NOW.year}-{NOW.month:02d}"
    (output / "archive" / f"{current}.atom").write_bytes((output / "atom.xml").read_bytes())
    (output / ".atom.xml.tmp").write_text("half a file")
    for stray in ("copy.db", "copy.db-wal", "feeds-old.yaml", "aggregator.db.digest.lock"):
        (output / stray).write_text("feeds: private")  # what config.py refuses to set up
    return config


@pytest.fixture(scope="module")
def base(site: Config) -> Iterator[str]:
    port = free_port()
    server = BackgroundServer(site, ServerOptions("127.0.0.1", port))
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def client(base: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=10) as session:
        yield session


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/atom.xml", "application/atom+xml; charset=utf-8"),
        ("/rss.xml", "application/rss+xml; charset=utf-8"),
        ("/feed.json", "application/feed+json; charset=utf-8"),
        ("/", "text/html; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        ("/style.css", "text/css; charset=utf-8"),
    ],
)
def test_files_have_their_content_types(client, site, path, kind):
    response = client.get(path, headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.headers["content-type"] == kind
    name = path.strip("/") or "index.html"
    assert response.content == (site.output_dir / name).read_bytes()


def test_strong_etag_and_conditional_requests(client):
    first = client.get("/atom.xml", headers={"Accept-Encoding": "identity"})
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert etag.startswith('"')  # strong, not W/
    again = client.get("/atom.xml", headers={"If-None-Match": etag, "Accept-Encoding": "identity"})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert client.get("/atom.xml", headers={"If-None-Match": '"other"'}).status_code == 200
    since = client.get("/atom.xml", headers={"If-Modified-Since": modified})
    assert since.status_code == 304
    earlier = format_datetime(NOW - timedelta(days=30), usegmt=True)
    assert client.get("/atom.xml", headers={"If-Modified-Since": earlier}).status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 §13.1.3)
    both = client.get("/atom.xml", headers={"If-None-Match": '"x"', "If-Modified-Since": modified})
    assert both.status_code == 200


def test_head_has_the_headers_and_no_body(client):
    got = client.get("/index.html", headers={"Accept-Encoding": "identity"})
    head = client.head("/index.html", headers={"Accept-Encoding": "identity"})
    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-type", "content-length", "etag", "last-modified", "cache-control"):
        assert head.headers[name] == got.headers[name]


def test_compression_follows_accept_encoding(client, site):
    original = (site.output_dir / "index.html").read_bytes()
    with httpx.Client(base_url=str(client.base_url)) as raw:
        plain = raw.get("/index.html", headers={"Accept-Encoding": "identity"})
        zipped = raw.get("/index.html", headers={"Accept-Encoding": "gzip"})
        brotlied = raw.get("/index.html", headers={"Accept-Encoding": "gzip, br"})
        refused = raw.get("/index.html", headers={"Accept-Encoding": "br;q=0, gzip;q=0"})
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert gzip.decompress(_raw(zipped)) == original
    assert brotlied.headers["content-encoding"] == "br"
    assert brotli.decompress(_raw(brotlied)) == original
    assert "content-encoding" not in refused.headers
    assert len({plain.headers["etag"], zipped.headers["etag"], brotlied.headers["etag"]}) == 3
    assert zipped.headers["vary"] == "Accept-Encoding"
    conditional = client.get(
        "/index.html", headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["etag"]}
    )
    assert conditional.status_code == 304


def _raw(response: httpx.Response) -> bytes:
    """The body as sent, before httpx decodes it."""
    with httpx.Client() as session:
        request = session.build_request(
            "GET",
            response.url,
            headers={"Accept-Encoding": response.request.headers["accept-encoding"]},
        )
        streamed = session.send(request, stream=True)
        try:
            return b"".join(streamed.iter_raw())
        finally:
            streamed.close()


def test_cache_headers_by_kind_and_finished_archives_revalidate_daily(client):
    """Not `immutable`: a late post rewrites a finished month, and caches must see it."""
    assert client.get("/index.html").headers["cache-control"] == "public, max-age=60"
    assert client.get("/atom.xml").headers["cache-control"] == "public, max-age=300"
    assert client.get("/style.css").headers["cache-control"] == "public, max-age=86400"
    finished = client.get(f"/archive/{NOW.year - 1}-11.atom")
    assert finished.headers["cache-control"] == "public, max-age=86400"
    current = client.get(f"/archive/{NOW.year}-{NOW.month:02d}.atom")
    assert current.headers["cache-control"] == "public, max-age=300"


@pytest.mark.parametrize(
    "path",
    [
        "/../feeds.yaml",
        "/%2e%2e/feeds.yaml",
        "/%2E%2E%2Ffeeds.yaml",
        "/..%2ffeeds.yaml",
        "/archive/../../feeds.yaml",
        "/archive/%2e%2e/%2e%2e/feeds.yaml",
        "/%252e%252e/feeds.yaml",
        "/..%5cfeeds.yaml",
        "/.atom.xml.tmp",
        "/aggregator.db",
        "/copy.db",
        "/COPY.DB-WAL",
        "/feeds-old.yaml",
        "/aggregator.db.digest.lock",
        "/%00",
        "//etc/passwd",
        "/nothing-here.html",
    ],
)
def test_nothing_outside_the_output_directory_is_served(base, path):
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path)  # sent exactly as written: no client-side normalising
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert response.status == 404, path
    assert b"feeds" not in body
    assert b"half a file" not in body


def test_search_page_in_danish_with_highlighted_results(client):
    response = client.get("/search", params={"q": "kommune"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert '<html lang="da">' in page
    assert "<title>Søgning: kommune</title>" in page
    assert "<mark>Kommunerne</mark>" in page
    assert "Digitaliseringen af <mark>kommunerne</mark>" in page
    assert "<mark>Kommunernes</mark> økonomi" in page
    assert 'type="application/atom+xml"' in page
    assert 'href="search.atom?q=kommune"' in page


def test_the_server_sees_what_the_poller_writes(client, site):
    for _ in range(5):  # read connections that have already answered searches
        assert (
            "<mark>borgerservice" not in client.get("/search", params={"q": "borgerservice"}).text
        )
    store = Store.open(site.database_path)
    try:
        store.apply(_update(KL, _entry("z", "Ny borgerservice", "Åbent hver dag.", 0)), NOW)
        for _ in range(5):
            page = client.get("/search", params={"q": "borgerservice"}).text
            assert "Ny <mark>borgerservice</mark>" in page
    finally:
        with store.db.atomic():  # as a prune would
            store.db.execute("DELETE FROM entry_sources WHERE entry_key = 'z'")
            store.db.execute("DELETE FROM entries WHERE title = 'Ny borgerservice'")
        store.close()
    assert "borgerservice</mark>" not in client.get("/search", params={"q": "borgerservice"}).text


def test_search_page_escapes_what_entries_say(client):
    page = client.get("/search", params={"q": "cloud"}).text
    assert "Fælles &lt;<mark>cloud</mark>&gt; &amp; data" in page
    assert "<script>alert" not in page


def test_search_page_without_a_query_is_the_form(client):
    page = client.get("/search").text
    assert '<form class="search-form" role="search"' in page
    assert "Sådan søger du" in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('"åben kildekode', "afsluttende anførselstegn"),
        ("OR data", "OR skal have et ord på begge sider"),
        ("data fra:igår", "skal have en dato"),
        ("-data", "ikke kun ord at udelade"),
    ],
)
def test_a_malformed_query_is_400_with_the_reason(client, query, message):
    page = client.get("/search", params={"q": query})
    assert page.status_code == 400
    assert message in page.text
    assert page.headers["cache-control"] == "no-store"
    for feed in ("/search.atom", "/search.json"):
        response = client.get(feed, params={"q": query})
        assert response.status_code == 400
        assert message in response.text
    assert client.get("/search.atom").status_code == 400  # no query at all


def test_search_feeds_are_valid_and_newest_first(client):
    atom = client.get("/search.atom", params={"q": "data tag:kommuner"})
    assert atom.headers["content-type"] == "application/atom+xml; charset=utf-8"
    parsed = feedparser.parse(atom.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert [e.title for e in parsed.entries] == ["Fælles <cloud> & data", "Kommunernes økonomi"]
    links = {link.rel: link.href for link in parsed.feed.links}
    assert links["self"] == "https://planet.example.dk/search.atom?q=data+tag%3Akommuner"
    assert links["alternate"] == "https://planet.example.dk/search?q=data+tag%3Akommuner"
    assert parsed.feed.id == links["self"]
    feed = client.get("/search.json", params={"q": "data tag:kommuner"})
    assert feed.headers["content-type"] == "application/feed+json; charset=utf-8"
    document = feed.json()
    jsonschema.validate(document, SCHEMA)
    assert [i["title"] for i in document["items"]] == [e.title for e in parsed.entries]
    assert document["feed_url"] == "https://planet.example.dk/search.json?q=data+tag%3Akommuner"
    assert document["home_page_url"] == "https://planet.example.dk/search?q=data+tag%3Akommuner"
    again = client.get(
        "/search.json", params={"q": "data tag:kommuner"},
        headers={"If-None-Match": feed.headers["etag"]},
    )  # fmt: skip
    assert again.status_code == 304


def test_healthz_reports_feed_health(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["entries"] == 4
    assert {f["name"] for f in body["feeds"]} == {"OS2", "KL"}
    assert all(f["state"] == "ok" for f in body["feeds"])


def test_healthz_is_503_when_polls_have_stopped(tmp_path, make_config):
    config = make_config([{"name": "OS2", "url": OS2}])
    store = Store.open(config.database_path)
    store.sync_feeds(config.feeds, NOW)
    store.close()  # never polled
    port = free_port()
    server = BackgroundServer(config, ServerOptions("127.0.0.1", port))
    server.start()
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert response.status_code == 503
        assert response.json()["status"] == "stale"
        config.database_path.unlink()
        config.database_path.mkdir()  # the database cannot be opened any more
        other = free_port()
        second = BackgroundServer(config, ServerOptions("127.0.0.1", other))
        second.start()
        try:
            failed = httpx.get(f"http://127.0.0.1:{other}/healthz", timeout=10)
        finally:
            second.stop()
        assert failed.status_code == 503
        assert failed.json()["status"] == "error"
    finally:
        server.stop()


def test_behind_a_proxy_with_a_root_path(site):
    port = free_port()
    server = BackgroundServer(site, ServerOptions("127.0.0.1", port, root_path="/nyheder"))
    server.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as session:
            # nginx `location /nyheder/ { proxy_pass http://127.0.0.1:8080/; }` strips the prefix
            page = session.get("/search", params={"q": "kommune"})
            assert page.status_code == 200
            assert 'action="search"' in page.text  # relative links work under any prefix
            assert session.get("/atom.xml").status_code == 200
    finally:
        server.stop()


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.parametrize(
    ("trusted", "client"),
    [(("127.0.0.1",), "203.0.113.7"), (("192.0.2.1",), "127.0.0.1")],
    ids=["from-a-trusted-proxy", "from-anyone-else"],
)
def test_forwarded_headers_are_believed_only_from_trusted_proxies(site, trusted, client):
    port = free_port()
    options = ServerOptions("127.0.0.1", port, trusted_proxies=trusted, access_log=True)
    server = BackgroundServer(site, options)
    lines = _Lines()
    access = logging.getLogger("uvicorn.access")
    access.addHandler(lines)
    server.start()
    forwarded = {
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "evil.example",
    }
    try:
        feed = httpx.get(
            f"http://127.0.0.1:{port}/search.atom?q=kommune", headers=forwarded, timeout=10
        )
    finally:
        server.stop()
        access.removeHandler(lines)
    # The access log names the client behind a trusted proxy, and the connection otherwise.
    addresses = [str(r.args[0]) for r in lines.records if isinstance(r.args, tuple)]
    assert [a.rsplit(":", 1)[0] for a in addresses] == [client]
    # Self links come from site.base_url whoever asks: no header moves them elsewhere.
    links = {link.rel: link.href for link in feedparser.parse(feed.content).feed.links}
    assert links["self"] == "https://planet.example.dk/search.atom?q=kommune"


def test_search_page_in_a_browser(browser, base):
    check = check_page(browser, f"{base}/search?q=kommune", "search-results")
    assert not check.violations, check.describe()

    def type_a_query(chromium):
        context = chromium.new_context(viewport={"width": 375, "height": 800})
        try:
            page = context.new_page()
            page.goto(f"{base}/search")
            page.get_by_label("Søg i alle indlæg").fill("aarhus")
            page.get_by_role("button", name="Søg").click()
            page.wait_for_url("**/search?q=aarhus")
            marks = page.locator("ol.results mark").all_inner_texts()
            titles = page.locator("ol.results h2").all_inner_texts()
            return marks, titles
        finally:
            context.close()

    marks, titles = browser.run(type_a_query)
    assert marks == ["Århus"]
    assert titles == ["Digitaliseringen af kommunerne"]


def test_a_subscriber_searches_from_the_planet_pages(browser, base):
    """The exported pages' header form (site.search_url) lands on the search results."""
    check = check_page(browser, f"{base}/tag/kommuner/", "tag-page-with-search")
    assert not check.violations, check.describe()

    def search_from_the_page(chromium, width):
        context = chromium.new_context(viewport={"width": width, "height": 800})
        try:
            page = context.new_page()
            page.goto(f"{base}/tag/kommuner/")
            page.evaluate(_axe_script())
            result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
            serious = [
                v["id"] for v in result["violations"] if v.get("impact") in {"serious", "critical"}
            ]
            page.get_by_role("search").get_by_label("Søg i arkivet").fill("digitalisering")
            page.get_by_role("search").get_by_role("button", name="Søg").click()
            page.wait_for_url("**/search?q=digitalisering")
            marks = page.locator("ol.results mark").all_inner_texts()
            return serious, marks
        finally:
            context.close()

    for width in (375, 1280):
        serious, marks = browser.run(lambda chromium, w=width: search_from_the_page(chromium, w))
        assert serious == [], width
        assert marks == ["Digitaliseringen"], width


@pytest.mark.parametrize(
    ("language", "search_url", "expected"),
    [
        ("da", "search", ('action="../../search"', "Søg i arkivet", ">Søg</button>")),
        ("en", "https://find.example.dk/search", ('action="https://find.example.dk/search"',
                                               "Search the archive", ">Search</button>")),
        ("da", None, ()),
    ],
)  # fmt: skip
def test_pages_have_a_search_form_only_when_search_is_served(
    tmp_path, make_config, store, language, search_url, expected
):
    site: dict[str, object] = {"language": language, "output_dir": str(tmp_path / "out")}
    if search_url:
        site["search_url"] = search_url
    config = make_config([{"name": "KL", "url": KL, "tags": ["kommuner"]}], site=site)
    store.sync_feeds(config.feeds, NOW)
    store.apply(_update(KL, _entry("d", "Kommunernes økonomi", "Budget og data.", 4)), NOW)
    export_feeds(config, store, NOW)
    page = (tmp_path / "out" / "tag" / "kommuner" / "index.html").read_text(encoding="utf-8")
    assert ('role="search"' in page) == bool(expected)
    for part in expected:
        assert part in page


def test_run_with_serve_polls_and_serves_in_one_process(tmp_path, server):
    import signal
    import subprocess
    import time

    from tests.test_cli import EXE, write_config

    poll = {"timeout_seconds": 2, "allow_private_hosts": ["127.0.0.1"], "startup_spread_seconds": 0}
    config = write_config(tmp_path, server, poll=poll)
    port = free_port()
    process = subprocess.Popen(
        [str(EXE), "run", "--tick", "0.5", "--serve", "--port", str(port), "-c", str(config)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline, health, found, feed = time.monotonic() + 60, None, "", None
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                search = httpx.get(f"http://127.0.0.1:{port}/search?q=aarhus", timeout=5)
                found = search.text
                # The export follows the poll's writes, so search can find posts before it ends.
                feed = httpx.get(f"http://127.0.0.1:{port}/atom.xml", timeout=5).status_code
                if health.status_code == 200 and "<mark>" in found and feed == 200:
                    break
            except httpx.TransportError:
                pass  # not listening yet
            time.sleep(0.2)
        assert health is not None
        assert health.status_code == 200
        assert "<mark>Århus</mark>" in found, health.json()  # the poller's entries, found
        assert feed == 200
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
