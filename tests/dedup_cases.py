"""Realistic cross-feed pairs: shared by the tests and the precision/recall benchmark.

Each case is two posts in two different feeds and whether they are the same post.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tests.feedgen import Item

DAY = timedelta(days=1)
T0 = datetime(2026, 11, 17, 9, 0, tzinfo=UTC)

CLOUD = (
    "<p>Kommunerne går sammen om en fælles platform til drift af OS2-løsninger. Platformen "
    "skal gøre det lettere at dele driftsopgaver, så den enkelte kommune ikke selv skal "
    "vedligeholde servere. Arbejdsgruppen har nu lagt tidsplanen og budgettet fast, og de "
    "første kommuner flytter deres løsninger i foråret.</p><p>Læs om de næste skridt, "
    "økonomien og hvordan din kommune kan være med.</p>"
)
CLOUD_EXCERPT = (
    "<p>Kommunerne går sammen om en fælles platform til drift af OS2-løsninger. Platformen "
    "skal gøre det lettere at dele driftsopgaver, så den enkelte kommune ikke selv skal "
    "vedligeholde servere.</p>"
)
TEASER = "<p>Læs mere på vores hjemmeside.</p>"
FOOTER = (
    "<p>Du modtager dette nyhedsbrev, fordi du er tilmeldt Kommunernes nyhedsbrev om "
    "digitalisering. Nyhedsbrevet udgives af kommunernes fælles sekretariat og sendes til "
    "alle medarbejdere i it-afdelingerne. Du kan til enhver tid afmelde dig via linket i "
    "bunden af mailen, og vi behandler dine oplysninger efter reglerne i databeskyttelses"
    "forordningen. Har du spørgsmål til nyhedsbrevet, så skriv til sekretariatet, som "
    "svarer inden for fem arbejdsdage. Tak fordi du læser med, og god arbejdslyst i "
    "kommunen.</p>"
)


@dataclass(frozen=True)
class Case:
    name: str
    a: Item
    b: Item
    same: bool
    a_site: str = "https://os2.eu/"
    b_site: str = "https://www.kl.dk/"
    # Other posts of each feed, to show what the feed repeats (its footer).
    a_others: tuple[Item, ...] = ()
    b_others: tuple[Item, ...] = ()


def _newsletter(site: str, month: str, body: str, n: int) -> Item:
    return Item(f"Nyhedsbrev {month}", f"{site}nyhedsbrev/{month}-{n}", body + FOOTER,
                T0 + n * DAY)  # fmt: skip


_TOPICS = {
    "https://os2.eu/": ["OS2mo får ny import", "OS2forms i tyve kommuner", "OS2borgerpc 5.0"],
    "https://www.kl.dk/": ["KL om NIS2-kravene", "Budgetaftalen og it", "Ny formand for KITA"],
}


def _others(site: str) -> tuple[Item, ...]:
    """Earlier newsletters of the same feed: different news, the same footer."""
    return tuple(
        _newsletter(site, month, f"<p>{topic}: læs mere om det på vores side.</p>", day)
        for day, (month, topic) in enumerate(
            zip(["august", "september", "oktober"], _TOPICS[site], strict=True), start=10
        )
    )


CASES = [
    Case("same post with utm parameters",
         Item("Fælles kommunal cloud", "https://os2.eu/blog/cloud", CLOUD, T0),
         Item("Fælles kommunal cloud",
              "https://os2.eu/blog/cloud?utm_source=nyhedsbrev&utm_medium=email", CLOUD, T0),
         same=True),
    Case("http and https",
         Item("Fælles kommunal cloud", "http://os2.eu/blog/cloud", CLOUD, T0),
         Item("Fælles kommunal cloud", "https://www.os2.eu/blog/cloud/", CLOUD, T0 + DAY),
         same=True),
    Case("title prefix on a copy at another address",
         Item("Fælles kommunal cloud: næste skridt", "https://os2.eu/blog/cloud", CLOUD, T0),
         Item("Nyhed: Fælles kommunal cloud: næste skridt", "https://www.kl.dk/nyhed/cloud-os2",
              CLOUD, T0 + timedelta(hours=3)),
         same=True),
    Case("copy re-published a day later with a shorter excerpt",
         Item("Fælles kommunal cloud", "https://os2.eu/blog/cloud", CLOUD, T0),
         Item("Fælles kommunal cloud", "https://www.kl.dk/nyheder/2026/fælles-cloud",
              CLOUD_EXCERPT, T0 + DAY),
         same=True),
    Case("same title, different posts",
         _newsletter("https://os2.eu/", "december",
                     "<p>I december lancerer vi en ny version af OS2mo med bedre søgning og "
                     "import af organisationsdata fra KMD.</p>", 20),
         _newsletter("https://www.kl.dk/", "december",
                     "<p>KL holder julefrokost for netværket og samler op på årets "
                     "konference om kunstig intelligens i borgerservice.</p>", 21),
         same=False, a_others=_others("https://os2.eu/"), b_others=_others("https://www.kl.dk/")),
    Case("two posts sharing a long footer",
         _newsletter("https://os2.eu/", "uge 47",
                     "<p>Ny aftale om fælles indkøb af it-sikkerhed er på plads.</p>", 22),
         _newsletter("https://www.kl.dk/", "uge 48",
                     "<p>Høringen om den nye strategi for data er åben til januar.</p>", 23),
         same=False, a_others=_others("https://os2.eu/"), b_others=_others("https://www.kl.dk/")),
    Case("different posts on the same day",
         Item("OS2mo 12.0 er udkommet", "https://os2.eu/blog/os2mo-12",
              "<p>Den nye version af OS2mo har forbedret søgning og understøtter nu flere "
              "organisationsenheder og historik på alle objekter.</p>", T0),
         Item("MitID Erhverv: ny vejledning", "https://www.kl.dk/nyhed/mitid",
              "<p>Vejledningen forklarer trin for trin, hvordan små virksomheder kommer i "
              "gang med MitID Erhverv og tildeler rettigheder.</p>", T0),
         same=False),
    Case("same post a year apart is a new post",
         Item("Fælles kommunal cloud", "https://os2.eu/blog/cloud-2025", CLOUD, T0 - 365 * DAY),
         Item("Fælles kommunal cloud", "https://www.kl.dk/nyhed/cloud-2026", CLOUD, T0),
         same=False),
    # Summary-only municipal feeds: a stock title and teaser are two posts on two sites.
    Case("stock title and teaser on two sites",
         Item("Ledig stilling: IT-konsulent", "https://aeroe.example.dk/job/1", TEASER, T0),
         Item("Ledig stilling: IT-konsulent", "https://odder.example.dk/job/7", TEASER,
              T0 + timedelta(hours=2)),
         same=False, a_site="https://aeroe.example.dk/", b_site="https://odder.example.dk/"),
    Case("a short post shared at its own link",
         Item("Ledig stilling: IT-konsulent", "https://aeroe.example.dk/job/1", TEASER, T0),
         Item("Ledig stilling: IT-konsulent",
              "https://aeroe.example.dk/job/1?utm_source=jobnet", TEASER, T0 + timedelta(hours=2)),
         same=True, a_site="https://aeroe.example.dk/", b_site="https://www.jobnet.example.dk/"),
]  # fmt: skip
