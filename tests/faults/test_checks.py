"""The fault suite's own checks find what they look for (a check that finds nothing
proves nothing)."""

from __future__ import annotations

import pytest

from tests.faults.harness import active_content, output_problems


@pytest.mark.parametrize(
    "fragment",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        '<a href=" JaVaScRiPt:alert(1)">x</a>',
        '<a href="data:text/html,x">x</a>',
        '<iframe srcdoc="x"></iframe>',
        '<p style="x">x</p>',
        "<svg><circle/></svg>",
        '<form action="https://x"></form>',
    ],
)
def test_active_content_is_found(fragment):
    assert active_content(fragment)


def test_safe_content_passes():
    assert active_content('<p>Hej <a href="https://x.dk/æøå">x</a> <img src="/a.png"></p>') == []


def test_a_broken_or_unsafe_output_is_found(tmp_path):
    (tmp_path / "atom.xml").write_bytes(b"<feed>\x01</feed>")
    (tmp_path / "rss.xml").write_bytes(
        b"<rss><channel><link>javascript:alert(1)</link>"
        b"<item><description>&lt;script&gt;x&lt;/script&gt;</description></item></channel></rss>"
    )
    found = output_problems(tmp_path)
    assert any("atom.xml not well-formed" in p for p in found)
    assert any("unsafe URL" in p for p in found)
    assert any("<script>" in p for p in found)
