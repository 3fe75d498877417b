"""Danish-like prose with the statistics that matter to the duplicate detector.

Uniformly random words (benchmarks/corpus.py's sentences) almost never repeat a five-word
phrase, so a sketch index built from them stays sparse however large it grows. Real prose
does not: function words follow Zipf's law, and stock phrases ("i forbindelse med at", "på
baggrund af den") and house openings ("Kommunen har i dag offentliggjort") recur in
thousands of posts. This model has both: a Zipf-distributed vocabulary (function words
first, then the corpus's content words and compounds of them) and, at the start of a third
of the sentences, one of a few dozen stock phrases.
"""

from __future__ import annotations

import itertools
import random
from functools import cache

from benchmarks.corpus import WORDS

# One string split, as a list of 56 words would be formatted one word a line.
FUNCTION_WORDS = (  # noqa: SIM905
    "og i at det er en til på med for af den de som ikke der har vi kan et om skal så også "
    "men eller fra ved efter over under mellem være blive var blev have alle nye flere mere "
    "vores jeres deres hvor når hvis denne dette disse"
).split()

STOCK_PHRASES = [
    "i forbindelse med at",
    "på baggrund af den",
    "det er vigtigt at",
    "med henblik på at",
    "som led i arbejdet med",
    "kommunen har i dag offentliggjort",
    "vi er glade for at kunne fortælle",
    "læs mere om projektet på",
    "i løbet af det kommende år",
    "det betyder blandt andet at",
    "der er tale om en",
    "i samarbejde med de øvrige kommuner",
    "som en del af den fælleskommunale",
    "for at sikre at borgerne",
    "det fremgår af en ny",
    "ifølge den nye aftale skal",
    "på den måde kan vi",
    "her kan du læse om",
    "der er nu åbnet for",
    "vi har i den forbindelse",
    "i den kommende periode vil",
    "det er første gang at",
    "med udgangspunkt i de erfaringer",
    "på tværs af forvaltningerne",
    "der skal være plads til",
    "regeringen og kl er enige om",
    "i henhold til databeskyttelsesforordningen",
    "tilmeldingen er åben frem til",
    "vi vil gerne sige tak til",
    "kontakt os endelig hvis du",
]


@cache
def vocabulary() -> tuple[list[str], list[float]]:
    """Words by rank, with Zipf weights (s = 1.07, about as in Danish newspaper text)."""
    compounds = [a + b for a, b in itertools.permutations(WORDS, 2)]
    words = [*FUNCTION_WORDS, *WORDS, *compounds[:2000]]
    weights = [1 / (rank + 1) ** 1.07 for rank in range(len(words))]
    return words, list(itertools.accumulate(weights))


def sentence(rng: random.Random) -> str:
    words, cumulative = vocabulary()
    body = rng.choices(words, cum_weights=cumulative, k=rng.randint(7, 18))
    if rng.random() < 0.33:
        body = [*rng.choice(STOCK_PHRASES).split(), *body]
    return " ".join(body).capitalize() + "."


def paragraphs(rng: random.Random, chars: int = 2000) -> list[str]:
    result: list[str] = []
    while sum(map(len, result)) < chars:
        result.append(" ".join(sentence(rng) for _ in range(rng.randint(2, 4))))
    return result


def title(rng: random.Random) -> str:
    words, cumulative = vocabulary()
    # Titles lean on content words: skip most function words.
    chosen = [w for w in rng.choices(words, cum_weights=cumulative, k=14) if len(w) > 3]
    return " ".join(chosen[: rng.randint(3, 7)] or ["nyt"]).capitalize()
