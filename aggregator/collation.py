"""Danish alphabetical order for names shown in lists (the digest's groups, feed health).

A small key of our own rather than ICU: PyICU comes only as a source package to build
against the system's ICU (a compiler and libicu-dev on every host that installs us), babel
has no collation, and Python's own (``str`` order, ``locale.strxfrm``) puts æ, ø, å
elsewhere or depends on the host's locales. What it does is CLDR's Danish order for the
letters a Danish list holds: æ, ø, å after z, in that order, ignoring case; ä, ö and ü as
æ, ø and y; other accents ignored (é as e); and "aa" as å, so Aarhus sorts as Århus.
"""

from __future__ import annotations

import unicodedata

# Above every letter a name in a Latin script holds, in Danish order.
_AE, _OE, _AA = "\ue000", "\ue001", "\ue002"
_DANISH = str.maketrans({"æ": _AE, "ä": _AE, "ø": _OE, "ö": _OE, "å": _AA, "ü": "y"})


def danish_key(name: str) -> tuple[str, str]:
    """Sort key: the letters in Danish order first, then case and accents (so the order of
    names equal but for them is the same every time)."""
    folded = unicodedata.normalize("NFC", name).casefold().replace("aa", "å")
    letters = unicodedata.normalize("NFD", folded.translate(_DANISH))
    primary = "".join(c for c in letters if not unicodedata.combining(c))
    return primary, name
