"""Host entries as an admin writes them in ``poll.allow_private_hosts``.

Apart from fetch.py so that reading feeds.yaml does not import the HTTP client.
"""

from __future__ import annotations


def allow_entry(entry: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` as (lower-case host, port or None);
    ValueError for anything else."""
    text = entry.strip().lower()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") if rest.startswith(":") else None
        if rest and port is None:
            raise ValueError(f"not a host or host:port: {entry!r}")
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, None
    if not host or any(c in host for c in "/@?# "):
        raise ValueError(f"not a host or host:port: {entry!r}")
    if port is None:
        return host, None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not a port in {entry!r}")
    return host, int(port)
