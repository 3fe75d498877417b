"""The global options every command takes (-c, -v, -q, --debug, --log-format), before or after
its name, as the commands read them.

Only the standard library: click fills a GlobalOptions through its option callbacks
(aggregator.cli), and the console script's road for a plain ``status`` fills the same object
by hand (aggregator.entry), from the same spellings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # aggregator.logs imports logging: only a command that runs configures it
    from aggregator.logs import LogFormat

DEFAULT_CONFIG = "feeds.yaml"
CONFIG_ENV = "AGGREGATOR_CONFIG"
# How each is written on the command line; config and log_format take a value.
SPELLINGS: dict[str, tuple[str, ...]] = {
    "config": ("-c", "--config"),
    "verbose": ("-v", "--verbose"),
    "quiet": ("-q", "--quiet"),
    "debug": ("--debug",),
    "log_format": ("--log-format",),
}
TAKE_VALUE = frozenset({"config", "log_format"})
LOG_FORMATS = ("text", "json")


class GlobalOptions:
    """The options every command takes, before or after its name; the last one given wins
    (``-v`` adds up). A plain class: ``--help`` need not import dataclasses for it."""

    __slots__ = ("config", "debug", "log_format", "quiet", "verbose")

    def __init__(self) -> None:
        self.config: Path | None = None
        self.verbose = 0
        self.quiet = False
        self.debug = False
        self.log_format: LogFormat = "text"

    def take(self, name: str, value: int | str | Path | None) -> None:
        """One option as given (a flag's count or truth, or a value; None: not given)."""
        if name == "verbose":
            self.verbose += value if isinstance(value, int) else 0
        elif name in ("quiet", "debug"):
            setattr(self, name, getattr(self, name) or bool(value))
        elif value is not None:  # config, log_format: given later wins
            setattr(self, name, value)

    @property
    def config_path(self) -> Path:
        return self.config or Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)

    @property
    def verbosity(self) -> int:
        return -1 if self.quiet else self.verbose
