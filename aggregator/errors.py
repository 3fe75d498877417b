"""One exception tree for the whole package.

    AggregatorError
    ├── ConfigError      feeds.yaml is missing, malformed or invalid  (exit 2)
    ├── RefusedError     asked to do something that would harm the admin's files  (exit 2)
    ├── FetchError       a feed could not be fetched (kept as a value per feed)
    ├── ParseError       the bytes fetched are not a usable feed (kept as a value per feed)
    │   └── TruncatedDocument  the body was cut off before the document's end
    ├── StorageError     the SQLite file cannot be opened, migrated or written
    ├── ExportError      an output file cannot be written
    ├── DigestError      a digest cannot be built or sent
    │   └── SmtpSettingRefused  the server refuses a setting (sender, size)
    │       └── SmtpLoginRefused  ... or the login
    ├── ServeError       the HTTP server cannot start
    └── Interrupted      stopped by SIGTERM or Ctrl-C, work done so far kept  (exit 143, 130)

Third-party errors are wrapped with ``raise ... from exc`` so callers only catch ours.
"""

from __future__ import annotations


class AggregatorError(Exception):
    """Root of every error this package raises on purpose."""

    exit_code = 1


class ConfigError(AggregatorError):
    exit_code = 2


class RefusedError(AggregatorError):
    exit_code = 2


class FetchError(AggregatorError):
    pass


class ParseError(AggregatorError):
    pass


class TruncatedDocument(ParseError):
    """The body ends before the document does (the response was cut off): a failed poll that
    keeps the validators, so the next poll fetches the whole document."""


class StorageError(AggregatorError):
    pass


class FeedNotStored(StorageError):
    """A feed has no row to write to: never synced, or pruned while it was being polled."""


class ExportError(AggregatorError):
    pass


class DigestError(AggregatorError):
    pass


class SmtpSettingRefused(DigestError):
    """The server refuses what only the admin can change (the sender address, a message
    larger than it takes): waiting will not make it right, so it is not tried again by
    itself before the digest's last chance."""


class SmtpLoginRefused(SmtpSettingRefused):
    """The server refused smtp.username's login; every try also counts towards the
    account's lock-out."""


class ServeError(AggregatorError):
    pass


class Interrupted(AggregatorError):
    """Stopped by a signal (SIGTERM, Ctrl-C); what was done so far is kept."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum  # as a shell reports a process a signal ended
