"""How a command ends: its exit status (the README's table and aggregator.cli's docstring say
what each means), and a quiet end when the reader of its output has gone.

Only the standard library: the console script's fast road for ``status`` (aggregator.entry)
ends the same way as the click commands do.
"""

from __future__ import annotations

import os
import sys
from enum import IntEnum

CTRL_C = "error: stopped by Ctrl-C"


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    ALL_FEEDS_FAILED = 3
    CHECK_FAILED = 4
    INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C
    BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for `yes | head -1`


def discard_stdout() -> None:
    """The reader has gone: send what is still buffered nowhere, so exit is quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)
