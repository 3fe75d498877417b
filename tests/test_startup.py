"""What a command imports before it does anything: `--help` must stay fast (as reader tests
its lazy imports). Run in a fresh interpreter, as the entry point runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import serve_fixture
from tests.feedserver import feed_route
from tests.test_cli import run

# Each costs tens of milliseconds to import; --help needs none of them.
HEAVY = ("pydantic", "yaml", "sqlite3", "sqlite_utils", "httpx", "httpcore", "rich", "structlog",
         "feedparser", "lxml", "apscheduler", "jinja2", "nh3", "css_inline", "babel")  # fmt: skip
# status reads feeds.yaml and the feed states, nothing else: not the entry writer's
# normaliser, dedup and search (nh3, lxml, Stemmer), not sqlite-utils, not asyncio.
NOT_FOR_STATUS = ("httpx", "httpcore", "rich", "structlog", "feedparser", "apscheduler",
                  "jinja2", "css_inline", "babel", "sqlite_utils", "lxml", "nh3", "Stemmer",
                  "asyncio", "cssselect", "parsel", "dateparser", "trafilatura")  # fmt: skip
NOT_FOR_STATUS_OF_OURS = ("aggregator.normalise", "aggregator.dedup", "aggregator.search",
                          "aggregator.store.entries", "aggregator.store.search",
                          "aggregator.policy", "aggregator.pipeline",
                          "aggregator.fetch")  # fmt: skip
# Once feeds.yaml has been validated, status reads its cached view (aggregator.config_view).
# Nor does it build the pipeline's dataclasses (aggregator.types: status needs FeedStatus only,
# from aggregator.feed_status) or the prune planner. The console script runs it without click
# and the command table (aggregator.entry), and without logging: nothing on its road logs.
NOT_FOR_CACHED_STATUS = ("aggregator.config", "aggregator.source_config", "aggregator.yamlfile",
                         "hashlib", "importlib.resources", "html", "aggregator.types",
                         "aggregator.store.prune", "aggregator.store.entries", "shutil",
                         "tempfile", "importlib.metadata", "click", "aggregator.cli",
                         "aggregator.console", "aggregator.sources_cli", "aggregator.logs",
                         "logging", "gettext", "locale")  # fmt: skip
# --help and --version: click and the command table, nothing of the store, the config or its
# cached view; nor what only printing JSON or sizing help with shutil would bring.
NOT_FOR_HELP = ("aggregator.store", "aggregator.config", "aggregator.config_view",
                "aggregator.types", "aggregator.feed_status", "aggregator.health", "sqlite3",
                "zoneinfo", "json", "shutil", "tempfile", "hashlib", "importlib.metadata",
                "importlib.resources", "html")  # fmt: skip


def imported_by(args: list[str], cwd, whole_names: bool = False) -> set[str]:
    # Not httpx._main: the console script's placeholder for httpx's command line (entry.py).
    real = "[m for m in sys.modules if m != 'httpx._main']"
    names = real if whole_names else f"{{m.split('.')[0] for m in {real}}}"
    code = (
        "import sys\n"
        "from aggregator.entry import main\n"
        f"sys.argv = ['aggregator', *{args!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"seen = sorted({names})\n"  # before json, which the command may not import
        "import json\n"
        "print(json.dumps(seen), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True,
                            text=True, check=True, timeout=60)  # fmt: skip
    return set(json.loads(result.stderr.splitlines()[-1]))


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["poll", "--help"], ["--version"]])
def test_help_imports_nothing_heavy(tmp_path, args):
    assert imported_by(args, tmp_path) & set(HEAVY) == set()
    if args[0] != "poll":
        assert imported_by(args, tmp_path, whole_names=True) & set(NOT_FOR_HELP) == set()


def test_status_imports_only_what_it_reads(tmp_path):
    assert run("demo", "--out", str(tmp_path), cwd=tmp_path).returncode == 0
    (tmp_path / "feeds.yaml").write_text(
        (tmp_path / "feeds.yaml").read_text("utf-8") + "# changed\n", "utf-8"
    )  # not validated before: this status validates it in full
    modules = imported_by(["status"], tmp_path)
    assert {"pydantic", "sqlite3"} <= modules  # it did validate feeds.yaml, read the database
    assert modules & set(NOT_FOR_STATUS) == set()
    ours = imported_by(["status"], tmp_path, whole_names=True)  # from the cached view now
    assert "aggregator.store.database" in ours
    assert ours & set(NOT_FOR_STATUS_OF_OURS + NOT_FOR_CACHED_STATUS) == set()
    assert {m.split(".")[0] for m in ours} & {"pydantic", "pydantic_core", "yaml"} == set()


def _poll_config(tmp_path, url: str) -> None:
    data = {
        "site": {"title": "Offentlig digitalisering", "base_url": "https://planet.example.dk/"},
        "poll": {"allow_private_hosts": ["127.0.0.1"], "workers": 0},  # parsed in this process
        "feeds": [{"name": "Blog", "url": url}],
    }
    (tmp_path / "feeds.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")


def test_a_poll_imports_dateparser_only_for_a_date_in_words(server, tmp_path):
    """dateparser costs about a second to load: a poll parses with it only when a feed has a
    date feedparser cannot read (feed_dates.py). Worker processes are forked from this one
    and parse by the same code, so they start without it too."""
    _poll_config(tmp_path, serve_fixture(server, "rss20.xml", "/feed"))
    assert "dateparser" not in imported_by(["poll"], tmp_path)
    danish = (Path(__file__).parent / "corpus" / "rss-danish-dates.xml").read_bytes()
    _poll_config(tmp_path, server.route("/lokalraad.xml", feed_route(danish)))
    assert "dateparser" in imported_by(["poll"], tmp_path)


def test_a_poll_forks_its_workers_before_loading_the_export(server, tmp_path):
    """The export (jinja2, babel, css-inline) is imported after the poll, since the workers need
    none of it, and never with --no-export. Nor is httpx's own command line (rich's syntax
    highlighting, pygments) loaded with httpx: the console script stands a placeholder in."""
    _poll_config(tmp_path, serve_fixture(server, "rss20.xml", "/feed"))
    modules = imported_by(["poll", "--no-export"], tmp_path, whole_names=True)
    assert {"aggregator.pipeline", "aggregator.parse", "httpx"} <= modules
    assert {m.split(".")[0] for m in modules} & {
        "jinja2",
        "babel",
        "css_inline",
        "pygments",
    } == set()
    assert not any(m.startswith("aggregator.export") for m in modules)
    assert "rich.syntax" not in modules
    exported = imported_by(["poll"], tmp_path, whole_names=True)
    assert "aggregator.export" in exported
    assert "pygments" not in {m.split(".")[0] for m in exported}


def test_a_poll_that_finds_nothing_new_does_not_load_the_renderers(server, tmp_path):
    """Whether an export has anything to render is answered from the store and a few files
    (export/unchanged.py): a poll of unchanged feeds, and `aggregator export` after it, end
    without jinja2, babel or css-inline, and leave every file as it was."""
    _poll_config(tmp_path, serve_fixture(server, "rss20.xml", "/feed"))
    first = imported_by(["poll"], tmp_path, whole_names=True)
    assert "aggregator.export.publish" in first  # the first export renders everything
    output = tmp_path / "output"
    written = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in output.rglob("*") if p.is_file()}
    assert any(p.name == "index.html" for p in written)
    for command in (["poll"], ["export"]):
        modules = imported_by(command, tmp_path, whole_names=True)
        assert "aggregator.export.unchanged" in modules
        assert "aggregator.export.publish" not in modules
        assert {m.split(".")[0] for m in modules} & {"jinja2", "babel", "css_inline"} == set()
        now = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in output.rglob("*") if p.is_file()}
        assert now == written
