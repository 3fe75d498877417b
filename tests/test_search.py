"""Full-text search: Danish and English word forms, queries, snippets, and an index that
stays in step with every entry write (a brute-force scan is the oracle)."""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.archive_search import feed_filter, search_archive, tag_filters
from aggregator.config import Config, FeedConfig, feed_data
from aggregator.normalise import sanitised_text
from aggregator.search import (
    QueryError,
    SearchQuery,
    Term,
    fold,
    index_language,
    parse_query,
    snippet,
    stems,
    words,
)
from aggregator.store import Store
from aggregator.store import search as store_search
from aggregator.types import EntryPlan, StoredEntry, UpdatePlan
from tests.schema_history import roll_back_later_migrations

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
OS2 = "https://os2.eu/feed"
DIGST = "https://digst.dk/nyheder/rss"
KL = "https://www.kl.dk/rss"
FEEDS = (
    FeedConfig(name="OS2", url=OS2, tags=("open source", "kommuner")),
    FeedConfig(name="Digitaliseringsstyrelsen", url=DIGST, tags=("stat",)),
    FeedConfig(name="KL", url=KL, tags=("kommuner",)),
)


def make_entry(
    key: str,
    title: str,
    text: str,
    published: datetime = NOW,
    language: str | None = "da",
    url: str | None = None,
    author: str | None = None,
    categories: tuple[str, ...] = (),
) -> EntryPlan:
    link = url or f"https://example.dk/{key}"
    return EntryPlan(
        key=key,
        canonical_url=link,
        link=link,
        title=title,
        author=author,
        content_html=f"<p>{text}</p>",
        summary_text=text[:100],
        published=published,
        updated=published,
        content_hash=f"{title}|{text}",
        language=language,
        categories=categories,
    )


def update(feed: str, *entries: EntryPlan, at: datetime = NOW) -> UpdatePlan:
    return UpdatePlan(
        feed_url=feed,
        fetched_at=at,
        status=200,
        etag=None,
        last_modified=None,
        not_modified=False,
        error=None,
        entries=entries,
    )


@pytest.fixture
def config(make_config) -> Config:
    made: Config = make_config([feed_data(f) for f in FEEDS])
    return made


@pytest.fixture
def archive(store: Store) -> Store:
    store.sync_feeds(FEEDS, NOW)
    return store


def titles(store: Store, config: Config, query: str, **options: object) -> list[str]:
    results = search_archive(store, config, query, NOW, limit=200, **options)  # type: ignore[arg-type]
    return [hit.entry.title for hit in results.hits]


# ---------------------------------------------------------------------------------------------
# Word forms

DANISH = [
    # (word in the post, word searched, must match)
    ("digitaliseringen", "digitalisering", True),
    ("digitaliseringens", "digitalisering", True),
    ("digitalisering", "digitaliseringen", True),
    ("kommune", "kommunerne", True),
    ("kommunerne", "kommune", True),
    ("kommunernes", "kommune", True),
    ("løsninger", "løsning", True),
    ("borgerne", "borger", True),
    ("skolerne", "skole", True),
    ("Århus", "Aarhus", True),
    ("Aarhus", "århus", True),
    ("Aabenraa", "Åbenrå", True),
    ("paa", "på", True),
    ("ÅR", "år", True),
    ("år", "ar", False),
    ("ar", "år", False),
    ("lån", "lan", False),
    ("hø", "ho", False),
    ("sær", "sar", False),
    ("kommunikation", "kommune", False),
    ("data", "dato", False),
    ("digitalisering", "digital", False),
]


def test_danish_word_forms(archive, config):
    entries = [
        make_entry(f"d{i}", f"Opslag {i}", f"Et opslag om {word} i dag, skrevet af os.")
        for i, (word, _, _) in enumerate(DANISH)
    ]
    archive.apply(update(OS2, *entries), NOW)
    for i, (word, query, expected) in enumerate(DANISH):
        found = f"Opslag {i}" in titles(archive, config, query)
        assert found is expected, (
            f"{query!r} {'should' if expected else 'should not'} find {word!r}"
        )


ENGLISH = [
    ("councils", "council", True),
    ("running", "run", True),
    ("digitalisation", "digitalising", True),
    ("policies", "policy", True),
    ("year", "years", True),
    ("bar", "bår", False),
]


def test_english_entries_are_stemmed_as_english(archive, config):
    entries = [
        make_entry(
            f"e{i}",
            f"Post {i}",
            f"This is the post about {word}, and it is one of the posts that we have written.",
            language="en",
        )
        for i, (word, _, _) in enumerate(ENGLISH)
    ]
    archive.apply(update(DIGST, *entries), NOW)
    for i, (word, query, expected) in enumerate(ENGLISH):
        assert (f"Post {i}" in titles(archive, config, query)) is expected, (word, query)


def test_language_comes_from_the_text_when_the_feed_declares_it_wrongly():
    danish = "Kommunen har fået en ny løsning til borgerne, og det er godt at se, at den virker."
    assert index_language("en-US", danish) == "da"
    english = "The council has a new system for the citizens and this is what we have learnt."
    assert index_language("da", english) == "en"
    assert index_language("en", "OS2 2026") == "en"  # too little text: the declared one
    assert index_language(None, "OS2 2026") == "da"


def test_stems_keep_danish_letters():
    assert stems(words("Årets løsninger på Ærø"), "da") == ["året", "løsning", "på", "ærø"]
    assert words("it_sikkerhed x") == ["it", "sikkerhed", "x"]  # _ separates, as in unicode61


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("aåæøAÅÆØé1_ -–—.,;:!?\"'”«»()\n\t\u00a0\u200bxyz")))
def test_words_are_the_regular_expressions_words(text):
    assert words(text) == re.findall(r"[^\W_]+", fold(text))


@given(st.text())
def test_words_of_any_text(text):
    assert words(text) == re.findall(r"[^\W_]+", fold(text))


def test_stems_are_the_same_when_the_cache_fills(monkeypatch):
    import Stemmer

    from aggregator import search

    text = "Kommunerne digitaliserer løsningerne; kommunens løsning blev digitaliseret " * 3
    stemmer = Stemmer.Stemmer("danish")
    expected = stemmer.stemWords(words(text))
    monkeypatch.setattr(search, "STEM_CACHE_WORDS", 6)  # emptied on nearly every call
    assert stems(words(text), "da") == expected
    assert stems(words(text), "da") == expected
    # Some words known, the rest more than the cache holds: it is emptied, all stemmed anew.
    assert stems(["løsningerne", "x", "y", "z", "w", "kommunens"], "da") == [
        "løsning",
        "x",
        "y",
        "z",
        "w",
        "kommun",
    ]
    assert stems(["løsningerne"], "da") == ["løsning"]


# ---------------------------------------------------------------------------------------------
# Queries


@pytest.fixture
def corpus(archive: Store) -> Store:
    archive.apply(
        update(
            OS2,
            make_entry("a", "Den offentlige sektor", "Digitaliseringen af den offentlige sektor."),
            make_entry(
                "b",
                "Sektor og skole",
                "Skolerne i sektoren er offentlige institutioner.",
                NOW - timedelta(1),
            ),
            make_entry("c", "Møde om data", "Et møde om data i kommunerne.", NOW - timedelta(400)),
        ),
        NOW,
    )
    archive.apply(
        update(
            DIGST,
            make_entry(
                "d",
                "Ny strategi",
                "Digitaliseringsstrategien for staten og kommunerne.",
                categories=("Cloud", "Økonomi"),
            ),
            make_entry("e", "Data og møder", "Offentlige data på nettet.", NOW - timedelta(30)),
        ),
        NOW,
    )
    archive.apply(
        update(KL, make_entry("f", "Kommunernes økonomi", "Budget og data for kommuner.")), NOW
    )
    return archive


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("offentlige sektor", {"Den offentlige sektor", "Sektor og skole"}),
        ('"offentlige sektor"', {"Den offentlige sektor"}),
        ("data", {"Møde om data", "Data og møder", "Kommunernes økonomi"}),
        ("data -møde", {"Kommunernes økonomi"}),
        ("skole OR strategi", {"Sektor og skole", "Ny strategi"}),
        ("skole OR strategi kommunerne", {"Ny strategi"}),
        ("data kilde:OS2", {"Møde om data"}),
        ("data kilde:os2.eu", {"Møde om data"}),
        ("data source:digitaliserings", {"Data og møder"}),
        ('data kilde:"KL" kilde:OS2', {"Møde om data", "Kommunernes økonomi"}),
        ("data tag:kommuner", {"Møde om data", "Kommunernes økonomi"}),
        ('data tag:"open source"', {"Møde om data"}),
        ("data tag:kommuner tag:stat", set()),
        ("tag:cloud", {"Ny strategi"}),  # the post's own category
        ("tag:økonomi tag:stat", {"Ny strategi"}),
        ("økonomi", {"Ny strategi", "Kommunernes økonomi"}),  # categories are searched too
        ("data fra:2026-01-01", {"Data og møder", "Kommunernes økonomi"}),
        ("data since:2026-11", {"Kommunernes økonomi"}),
        ("kilde:KL", {"Kommunernes økonomi"}),
        ("tag:stat -møde", {"Ny strategi"}),
        ("kilde:ingen-sådan", set()),
        ("tag:ØKONOMI", {"Ny strategi"}),  # categories compare folded
        ("kilde:OS2 -møde", {"Den offentlige sektor", "Sektor og skole"}),
        ("tag:kommuner -data", {"Den offentlige sektor", "Sektor og skole"}),
        ("Digitaliseringsstyrelsen", {"Ny strategi", "Data og møder"}),  # the source column
    ],
)
def test_operators(corpus, config, query, expected, monkeypatch):
    assert set(titles(corpus, config, query)) == expected
    # A word in many posts ranks only its newest matches first; the window widens until it
    # has found what the filters and the page ask for, so nothing is lost.
    monkeypatch.setattr("aggregator.store.search.RANK_WINDOW", 1)
    # Filters of many feeds are checked in SQL rather than by FTS5, and words in many posts
    # rank by title and date rather than bm25: the same answers.
    for facet_terms, bm25_posts in ((64, 10_000), (0, 10_000), (64, 0)):
        monkeypatch.setattr("aggregator.store.search.FACET_TERMS", facet_terms)
        monkeypatch.setattr("aggregator.store.search.BM25_MAX_POSTS", bm25_posts)
        for order in ("rank", "newest"):
            pages = [search_archive(corpus, config, query, NOW, 1, n, order) for n in range(7)]
            paged = [h.entry.title for p in pages for h in p.hits]
            assert sorted(paged) == sorted(expected), (facet_terms, bm25_posts, order)


@pytest.mark.parametrize("bm25_posts", [10_000, 0], ids=["bm25", "common-words"])
def test_title_outranks_body_and_new_outranks_old(archive, config, bm25_posts, monkeypatch):
    monkeypatch.setattr("aggregator.store.search.BM25_MAX_POSTS", bm25_posts)
    archive.apply(
        update(
            OS2,
            make_entry("body", "Nyt fra kontoret", "Her er lidt om cloud og mere til."),
            make_entry("title", "Cloud i kommunen", "Her er lidt om noget og mere til."),
            make_entry("old", "Cloud i staten", "Her om noget og mere til.", NOW - timedelta(900)),
        ),
        NOW,
    )  # fmt: skip
    assert titles(archive, config, "cloud") == [
        "Cloud i kommunen",
        "Cloud i staten",
        "Nyt fra kontoret",
    ]
    newest = titles(archive, config, "cloud", order="newest")
    assert newest[-1] == "Cloud i staten"


def test_a_query_of_filters_only_lists_newest_first(corpus, config):
    assert titles(corpus, config, "kilde:OS2") == [
        "Den offentlige sektor", "Sektor og skole", "Møde om data",
    ]  # fmt: skip


def test_pages_follow_each_other(corpus, config):
    first = search_archive(corpus, config, "kilde:OS2", NOW, limit=2)
    second = search_archive(corpus, config, "kilde:OS2", NOW, limit=2, offset=2)
    assert first.more
    assert not second.more
    assert [h.entry.title for h in second.hits] == ["Møde om data"]


MALFORMED = [
    ('"offentlige sektor', "closing quote"),
    ("OR data", "OR needs a word on both sides"),
    ("data OR", "OR needs a word on both sides"),
    ("data OR OR møde", "OR needs a word on both sides"),
    ("data OR -møde", "OR cannot join"),
    ("data OR kilde:OS2", "OR joins words"),
    ("data -", "must be followed by a word"),
    ("-møde", "not only words to leave out"),
    ("-kilde:OS2", "cannot be negated"),
    ("data kilde:", "kilde: needs a value"),
    ('data source:""', "source: needs a value"),
    ("data tag:", "tag: needs a value"),
    ("data fra:igår", "fra: takes a date"),
    ("data since:2026-02-30", "since: takes a date"),
    ("fra:2026 fra:2025", "can be given once"),
    ("!!! ???", "no words to search for"),
    ("", "no words to search for"),
    ("data -!!!", "no letters or digits"),
    ("a " * 300, "longer than"),
    (" ".join(f"w{i}" for i in range(30)), "more than 24 words"),
    ("data\x00", "control characters"),
]


@pytest.mark.parametrize(
    ("query", "ranked_by"),
    [
        ("data", '"data"'),
        ('"data cloud" -møde', '("data" AND "cloud")'),
        ("cloud OR data -møde", '("cloud" OR "data")'),
        ("kilde:KL", None),
    ],
)
def test_bm25_ranks_by_the_words_alone(query, ranked_by):
    """Not by a phrase or a word left out: bm25 would count their matches in every post."""
    assert parse_query(query).ranking_expression() == ranked_by


def test_a_phrase_ranks_its_matches_by_its_words(archive, config):
    archive.apply(
        update(
            OS2,
            make_entry("a", "Offentlige sektor", "Den offentlige sektor i sektoren."),
            make_entry("b", "Nyt", "Den offentlige sektor.", NOW - timedelta(1)),
            make_entry("c", "Sektor", "Offentlige data i en sektor.", NOW - timedelta(2)),
        ),
        NOW,
    )  # fmt: skip
    assert titles(archive, config, '"offentlige sektor"') == ["Offentlige sektor", "Nyt"]


@pytest.mark.parametrize(("query", "message"), MALFORMED)
def test_malformed_queries_say_what_is_wrong(corpus, config, query, message):
    with pytest.raises(QueryError, match=re.escape(message)):
        search_archive(corpus, config, query, NOW)


@pytest.mark.parametrize(
    "query",
    ['NEAR(a b)', "a AND", "a NOT", "title:data", "data*", "^data", "(data", "data)", "a + b",
     "{title body}: data", "\"a\" \"", "'", "ø:"],
)  # fmt: skip
def test_fts_syntax_never_reaches_sqlite(corpus, config, query):
    with contextlib.suppress(QueryError):  # a message for the user, never a StorageError
        search_archive(corpus, config, query, NOW)


# ---------------------------------------------------------------------------------------------
# Snippets


def test_snippets_escape_html_and_mark_every_form(archive, config):
    archive.apply(
        update(
            OS2,
            make_entry(
                "x",
                "<script>alert(1)</script> Digitaliseringen & mere",
                "&lt;img src=x onerror=alert(1)&gt; om digitaliseringens fremtid",
            ),
        ),
        NOW,
    )
    (hit,) = search_archive(archive, config, "digitalisering", NOW).hits
    assert hit.title_html == (
        "&lt;script&gt;alert(1)&lt;/script&gt; <mark>Digitaliseringen</mark> &amp; mere"
    )
    assert "&lt;img src=x onerror=alert(1)&gt;" in hit.snippet_html
    assert "<mark>digitaliseringens</mark>" in hit.snippet_html
    assert "<img" not in hit.snippet_html
    assert "<script" not in hit.title_html


def test_snippet_shows_the_passage_with_the_matches():
    text = " ".join(["fyld"] * 100) + " her er kommunerne med " + " ".join(["fyld"] * 100)
    found = snippet(text, parse_query("kommune").highlight_stems(), "da", max_words=10)
    assert found.startswith("… ")
    assert found.endswith(" …")
    assert "<mark>kommunerne</mark>" in found
    assert len(found.split()) <= 14


# ---------------------------------------------------------------------------------------------
# The index stays in step with the entries: a brute-force scan as the oracle

VOCABULARY = [
    "kommunen", "kommunerne", "borger", "borgerne", "data", "sikkerhed", "løsning",
    "løsninger", "år", "ar", "aarhus", "århus", "skole", "cloud", "strategi", "møde",
    "økonomi", "kommuner",
]  # fmt: skip
FILTERS = ["kilde:OS2", "kilde:KL", "tag:kommuner", "tag:cloud", "tag:Økonomi", "tag:stat"]


def _term_in(term: Term, columns: list[list[str]], language: str) -> bool:
    wanted = stems(term.words, "en" if language == "en" else "da")
    n = len(wanted)
    return any(
        column[i : i + n] == wanted for column in columns for i in range(len(column) - n + 1)
    )


def _filters_hold(entry: StoredEntry, query: SearchQuery) -> bool:
    """kilde: and tag: worked out from the entry's sources and categories."""
    feeds = {s.feed_url for s in entry.sources}
    wanted = feed_filter(query, FEEDS)
    if wanted is not None and not feeds & wanted:
        return False
    categories = {fold(c) for c in entry.categories}
    return all(
        fold(tag) in categories or feeds & tag_feeds for tag, tag_feeds in tag_filters(query, FEEDS)
    )


def brute_force(entries: list[StoredEntry], query: SearchQuery) -> set[str]:
    """Which entries match, worked out from the stored rows alone, without the index."""
    found = set()
    for entry in entries:
        if not _filters_hold(entry, query):
            continue
        body = sanitised_text(entry.content_html) or entry.summary_text
        source = " ".join(
            [*([entry.author] if entry.author else []),
             *(f"{s.name} {s.title or ''}" for s in entry.sources), *entry.categories]
        )  # fmt: skip
        language = index_language(entry.language, f"{entry.title} {body}")
        columns = [stems(words(text), language) for text in (entry.title, body, source)]
        if all(any(_term_in(t, columns, language) for t in alts) for alts in query.clauses) and (
            not any(_term_in(t, columns, language) for t in query.excluded)
        ):
            found.add(entry.id)
    return found


def _all_entries(store: Store) -> list[StoredEntry]:
    ids = [row[0] for row in store.db.execute("SELECT id FROM entries")]
    return store.entries_by_id(ids)


sentences = st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=6).map(" ".join)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("poll"), st.sampled_from([OS2, DIGST, KL]), st.integers(0, 5),
                  sentences, sentences),
        st.tuples(st.just("merge"), st.sampled_from([OS2, DIGST, KL]), st.integers(0, 5),
                  sentences, sentences),
        st.tuples(st.just("split"), st.integers(0, 5)),
        st.tuples(st.just("prune"), st.integers(0, 5)),
    ),
    min_size=1,
    max_size=12,
)  # fmt: skip
queries = st.one_of(
    st.sampled_from(VOCABULARY),
    st.tuples(st.sampled_from(VOCABULARY), st.sampled_from(VOCABULARY)).map(" ".join),
    st.tuples(st.sampled_from(VOCABULARY), st.sampled_from(VOCABULARY)).map(" OR ".join),
    st.tuples(st.sampled_from(VOCABULARY), st.sampled_from(VOCABULARY)).map(" -".join),
    st.tuples(st.sampled_from(VOCABULARY), st.sampled_from(VOCABULARY)).map(
        lambda p: f'"{p[0]} {p[1]}"'
    ),
    st.tuples(st.sampled_from(VOCABULARY), st.sampled_from(FILTERS)).map(" ".join),
    st.tuples(st.sampled_from(FILTERS), st.sampled_from(VOCABULARY)).map(" -".join),
    st.sampled_from(FILTERS),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations, st.lists(queries, min_size=5, max_size=5))
def test_index_matches_a_brute_force_scan(ops, query_texts):
    with tempfile.TemporaryDirectory() as directory:
        store = Store.open(Path(directory) / "a.db")
        try:
            store.sync_feeds(FEEDS, NOW)
            config = Config(feeds=FEEDS)
            _run(store, ops)
            entries = _all_entries(store)
            for text in query_texts:
                expected = brute_force(entries, parse_query(text))
                # Filters by FTS5 and in SQL; ranked by bm25 and by title and date.
                for facet_terms, bm25_posts in ((64, 10_000), (0, 10_000), (64, 0)):
                    with _settings(facet_terms, bm25_posts):
                        results = search_archive(store, config, text, NOW, limit=200)
                    assert {h.entry.id for h in results.hits} == expected, (text, facet_terms)
        finally:
            store.close()


@contextmanager
def _settings(facet_terms: int, bm25_posts: int) -> Iterator[None]:
    saved = store_search.FACET_TERMS, store_search.BM25_MAX_POSTS
    store_search.FACET_TERMS, store_search.BM25_MAX_POSTS = facet_terms, bm25_posts
    try:
        yield
    finally:
        store_search.FACET_TERMS, store_search.BM25_MAX_POSTS = saved


def _run(store: Store, ops: list[tuple[object, ...]]) -> None:
    clock = NOW
    for op in ops:
        clock += timedelta(minutes=5)
        if op[0] == "poll":  # a new entry, or an edit of the one under this key
            _, feed, number, title, text = op
            categories = tuple(
                c for c in ("Cloud", "økonomi", "Kommuner") if c.lower() in str(text)
            )
            entry = make_entry(
                f"k{number}", str(title), str(text), clock - timedelta(days=1),
                categories=categories,
            )  # fmt: skip
            store.apply(update(str(feed), entry, at=clock), clock)
        elif op[0] == "merge":  # the same post (same link) from another feed
            _, feed, number, title, text = op
            entry = make_entry(
                f"m{number}", str(title), str(text), clock - timedelta(days=1),
                url=f"https://example.dk/shared{number}",
            )  # fmt: skip
            store.apply(update(str(feed), entry, at=clock), clock)
        elif op[0] == "split":
            merged = store.merged_groups(10)
            if merged:
                group = merged[int(str(op[1])) % len(merged)]
                store.split_source(group.entry_id, group.members[-1].feed_url, clock)
        else:  # prune: the oldest entries go, as a retention job would delete them
            with store.db.atomic():
                old = [r[0] for r in store.db.execute(
                    "SELECT id FROM entries ORDER BY first_seen, id LIMIT ?", [op[1]]
                )]  # fmt: skip
                for entry_id in old:
                    store.db.execute("DELETE FROM entry_sources WHERE entry_id = ?", [entry_id])
                    store.db.execute("DELETE FROM entry_categories WHERE entry_id = ?", [entry_id])
                    store.db.execute("DELETE FROM entries WHERE id = ?", [entry_id])


def test_migration_builds_the_index_for_an_existing_database(tmp_path):
    store = Store.open(tmp_path / "a.db")
    store.sync_feeds(FEEDS, NOW)
    store.apply(update(OS2, make_entry("a", "Digitaliseringen", "Om kommunerne.")), NOW)
    store.db.execute("DROP TRIGGER entries_search_delete")
    store.db.execute("DROP TABLE search_index")
    store.db.execute("DROP TABLE search_docs")
    roll_back_later_migrations(store.db, 11)
    store.db.execute("PRAGMA user_version = 9")
    store.close()
    store = Store.open(tmp_path / "a.db")
    config = Config(feeds=FEEDS)
    assert titles(store, config, "kommune") == ["Digitaliseringen"]
    assert titles(store, config, "kommune kilde:OS2") == ["Digitaliseringen"]
    store.close()


def test_migration_adds_sources_and_categories_to_an_index_without_them(tmp_path):
    store = Store.open(tmp_path / "a.db")
    store.sync_feeds(FEEDS, NOW)
    entry = make_entry("a", "Digitaliseringen", "Om kommunerne.", categories=("Økonomi",))
    store.apply(update(KL, entry), NOW)
    store.db.execute("DROP TABLE search_index")  # as migration 10 left it: three columns
    store.db.execute(
        """CREATE VIRTUAL TABLE search_index USING fts5(
               title, body, source, tokenize = 'unicode61 remove_diacritics 0')"""
    )
    roll_back_later_migrations(store.db, 11)
    store.db.execute("PRAGMA user_version = 10")
    store.close()
    store = Store.open(tmp_path / "a.db")
    config = Config(feeds=FEEDS)
    assert titles(store, config, "digitalisering kilde:KL tag:økonomi") == ["Digitaliseringen"]
    assert titles(store, config, "kilde:KL") == ["Digitaliseringen"]
    assert titles(store, config, "digitalisering kilde:OS2") == []
    store.close()


def test_since_is_a_local_date(corpus, config):
    query = parse_query("fra:2026-11-27")
    assert query.since == date(2026, 11, 27)


# ---------------------------------------------------------------------------------------------
# The command, through its entry point, after a real poll over loopback HTTP


def test_search_command_after_a_poll(tmp_path, server):
    from tests.test_cli import run, write_config

    write_config(tmp_path, server)
    assert run("poll", cwd=tmp_path).returncode == 0
    found = run("search", "aarhus kommune", "--json", cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    (row,) = json.loads(found.stdout)
    assert row["title"] == "Fælles kommunal cloud: næste skridt"
    assert "<mark>Århus</mark>" in row["snippet_html"]
    assert "<mark>Kommunerne</mark>" in row["snippet_html"]
    text = run("search", "temadagen", "--limit", "1", cwd=tmp_path)
    assert text.returncode == 0
    assert text.stdout.startswith("[Temadag] om åben kildekode\n")
    assert "Tilmeld dig [temadagen]." in text.stdout
    assert text.stdout.endswith("1 entry.\n")
    bad = run("search", '"åben kildekode', cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.strip() == 'error: a phrase is missing its closing quote (")'
    assert run("search", "ingenting", cwd=tmp_path).stdout.strip() == "No entries match."


@pytest.mark.parametrize("edited", [False, True])
def test_a_post_whose_categories_change_is_found_by_the_new_one(tmp_path, edited):
    store = Store.open(tmp_path / "a.db")
    store.sync_feeds(FEEDS, NOW)
    store.apply(
        update(KL, make_entry("a", "Budget", "Om kommunerne.", categories=("Økonomi",))), NOW
    )
    text = "Om kommunernes budget, rettet." if edited else "Om kommunerne."
    later = NOW + timedelta(hours=1)
    store.apply(update(KL, make_entry("a", "Budget", text, categories=("Klima",)), at=later), later)
    config = Config(feeds=FEEDS)
    assert titles(store, config, "tag:klima") == ["Budget"]
    assert titles(store, config, "tag:økonomi") == []
    store.close()


def test_a_tag_of_many_feeds_named_many_times_is_one_filter(tmp_path):
    many = tuple(FeedConfig(name=f"Kommune {n}", url=f"https://k{n}.dk/feed",
                            tags=("kommuner",)) for n in range(10_000))  # fmt: skip
    store = Store.open(tmp_path / "a.db")
    store.sync_feeds(many, NOW)
    store.apply(update(many[7].url, make_entry("a", "Budget", "Om kommunernes budget.")), NOW)
    config = Config(feeds=many)
    query = "budget " + "tag:kommuner " * 30
    assert titles(store, config, query) == ["Budget"]
    assert titles(store, config, query.replace("budget", "digitalisering")) == []
    store.close()


def test_a_batch_of_updates_is_indexed_as_it_commits(archive, config):
    """Inside a batch the index is written before each commit, outside the updates'
    savepoints: every update is found afterwards, an edit made in the same batch as its
    first version shows the edit only, and no document is left without its entry."""
    first = make_entry("a", "Borgerservice", "kommunerne digitaliserer")
    with archive.batch(max_updates=2):
        archive.apply(update(OS2, first), NOW)
        archive.apply(update(DIGST, make_entry("b", "Cybersikkerhed", "staten sikrer data")), NOW)
        archive.apply(update(KL, make_entry("c", "Skolerne", "børn og unge lærer")), NOW)
        edited = make_entry("a", "Borgerservice ændret", "kommunerne lukker skranken")
        archive.apply(update(OS2, edited), NOW + timedelta(hours=1))
    assert titles(archive, config, "kommune") == ["Borgerservice ændret"]
    assert titles(archive, config, "digitaliserer") == []
    assert titles(archive, config, "sikrer") == ["Cybersikkerhed"]
    assert titles(archive, config, "børn") == ["Skolerne"]
    (docs,) = archive.db.execute("SELECT count(*) FROM search_docs").fetchone()
    (entries,) = archive.db.execute("SELECT count(*) FROM entries").fetchone()
    assert docs == entries == 3
