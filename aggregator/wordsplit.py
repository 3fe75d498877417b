r"""Folded text into words, the one way search and dedup both do it, without a regular
expression for most text.

A word is a run of letters and digits (``[^\W_]``, which is ``str.isalnum`` in CPython's
regular expressions) for search, or of ``\w`` (the underscore too) for dedup: its sketches
and title keys are stored, and were made with the underscore inside words, so that stays.
Each caller folds the text its own way first (search: NFC, lower case, ``aa`` as ``å``;
dedup: NFKC, casefold), for the same reason.

With ASCII separators blanked (one C call over the UTF-8 bytes, where a byte below 128 is
always that character), the pieces between whitespace are the words whenever all of them
are alphanumeric, which one check of their concatenation shows. Text with other punctuation
(a dash, a typographic quote) goes piece by piece, and only the pieces that are not one word
go to the regular expression.
"""

from __future__ import annotations

import re

__all__ = ["LETTERS_AND_DIGITS", "WORD_CHARACTERS", "WordSplitter"]


class WordSplitter:
    """``pattern.findall(folded)[:limit]``, cheaper."""

    def __init__(self, *, underscore: bool) -> None:
        self.pattern = re.compile(r"\w+" if underscore else r"[^\W_]+")
        separators = bytes(
            c for c in range(128) if not (chr(c).isalnum() or (underscore and chr(c) == "_"))
        )
        self._blank = bytes.maketrans(separators, b" " * len(separators))

    def __call__(self, folded: str, limit: int | None = None) -> list[str]:
        blanked = folded.encode(errors="surrogatepass").translate(self._blank)
        text = blanked.decode(errors="surrogatepass")
        pieces = text.split() if limit is None else text.split(None, limit)[:limit]
        if "".join(pieces).isalnum():
            return pieces
        found: list[str] = []
        for piece in folded.split():
            if piece.isalnum():
                found.append(piece)
            else:
                found += self.pattern.findall(piece)
            if limit is not None and len(found) >= limit:
                return found[:limit]
        return found

    def utf8_words(self, folded: str, limit: int) -> list[bytes]:
        """``[word.encode() for word in self(folded, limit)]``, without decoding the words
        to encode them again (a sketch hashes their bytes): the pieces between ASCII
        whitespace of the blanked bytes are the words whenever they decode to letters and
        digits alone, since then no other whitespace is among them."""
        blanked = folded.encode(errors="surrogatepass").translate(self._blank)
        pieces = blanked.split(None, limit)[:limit]
        if b"".join(pieces).decode(errors="surrogatepass").isalnum():
            return pieces
        return [word.encode() for word in self(folded, limit)]


LETTERS_AND_DIGITS = WordSplitter(underscore=False)  # search's words
WORD_CHARACTERS = WordSplitter(underscore=True)  # dedup's, as its stored sketches have them
