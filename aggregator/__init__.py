"""Feed aggregator for public-sector digitalisation blogs: merged feed and weekly digest.

Stages are imported from their modules (``aggregator.config``, ``aggregator.pipeline``,
``aggregator.export``, ``aggregator.digest``); this package module stays light because the
parser processes import it too.
"""

from aggregator.errors import (
    AggregatorError,
    ConfigError,
    DigestError,
    ExportError,
    FetchError,
    ParseError,
    RefusedError,
    StorageError,
)

__version__ = "0.1.0"

__all__ = [
    "AggregatorError",
    "ConfigError",
    "DigestError",
    "ExportError",
    "FetchError",
    "ParseError",
    "RefusedError",
    "StorageError",
    "__version__",
]
