"""`add` of a second list of one page, told apart by a fragment as README says (review 9 of
e671354): configured_as compares canonical URLs, which drop the fragment, so the page's
other list is taken for the one configured, by ``add`` and by ``import``."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from aggregator.adding import configured_as
from aggregator.cli import cli
from aggregator.config import config_from_text, load_config

TEXT = (
    "feeds:\n"
    "  - name: Nyheder\n    url: https://kommune.dk/aktuelt#nyheder\n    type: html\n"
    "    items: section.nyheder article\n"
    "  - name: Digst\n    url: https://digst.dk/feed#alle\n"
)


def test_a_second_list_of_a_page_is_not_configured_yet(tmp_path: Path) -> None:
    config = config_from_text(tmp_path / "feeds.yaml", TEXT)
    assert configured_as(config, "https://kommune.dk/aktuelt#nyheder") is not None
    assert configured_as(config, "https://kommune.dk/aktuelt#presse") is None
    # A feed document has no lists to tell apart: the fragment counts for pages only.
    assert configured_as(config, "https://digst.dk/feed#nyt") is not None


def test_import_takes_the_second_list_of_a_page_and_skips_the_first(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(TEXT, encoding="utf-8")
    opml = tmp_path / "lists.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><body>'
        '<outline text="Nyheder igen" xmlUrl="https://kommune.dk/aktuelt#nyheder"/>'
        '<outline text="Presse" xmlUrl="https://kommune.dk/aktuelt#presse"/>'
        "</body></opml>",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["import", "-c", str(path), str(opml)])
    assert result.exit_code == 0, result.output
    assert "Imported 1 feed" in result.output
    assert "skipped 1 already there" in result.output
    urls = {f.name: f.url for f in load_config(path).feeds}
    assert urls["Presse"] == "https://kommune.dk/aktuelt#presse"
