"""`aggregator demo` writes only where it may: new, empty, or its own earlier demo."""

from __future__ import annotations

import pytest

from tests.test_cli import run

OWN_CONFIG = "# my real feeds\nfeeds:\n  - name: OS2\n    url: https://os2.eu/feed\n"


def test_demo_refuses_a_folder_with_the_admins_own_feeds_yaml(tmp_path):
    (tmp_path / "feeds.yaml").write_text(OWN_CONFIG, encoding="utf-8")
    result = run("demo", "--out", ".", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: . is not empty and holds no earlier demo: give the demo a new or empty folder "
        "(nothing was written)"
    ]
    assert (tmp_path / "feeds.yaml").read_text(encoding="utf-8") == OWN_CONFIG
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feeds.yaml"]


def test_demo_refuses_a_folder_with_any_other_file(tmp_path):
    (tmp_path / "aggregator.db").write_bytes(b"not mine")
    result = run("demo", "--out", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    assert (tmp_path / "aggregator.db").read_bytes() == b"not mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aggregator.db"]


def test_demo_refuses_a_file_as_its_folder(tmp_path):
    (tmp_path / "taken").write_text("x", encoding="utf-8")
    result = run("demo", "--out", "taken", cwd=tmp_path)
    assert result.returncode == 2
    assert "'taken' is a file" in result.stderr
    assert (tmp_path / "taken").read_text(encoding="utf-8") == "x"


@pytest.mark.parametrize("existing", [False, True])
def test_demo_writes_into_a_new_or_empty_folder_and_again_into_its_own(tmp_path, existing):
    folder = tmp_path / "demo"
    if existing:
        folder.mkdir()
    first = run("demo", "--out", str(folder), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert (folder / ".aggregator-demo").is_file()
    again = run("demo", "--out", str(folder), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    # A fresh database each time: the same seven posts are new again.
    assert "Polled 3 feeds: 7 new, 0 updated, 0 failed." in again.stdout


def test_demo_leaves_a_feeds_yaml_edited_since_alone(tmp_path):
    folder = tmp_path / "demo"
    assert run("demo", "--out", str(folder), cwd=tmp_path).returncode == 0
    (folder / "feeds.yaml").write_text(OWN_CONFIG, encoding="utf-8")
    database = (folder / "aggregator.db").read_bytes()
    result = run("demo", "--out", str(folder), cwd=tmp_path)
    assert result.returncode == 2
    assert "feeds.yaml has changed since the demo wrote it, so it is left alone" in result.stderr
    assert (folder / "feeds.yaml").read_text(encoding="utf-8") == OWN_CONFIG
    assert (folder / "aggregator.db").read_bytes() == database


def test_demo_without_out_makes_a_folder_of_its_own(tmp_path):
    result = run("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.iterdir()) == []
    assert "Demo written to " in result.stdout
