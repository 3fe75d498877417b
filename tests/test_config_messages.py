"""Each defect of a hand-edited feeds.yaml, with the exact words the admin sees."""

from __future__ import annotations

import textwrap

import pytest

from tests.test_cli import run

HEAD = "poll:\n  allow_private_hosts: [127.0.0.1]\n"


def problems(tmp_path, text: str) -> list[str]:
    (tmp_path / "feeds.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    result = run("poll", cwd=tmp_path)
    assert result.returncode == 2, result.stdout
    lines = result.stderr.splitlines()
    assert lines[0] == "error: feeds.yaml: invalid configuration"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feeds.yaml"]  # nothing written
    return lines[1:]


def test_two_feeds_with_one_name(tmp_path):
    assert problems(tmp_path, """\
        feeds:
          - name: OS2
            url: https://os2.eu/feed
          - name: KL
            url: https://www.kl.dk/rss
          - name: os2
            url: https://os2.eu/blog/feed
        """) == [
        "feeds[2].name: 'os2' is already the name of feeds[0]; names must be unique "
        "(retry, split and status go by name) (line 6)"
    ]  # fmt: skip


def test_keys_given_twice_are_named_with_both_lines(tmp_path):
    assert problems(tmp_path, """\
        site:
          title: Første
        feeds:
          - name: OS2
            url: https://os2.eu/feed
            url: https://os2.eu/other
        site:
          title: Anden
        """) == [
        "feeds[0].url: given twice, on lines 5 and 6; keep one (line 6)",
        "site: given twice, on lines 1 and 7; keep one (line 7)",
    ]  # fmt: skip


def test_plain_words_for_wrong_types(tmp_path):
    assert problems(tmp_path, """\
        site: Offentlig digitalisering
        poll:
          interval_minutes: hourly
          adaptive: maybe
        digest:
          day: monday
          time: "7 am"
        feeds:
          - name: OS2
            url: https://os2.eu/feed
            tags: os2
          - just a url
        """) == [
        "site: expected a mapping of settings (line 1)",
        "poll.interval_minutes: a whole number, e.g. 60, not 'hourly' (line 3)",
        "poll.adaptive: true or false, not 'maybe' (line 4)",
        "digest.day: one of 'mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun' or 'daily' (line 6)",
        "digest.time: a time of day, e.g. 07:00, not '7 am' (line 7)",
        "feeds[0].tags: a list of tags, e.g. [os2, kommuner] (line 11)",
        "feeds[1]: expected a mapping with a name and a url, e.g. {name: OS2, url: https://…} "
        "(line 12)",
    ]  # fmt: skip


def test_cross_field_checks_come_with_the_others_in_file_order(tmp_path):
    assert problems(tmp_path, """\
        poll:
          min_interval_minutes: 120
          max_interval_minutes: 60
          intervall_minutes: 30
        feeds:
          - name: OS2
            url: os2.eu/feed
          - name: KL
            url: https://www.kl.dk/rss
          - name: KL2
            url: https://www.kl.dk/rss
        """) == [
        "poll.min_interval_minutes: 120 is more than max_interval_minutes (60) (line 2)",
        "poll.intervall_minutes: unknown key (did you mean interval_minutes?) (line 4)",
        "feeds[0].url: not a valid URL (line 7)",
        "feeds[2].url: 'KL2' has the same URL as 'KL' (feeds[1].url, line 9); keep one (line 11)",
    ]  # fmt: skip


def test_a_list_at_the_top_is_not_settings(tmp_path):
    (tmp_path / "feeds.yaml").write_text("- name: OS2\n  url: https://os2.eu/feed\n", "utf-8")
    result = run("poll", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines()[1] == (
        "(top level): expected a mapping of settings, e.g. feeds: [...]"
    )


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "feeds: []\n"])
def test_an_empty_feed_list_is_warned_about(tmp_path, text):
    (tmp_path / "feeds.yaml").write_text(text, encoding="utf-8")
    result = run("poll", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        "warning: feeds.yaml: no feeds configured: add them under `feeds:` with name and url"
    ]
    assert "Polled 0 feeds" in result.stdout


def test_a_time_with_a_one_digit_hour_is_that_time(tmp_path):
    from aggregator.config import load_config

    (tmp_path / "feeds.yaml").write_text("digest:\n  time: 7:30\n", encoding="utf-8")
    assert load_config(tmp_path / "feeds.yaml").digest.time.isoformat() == "07:30:00"


def test_digest_names_sources_and_tls_come_with_the_other_problems(tmp_path):
    """Checks that were the models' own ran only once all else was valid (issue 13)."""
    assert problems(tmp_path, """\
        smtp:
          host: smtp.kommune.dk
          tls: true
          starttls: true
          port: "465x"
        digest:
          recipients: [it@kommune.dk]
        digests:
          - name: default
            recipients: [chef@kommune.dk]
          - name: ugentlig
            sources: [OS2, Kommunernes Landsforening]
          - name: ugentlig
            day: someday
        feeds:
          - name: OS2
            url: os2.eu/feed
        """) == [
        "smtp.tls: starttls and tls exclude each other (tls is for port 465) (line 3)",
        "smtp.port: a whole number, e.g. 60, not '465x' (line 5)",
        "digests[0].name: 'default' is already the name of the digest: section; digest names "
        "must be unique (digest NAME and the ledger go by name) (line 9)",
        "digests[1].sources[1]: no feed is named 'Kommunernes Landsforening' (line 12)",
        "digests[2].name: 'ugentlig' is already the name of digests[1]; digest names must be "
        "unique (digest NAME and the ledger go by name) (line 13)",
        "digests[2].day: one of 'mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun' or 'daily' "
        "(line 14)",
        "feeds[0].url: not a valid URL (line 17)",
    ]  # fmt: skip


def test_only_digests_means_no_default_digest(tmp_path):
    (tmp_path / "feeds.yaml").write_text(textwrap.dedent("""\
        digests:
          - name: default
            recipients: [it@kommune.dk]
          - name: daglig
            day: daily
        feeds:
          - name: OS2
            url: https://os2.eu/feed
        """), encoding="utf-8")  # fmt: skip
    result = run("status", cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_digest_recipients_subject_and_tags_are_checked_strictly(tmp_path):
    """Review 5 L5, L6, L9: one mailbox in two spellings, a subject that reaches past its
    placeholders, a tag no feed has (every period would be skipped as empty, for good)."""
    assert problems(tmp_path, """\
        digests:
          - name: personale
            recipients: [Jens.Ærø@Kommune.dk, jens.ærø@kommune.DK]
          - name: stat
            recipients: [it@kommune.dk]
            subject: "{title.__class__}"
          - name: kort
            recipients: [it@kommune.dk]
            subject: "Uge {week}: {count:>999999999}"
          - name: tagget
            recipients: [it@kommune.dk]
            tags: [kommuner, Kommuner]
        feeds:
          - name: OS2
            url: https://os2.eu/feed
            tags: [kommuner]
        """) == [
        "digests[0].recipients: 'Jens.Ærø@Kommune.dk' and 'jens.ærø@kommune.DK' are listed "
        "twice (addresses are compared ignoring case) (line 3)",
        "digests[1].subject: unknown placeholder {title.__class__} (use {title}, {name}, "
        "{week}, {year}, {date}, {period}, {count}, {sources}) (line 6)",
        "digests[2].subject: {count:>999999999}: a placeholder takes no format or conversion "
        "(use {title}, {name}, {week}, {year}, {date}, {period}, {count}, {sources}) (line 9)",
        "digests[3].tags[1]: no feed has the tag 'Kommuner' (the feeds' tags: kommuner) "
        "(line 12)",
    ]  # fmt: skip
