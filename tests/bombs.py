"""Compression bombs made in milliseconds: one compressed MiB of zeros after a full flush
(which resets the window) repeats byte for byte, so a GiB is a thousand copies of it."""

from __future__ import annotations

import functools
import zlib

import brotli

MIB = 1 << 20


@functools.cache
def bomb(encoding: str, size: int) -> bytes:
    """About ``size`` bytes once inflated; the trailer is not a valid checksum, which no
    client reaches before its limit."""
    zeros = b"\0" * MIB
    copies = max(size // MIB, 2)
    if encoding == "br":
        compressor = brotli.Compressor(quality=1)
        body: bytes = b"".join(compressor.process(zeros) for _ in range(copies))
        return body + bytes(compressor.finish())
    wbits = {"gzip": 31, "x-gzip": 31, "deflate": 15}[encoding]
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    head = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    unit = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    return head + unit * (copies - 1) + compressor.flush()
