"""Digests: build (pure) -> render (templates, CSS inlined) -> send (SMTP, one message per
recipient, tracked in the ledger) or preview; sent digests are archived in the output."""

from __future__ import annotations

from aggregator.digest.build import Digest, Window, build_digest
from aggregator.digest.deliver import (
    DigestOutcome,
    assemble,
    coming_period,
    make_digest,
    preview_digest,
    send_digest,
)
from aggregator.digest.periods import (
    Period,
    check_sendable,
    last_complete,
    last_complete_week,
    parse_period,
    parse_week,
)
from aggregator.digest.render import RenderedDigest, render_digest

__all__ = [
    "Digest",
    "DigestOutcome",
    "Period",
    "RenderedDigest",
    "Window",
    "assemble",
    "build_digest",
    "check_sendable",
    "coming_period",
    "last_complete",
    "last_complete_week",
    "make_digest",
    "parse_period",
    "parse_week",
    "preview_digest",
    "render_digest",
    "send_digest",
]
