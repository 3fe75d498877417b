"""WebSub publish pings (W3C WebSub §6): after an export, the hub is told which feeds changed.
A hub that is down or slow costs a log line, never the export."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import httpx

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10.0


def ping_hub(hub: str, feed_urls: Sequence[str], user_agent: str) -> int:
    """POST ``hub.mode=publish`` once per changed feed; returns how many the hub accepted."""
    accepted = 0
    with httpx.Client(timeout=TIMEOUT_SECONDS, headers={"User-Agent": user_agent}) as client:
        for url in feed_urls:
            try:
                response = client.post(hub, data={"hub.mode": "publish", "hub.url": url})
            except httpx.HTTPError as exc:
                log.warning("websub ping for %s to %s failed: %s", url, hub, exc)
                continue
            if response.is_success:
                accepted += 1
            else:
                log.warning("websub hub %s answered %d for %s", hub, response.status_code, url)
    return accepted
