"""WebSub publish pings (W3C WebSub §6): after an export, the hub is told which feeds changed.
A hub that is down or slow costs a log line, never the export."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import httpx

from aggregator.proxies import Proxies, httpx_proxy
from aggregator.trust import Trust, tls_context

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10.0


def ping_hub(
    hub: str,
    feed_urls: Sequence[str],
    user_agent: str,
    proxies: Proxies | None = None,
    trusted: Trust | None = None,
) -> int:
    """POST ``hub.mode=publish`` once per changed feed; returns how many the hub accepted.
    Through the proxy and with the CAs the polls use (poll.proxy, poll.ca_bundle)."""
    accepted = 0
    context = tls_context(trusted or Trust())
    address = httpx.URL(hub)
    proxy = (proxies or Proxies()).for_url(address.scheme, address.host)
    with httpx.Client(
        timeout=TIMEOUT_SECONDS,
        headers={"User-Agent": user_agent},
        verify=context,
        proxy=httpx_proxy(proxy, context) if proxy else None,
        trust_env=False,  # the proxy variables are read in proxies.py, ~/.netrc never
    ) as client:
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
