"""preview, add, remove, import and init, against the loopback server and real files."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from aggregator.cli import cli
from aggregator.config import load_config
from tests.feedserver import FeedServer, Response, feed_route

PAGES = Path(__file__).parent / "pages"
HTML_TYPE = "text/html; charset=utf-8"
ROOT = Path(__file__).parent.parent

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>{title}</title><id>urn:x:{title}</id>
<updated>2026-11-26T10:00:00Z</updated>
<entry><title>OS2mo 12 er udkommet</title><id>urn:x:1</id>
<link href="{base}/blog/nyheder-2/os2mo-12"/><updated>2026-11-26T10:00:00Z</updated>
<summary>Den nye version af OS2mo har bedre søgning.</summary>
</entry></feed>"""

# A hand-edited file: comments, quoting, blank lines and a section after the list, all of which
# an edit must leave exactly as they are.
CONFIG = """\
# Vores feeds — redigeret i hånden.
site:
  title: "Offentlig digitalisering"   # vises i feedet
  base_url: https://planet.example.dk/

poll:
  timeout_seconds: 3
  allow_private_hosts: ["127.0.0.1"]

feeds:
  # Kommunerne
  - name: Æblerød Kommune
    url: {base}/aeblerod.xml
    tags: [kommuner]   # lille kommune

  - name: "Digst"
    url: '{base}/digst.xml'
    # slut på Digst
# Efter listen
dedup:
  window_days: 7
"""


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def config_file(tmp_path: Path, server: FeedServer) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(CONFIG.format(base=server.base_url), encoding="utf-8")
    return path


def serve_page(server: FeedServer, path: str, name: str, content_type: str = HTML_TYPE) -> str:
    body = (PAGES / name).read_bytes().replace(b"https://www.kl.dk", server.base_url.encode())
    return server.route(path, feed_route(body, content_type=content_type))


def added_lines(before: str, after: str) -> str:
    """What an edit inserted, after checking it inserted one block and changed nothing else."""
    before_lines, after_lines = before.splitlines(True), after.splitlines(True)
    start = next(
        (i for i, (a, b) in enumerate(zip(before_lines, after_lines, strict=False)) if a != b),
        len(before_lines),
    )
    inserted = len(after_lines) - len(before_lines)
    assert inserted > 0
    assert after_lines[:start] + after_lines[start + inserted :] == before_lines
    return "".join(after_lines[start : start + inserted])


def test_add_finds_the_feed_a_page_links_to_and_keeps_the_file(tmp_path, server):
    path = config_file(tmp_path, server)
    before = path.read_text(encoding="utf-8")
    page = serve_page(server, "/blog/nyheder-2", "odoo_blog.html")
    atom = ATOM.format(title="OS2 nyheder", base=server.base_url).encode()
    server.route("/blog/nyheder-2/feed", feed_route(atom, "application/atom+xml"))
    result = invoke("add", "-c", str(path), page, "--tags", "os2, kommuner")
    assert result.exit_code == 0, result.output
    assert f"Found: {server.base_url}/blog/nyheder-2/feed (linked from the page)" in result.output
    assert "OS2mo 12 er udkommet" in result.output
    assert "Added 'OS2 nyheder' (feed)" in result.output
    block = added_lines(before, path.read_text(encoding="utf-8"))
    assert block == (
        f"  - name: OS2 nyheder\n    url: {server.base_url}/blog/nyheder-2/feed\n"
        "    tags: [os2, kommuner]\n"
    )
    # After the last item's own lines, before the comments that follow the list.
    assert path.read_text(encoding="utf-8").index(block) < before.index("    # slut på Digst") + 200
    assert [f.name for f in load_config(path).feeds][-1] == "OS2 nyheder"
    assert not (tmp_path / "aggregator.db").exists()


def test_add_with_several_feeds_takes_the_first_and_lists_the_rest(tmp_path, server):
    path = config_file(tmp_path, server)
    page = b"""<!DOCTYPE html><html><head><title>Blog</title>
<link rel="alternate" type="application/rss+xml" title="Indlaeg" href="/posts.rss">
<link rel="alternate" type="application/atom+xml" title="Kommentarer" href="/comments.atom">
<link rel="alternate" type="application/json" href="/wp-json/wp/v2/pages/12">
</head><body><p>Hej</p></body></html>"""
    url = server.route("/blog", feed_route(page, content_type=HTML_TYPE))
    server.route("/posts.rss", feed_route((ROOT / "tests/fixtures/rss20.xml").read_bytes()))
    result = invoke("add", "-c", str(path), url, "--name", "Bloggen", "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"Found: {server.base_url}/posts.rss (linked from the page)" in result.output
    assert f"also linked: {server.base_url}/comments.atom (Atom, Kommentarer)" in result.output
    assert "wp-json" not in result.output
    assert "Dry run" in result.output
    assert path.read_text(encoding="utf-8") == CONFIG.format(base=server.base_url)


def test_add_tries_common_paths_when_the_page_links_to_none(tmp_path, server):
    path = config_file(tmp_path, server)
    url = server.route(
        "/", feed_route(b"<!DOCTYPE html><title>Forside</title><p>Hej</p>", HTML_TYPE)
    )
    server.route("/rss.xml", feed_route((ROOT / "tests/fixtures/rss20.xml").read_bytes()))
    result = invoke("add", "-c", str(path), url, "--name", "Forsiden")
    assert result.exit_code == 0, result.output
    assert f"Found: {server.base_url}/rss.xml (found at a common feed path)" in result.output
    assert load_config(path).feeds[-1].url == f"{server.base_url}/rss.xml"


def test_add_without_any_feed_proposes_a_previewed_html_source(tmp_path, server):
    path = config_file(tmp_path, server)
    before = path.read_text(encoding="utf-8")
    url = serve_page(server, "/nyheder/", "umbraco_list.html")
    result = invoke("add", "-c", str(path), url, "--tags", "kl")
    assert result.exit_code == 0, result.output
    assert "no feed found; proposing an HTML source" in result.output
    assert "item selector `.news-list > article.news-list__item`: 3 matches" in result.output
    assert "Kommunerne får ny fælles it-platform" in result.output
    assert "Added 'KL' (html)" in result.output
    block = added_lines(before, path.read_text(encoding="utf-8"))
    assert block == (
        "  # proposed by aggregator add: the selectors are a guess from the page's markup;\n"
        "  # check it with aggregator preview KL\n"
        f"  - name: KL\n    url: {url}\n    type: html\n    tags: [kl]\n"
        "    items: .news-list > article.news-list__item\n"
        "    fields:\n      date: span.news-list__date\n"
    )
    feed = load_config(path).feeds[-1]
    assert feed.html_source() is not None


def test_add_refuses_a_source_already_there(tmp_path, server):
    path = config_file(tmp_path, server)
    result = CliRunner().invoke(cli, ["add", "-c", str(path), f"{server.base_url}/digst.xml/"])
    assert result.exit_code == 2
    assert "is already in" in result.output
    assert "as 'Digst'" in result.output


def test_remove_takes_out_only_the_source_s_own_lines(tmp_path, server):
    path = config_file(tmp_path, server)
    before = path.read_text(encoding="utf-8")
    result = invoke("remove", "-c", str(path), "Æblerød Kommune")
    assert result.exit_code == 0, result.output
    removed = added_lines(path.read_text(encoding="utf-8"), before)
    assert removed == (
        f"  - name: Æblerød Kommune\n    url: {server.base_url}/aeblerod.xml\n"
        "    tags: [kommuner]   # lille kommune\n"
    )
    missing = CliRunner().invoke(cli, ["remove", "-c", str(path), "Æblerød Kommune"])
    assert missing.exit_code == 2
    assert "no feed named 'Æblerød Kommune'" in missing.output


OPML = """<?xml version="1.0" encoding="utf-8"?>
<opml version="2.0"><head><title>Abonnementer</title></head><body>
  <outline text="Danmark">
    <outline text="Kommuner">
      <outline text="Æblerød" type="rss" xmlUrl="{base}/aeblerod.xml"/>
      <outline text="OS2" type="rss" xmlUrl="https://www.os2.eu/blog/nyheder-2/feed"
               category="/open source"/>
    </outline>
    <outline text="Digitaliseringsstyrelsen" type="rss" xmlUrl="https://digst.dk/rss"/>
  </outline>
  <outline text="GDS" type="rss" xmlUrl="https://gds.blog.gov.uk/feed/"/>
  <outline text="Digst" type="rss" xmlUrl="https://example.org/another-digst.xml"/>
</body></opml>"""


def test_import_of_nested_opml_tags_by_category_and_skips_existing(tmp_path, server):
    path = config_file(tmp_path, server)
    before = path.read_text(encoding="utf-8")
    opml = tmp_path / "subscriptions.opml"
    opml.write_text(OPML.format(base=server.base_url), encoding="utf-8")
    result = invoke("import", "-c", str(path), str(opml))
    assert result.exit_code == 0, result.output
    assert "Imported 4 feeds" in result.output
    assert "skipped 1 already there" in result.output
    added_lines(before, path.read_text(encoding="utf-8"))
    feeds = {f.name: f for f in load_config(path).feeds}
    assert feeds["OS2"].tags == ("danmark", "kommuner", "open-source")
    assert feeds["Digitaliseringsstyrelsen"].tags == ("danmark",)
    assert feeds["GDS"].tags == ()
    assert feeds["Digst (2)"].url == "https://example.org/another-digst.xml"
    again = invoke("import", "-c", str(path), str(opml))
    assert "Imported 0 feeds" in again.output


def test_import_reads_feed_urls_and_skips_what_it_cannot_take_naming_it(tmp_path, server):
    """Review 6 R8: one outline feeds.yaml refuses must not refuse the rest."""
    path = config_file(tmp_path, server)
    before = path.read_text(encoding="utf-8")
    opml = tmp_path / "safari.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><body>'
        '<outline text="Borger.dk" xmlUrl="feed://borger.dk/rss"/>'
        '<outline text="KL" xmlUrl="feed:https://www.kl.dk/nyheder/rss"/>'
        '<outline text="Med mellemrum" xmlUrl="https://ex ample.dk/feed"/>'
        '<outline text="Gopher" xmlUrl="gopher://ex.dk/feed"/>'
        '<outline text="Blog: &quot;KL2&quot;&#10;  nyt" xmlUrl="http://www.odense.dk/feed/"/>'
        '<outline text="Odense igen" xmlUrl="https://odense.dk/feed"/>'
        "</body></opml>",
        encoding="utf-8",
    )
    result = invoke("import", "-c", str(path), str(opml))
    assert result.exit_code == 0, result.output
    assert "skipped 'Med mellemrum': 'https://ex ample.dk/feed' is not an http(s) URL" in (
        result.output
    )
    assert "skipped 'Gopher': 'gopher://ex.dk/feed' is not an http(s) URL" in result.output
    assert "Imported 3 feeds" in result.output
    assert "skipped 1 already there" in result.output  # odense.dk/feed is www.odense.dk/feed/
    added_lines(before, path.read_text(encoding="utf-8"))
    feeds = {f.name: f.url for f in load_config(path).feeds}
    assert feeds["Borger.dk"] == "https://borger.dk/rss"
    assert feeds["KL"] == "https://www.kl.dk/nyheder/rss"
    assert feeds['Blog: "KL2" nyt'] == "http://www.odense.dk/feed/"


def test_edits_of_feeds_yaml_at_once_wait_their_turn_and_all_stay(tmp_path, server):
    """Review 6 R12: several `add` and a `remove` started together, each a real process."""
    import subprocess

    from tests.test_cli import EXE

    path = config_file(tmp_path, server)
    base = server.base_url
    urls = [server.static_feed(f"/f{n}.xml", ATOM.format(base=base, title=f"F{n}").encode())
            for n in range(6)]  # fmt: skip
    processes = [
        subprocess.Popen([str(EXE), "add", "-c", str(path), url, "--name", f"F{n}"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for n, url in enumerate(urls)
    ]  # fmt: skip
    processes.append(
        subprocess.Popen([str(EXE), "remove", "-c", str(path), "Digst"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    )  # fmt: skip
    for process in processes:
        output, _ = process.communicate(timeout=120)
        assert process.returncode == 0, output
    names = {f.name for f in load_config(path).feeds}
    assert names == {"Æblerød Kommune", *(f"F{n}" for n in range(6))}
    assert [p.name for p in tmp_path.glob(".feeds.yaml.*.tmp")] == []
    assert "# Vores feeds — redigeret i hånden." in path.read_text(encoding="utf-8")


def test_import_refuses_entities(tmp_path, server):
    path = config_file(tmp_path, server)
    opml = tmp_path / "evil.opml"
    opml.write_text(
        '<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<opml><body><outline text="&x;" xmlUrl="https://e.dk/f"/></body></opml>',
        encoding="utf-8",
    )
    before = path.read_text(encoding="utf-8")
    result = CliRunner().invoke(cli, ["import", "-c", str(path), str(opml)])
    assert result.exit_code == 2
    assert "external entity" in result.output
    assert path.read_text(encoding="utf-8") == before


def test_preview_of_a_configured_html_source_writes_nothing(tmp_path, server):
    url = serve_page(server, "/nyheder/", "drupal_list.html")
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "poll:\n  allow_private_hosts: [127.0.0.1]\nfeeds:\n"
        f"  - name: Digst\n    url: {url}\n    type: html\n    items: .views-row\n"
        "    fields:\n      summary: {css: .field--name-body, take: html}\n",
        encoding="utf-8",
    )
    result = invoke("preview", "-c", str(path), "Digst")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "item selector `.views-row`: 2 matches" in lines
    assert "  summary  `.field--name-body`: 2 of 2 items" in lines
    assert "  title    `h1, h2, h3, h4, h5` (default): 2 of 2 items" in lines
    assert "2 posts would be stored (nothing was written):" in lines
    assert any(
        line.startswith("  2026-11-25 09:30 CET  Ny strategi for digital velfærd") for line in lines
    )
    assert not (tmp_path / "aggregator.db").exists()


def test_preview_of_a_configured_source_tries_the_selectors_given(tmp_path, server):
    """Review 6 R13: `preview NAME --title …` is how an admin tries a fix before writing it
    into feeds.yaml: the selectors given replace the source's own, the rest stay."""
    url = serve_page(server, "/nyheder/", "drupal_list.html")
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "poll:\n  allow_private_hosts: [127.0.0.1]\nfeeds:\n"
        f"  - name: Digst\n    url: {url}\n    type: html\n    items: .nothing-here\n"
        "    fields:\n      summary: {css: .field--name-body, take: html}\n",
        encoding="utf-8",
    )
    failing = CliRunner().invoke(cli, ["preview", "-c", str(path), "Digst"])
    assert failing.exit_code == 1
    tried = invoke("preview", "-c", str(path), "Digst", "--item", ".views-row", "--title", "h2")
    assert tried.exit_code == 0, tried.output
    lines = tried.output.splitlines()
    assert "item selector `.views-row`: 2 matches" in lines
    assert "  title    `h2`: 2 of 2 items" in lines
    assert "  summary  `.field--name-body`: 2 of 2 items" in lines  # the source's own, kept
    assert "items: .nothing-here" in path.read_text(encoding="utf-8")  # nothing written
    feed = tmp_path / "feed.yaml"
    feed.write_text(CONFIG.format(base=server.base_url), encoding="utf-8")
    refused = CliRunner().invoke(cli, ["preview", "-c", str(feed), "Digst", "--title", "h2"])
    assert refused.exit_code == 2
    assert "'Digst' is a feed, not an HTML source: give --item to read it so" in refused.output


def test_preview_of_a_url_with_selectors_and_a_failing_one(tmp_path, server):
    path = config_file(tmp_path, server)
    # No charset in the header: the page's <meta> says ISO-8859-1.
    url = serve_page(server, "/kombit", "sitecore_list.html", "text/html")
    ok = invoke("preview", "-c", str(path), url, "--item", "li.search-result", "--title", "h4")
    assert ok.exit_code == 0, ok.output
    assert "Udbud af sag- og dokumenthåndtering er …" in ok.output
    failing = CliRunner().invoke(
        cli, ["preview", "-c", str(path), url, "--item", "//li[@class='nyhed']", "--xpath"]
    )
    assert failing.exit_code == 1
    assert "item selector `xpath://li[@class='nyhed']`: 0 matches" in failing.output
    assert "matched 0 elements; the page changed?" in failing.output


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--item", "li[["], "error: --item: not a valid CSS selector 'li[[': "),
        (["--item", "li", "--title", "a::text("], "error: --title: not a valid CSS selector"),
        (["--item", "//li[", "--xpath"], "error: --item: not a valid XPath expression"),
    ],
)
def test_preview_names_the_option_of_a_mistyped_selector(tmp_path, server, options, message):
    path = config_file(tmp_path, server)
    url = serve_page(server, "/kombit", "sitecore_list.html", "text/html")
    result = CliRunner().invoke(cli, ["preview", "-c", str(path), url, *options])
    assert result.exit_code == 2  # a configuration error
    assert result.output.startswith(message), result.output
    assert "ValidationError" not in result.output
    assert not server.requests_to("/kombit")


def test_preview_of_a_feed(tmp_path, server):
    path = config_file(tmp_path, server)
    server.route("/digst.xml", feed_route((ROOT / "tests/fixtures/atom10.xml").read_bytes()))
    result = invoke("preview", "-c", str(path), "Digst")
    assert result.exit_code == 0, result.output
    assert "(atom10" in result.output
    assert "posts would be stored (nothing was written)" in result.output


def test_init_writes_the_starter_and_never_overwrites(tmp_path):
    result = invoke("init", str(tmp_path / "ny"))
    assert result.exit_code == 0, result.output
    written = tmp_path / "ny" / "feeds.yaml"
    config = load_config(written)
    kinds = {f.name: f.type for f in config.feeds}
    assert kinds["OS2"] == kinds["Digitaliseringsstyrelsen"] == "feed"
    assert kinds["KL"] == kinds["KIT@ nyheder"] == kinds["KIT@ magasinet"] == "html"
    assert kinds["KOMBIT"] == "html"
    assert "UNVERIFIED" in written.read_text(encoding="utf-8")
    written.write_text("# mine\n", encoding="utf-8")
    again = CliRunner().invoke(cli, ["init", str(tmp_path / "ny")])
    assert again.exit_code == 1
    assert "exists already" in again.output
    assert written.read_text(encoding="utf-8") == "# mine\n"


def test_shipped_feeds_yaml_is_the_starter():
    shipped = (ROOT / "feeds.yaml").read_text(encoding="utf-8")
    assert shipped == (ROOT / "aggregator" / "starter_feeds.yaml").read_text(encoding="utf-8")


def test_a_configured_html_page_names_its_feed_in_the_poll_error(tmp_path, server):
    page = serve_page(server, "/blog/nyheder-2", "odoo_blog.html")
    path = tmp_path / "feeds.yaml"
    path.write_text(
        f"poll:\n  allow_private_hosts: [127.0.0.1]\nfeeds:\n  - name: OS2\n    url: {page}\n",
        encoding="utf-8",
    )
    result = invoke("poll", "-c", str(path))
    assert f"it links to {server.base_url}/blog/nyheder-2/feed" in result.output
    [line] = [line for line in result.output.splitlines() if line.startswith("OS2: ")]
    assert line.endswith("or run aggregator add (for 1 poll)")  # its own advice, only


def test_a_failing_html_source_is_told_to_check_its_page_not_that_it_is_no_feed(tmp_path, server):
    """Review 6 R4: a 2xx with an error says the error, and for a page what to look at."""
    url = serve_page(server, "/nyheder/", "umbraco_list.html")
    config = tmp_path / "feeds.yaml"
    config.write_text(
        "poll:\n  allow_private_hosts: [127.0.0.1]\n  workers: 0\nfeeds:\n"
        f"  - name: KL Nyheder\n    url: {url}\n    type: html\n    items: .nyheder article\n",
        encoding="utf-8",
    )
    server.static("/robots.txt", Response(200, b"User-agent: *\nDisallow: /lukket/\n"))
    closed = serve_page(server, "/lukket/nyheder/", "umbraco_list.html")
    with config.open("a", encoding="utf-8") as more:
        more.write(f"  - name: Lukket\n    url: {closed}\n    type: html\n    items: article\n")
    result = CliRunner().invoke(cli, ["poll", "-c", str(config), "-q"])
    assert result.exit_code == 3, result.output
    advice = dict(line.split(": ", 1) for line in result.output.splitlines()[-2:])
    assert advice["KL Nyheder"] == (
        "item selector `.nyheder article` matched 0 elements; the page changed? for 1 poll: "
        "look at the page with `aggregator preview 'KL Nyheder'` (a redesign, or a cookie wall?)"
    )
    assert advice["Lukket"] == (
        f"robots.txt of {server.base_url} disallows {closed} for 1 poll: "
        "the site's robots.txt forbids fetching it: ask the site, or remove the source"
    )


def test_add_takes_an_address_without_its_scheme_as_https_and_refuses_a_typo(tmp_path, server):
    from aggregator.adding import as_url

    assert as_url(" kommune.dk/nyheder ") == "https://kommune.dk/nyheder"
    assert as_url("www.kl.dk") == "https://www.kl.dk"
    assert as_url("HTTP://kl.dk/feed") == "HTTP://kl.dk/feed"
    assert as_url("ærø.dk/nyheder") == "https://ærø.dk/nyheder"  # an IDNA host, as browsers take it
    path = config_file(tmp_path, server)
    for typo in ("htps://kommune.dk/feed", "kommune", "ftp://kommune.dk/feed", "ærø_dk.dk"):
        result = CliRunner().invoke(cli, ["add", "-c", str(path), typo])
        assert result.exit_code == 1
        assert f"error: {typo!r} is not a web address: give it as https://…" in result.output


def test_poll_and_status_of_an_html_source_through_the_worker_processes(tmp_path, server):
    """`aggregator poll` fetches and parses in its worker processes: the selectors, the
    followed pages and the selector's failure all travel that road."""
    url = serve_page(server, "/nyheder/", "umbraco_list.html")
    for path in (
        "/nyheder/2026/november/kommunerne-faar-ny-faelles-it-platform/",
        "/nyheder/nyheder/2026/november/oekonomiaftale-digitalisering/",
        "/nyheder/2026/oktober/ai-i-jobcentrene/?utm_source=forside",
    ):
        server.route(path, feed_route((PAGES / "umbraco_article.html").read_bytes(), HTML_TYPE))
    config = tmp_path / "feeds.yaml"
    config.write_text(
        "poll:\n  allow_private_hosts: [127.0.0.1]\n  workers: 2\nfeeds:\n"
        f"  - name: KL\n    url: {url}\n    type: html\n    items: .news-list article\n"
        "    fields: {date: .news-list__date}\n    follow: true\n",
        encoding="utf-8",
    )
    first = invoke("poll", "-c", str(config))
    assert "3 new" in first.output, first.output
    redesigned = (PAGES / "umbraco_list.html").read_bytes().replace(b"news-list", b"nyheder")
    server.route("/nyheder/", feed_route(redesigned, content_type=HTML_TYPE))
    invoke("retry", "-c", str(config), "KL")
    invoke("poll", "-c", str(config))
    status = invoke("status", "-c", str(config))
    assert "item selector `.news-list article` matched 0 elements; the page changed?" in (
        status.output
    ), status.output
