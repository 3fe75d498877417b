"""``run --tick`` takes seconds from 0.1 to a day (review 8 R8-12): inf, nan and 1e300 are a
one-line usage error with exit 2, as the other numeric options' edges are, not "unexpected
error: OverflowError" with exit 1 once the service had started."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli import run

FEEDS = "site:\n  title: T\n  base_url: https://planet.example.dk/\nfeeds: []\n"


@pytest.mark.parametrize("tick", ["inf", "nan", "1e300", "-inf", "86401"])
def test_a_tick_no_timer_takes_is_a_usage_error(tmp_path: Path, tick: str) -> None:
    (tmp_path / "feeds.yaml").write_text(FEEDS, encoding="utf-8")
    result = run("run", "--tick", tick, cwd=tmp_path, timeout=30)
    assert result.returncode == 2, result.stderr
    assert "Invalid value for '--tick'" in result.stderr
    assert "unexpected error" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feeds.yaml"]  # never started
