"""Feed aggregator for public-sector digitalisation blogs: merged feed and weekly digest."""

__version__ = "0.1.0"

__all__ = ["__version__"]
