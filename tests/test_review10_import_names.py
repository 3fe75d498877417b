"""Review 10 R10-10: feeds.yaml takes two names that differ only in case as one name ('nyheder'
is 'Nyheder'), but `import` numbered only names equal as written. An OPML file with "Nyheder"
and "nyheder" (two sites' news feeds, a reader's export) was refused whole, exit 2, nothing
imported: "feeds[1].name: 'nyheder' is already the name of feeds[0]". Now the second is
"nyheder (2)". `add` refused such a name only after writing, through the same check."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from aggregator.cli import cli
from aggregator.config import load_config
from tests.feedserver import FeedServer, feed_route
from tests.test_sources_cli import ATOM, config_file

OPML = """<?xml version="1.0" encoding="utf-8"?>
<opml version="2.0"><head><title>Abonnementer</title></head><body>
<outline text="Nyheder" xmlUrl="https://aeroe.dk/nyheder.xml"/>
<outline text="nyheder" xmlUrl="https://fanoe.dk/nyheder.xml"/>
<outline text="NYHEDER" xmlUrl="https://samsoe.dk/nyheder.xml"/>
<outline text="æblerød kommune" xmlUrl="https://aeblerod.dk/rss"/>
</body></opml>"""


def test_import_numbers_names_that_differ_only_in_case(tmp_path: Path, server: FeedServer):
    path = config_file(tmp_path, server)  # has "Æblerød Kommune"
    opml = tmp_path / "abonnementer.opml"
    opml.write_text(OPML, encoding="utf-8")
    result = CliRunner().invoke(cli, ["import", "-c", str(path), str(opml)])
    assert result.exit_code == 0, result.output
    assert "Imported 4 feeds" in result.output
    names = {f.url: f.name for f in load_config(path).feeds}
    assert names["https://aeroe.dk/nyheder.xml"] == "Nyheder"
    assert names["https://fanoe.dk/nyheder.xml"] == "nyheder (2)"
    assert names["https://samsoe.dk/nyheder.xml"] == "NYHEDER (3)"
    assert names["https://aeblerod.dk/rss"] == "æblerød kommune (2)"


def test_add_refuses_a_name_that_differs_only_in_case(tmp_path: Path, server: FeedServer):
    path = config_file(tmp_path, server)
    before = path.read_text(encoding="utf-8")
    url = server.route("/digst-ny.xml", feed_route(ATOM.format(title="x", base="").encode()))
    result = CliRunner().invoke(cli, ["add", "-c", str(path), url, "--name", "digst"])
    assert result.exit_code == 2
    assert "a feed named 'digst' exists already: give --name" in result.output
    assert path.read_text(encoding="utf-8") == before
