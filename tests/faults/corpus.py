"""Hostile feeds, each a route on the loopback server: what an attacker (or a broken
server) sends, with what must not come out of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tests.bombs import bomb
from tests.feedgen import Item, rss
from tests.feedserver import FeedServer, Response

SECRET = "INTERNAL SECRET admin-token-5f3a"
RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    # Strings that must appear in no output (a secret, a file's contents).
    forbidden: tuple[str, ...] = field(default_factory=tuple)


def _channel(items: str, link: str = "https://hostile.example.dk/", extra: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'{extra}<rss version="2.0"><channel><title>Hostile</title><link>{link}</link>'
        f"<description>x</description>{items}</channel></rss>"
    ).encode()


def _item(n: int, title: str, html_escaped: str, link: str | None = None) -> str:
    link = link or f"https://hostile.example.dk/{n}"
    return (
        f"<item><title>{title}</title><link>{link}</link><guid>hostile-{n}</guid>"
        f"<pubDate>Mon, 23 Nov 2026 10:00:00 GMT</pubDate>"
        f"<description>{html_escaped}</description></item>"
    )


def _esc(html: str) -> str:
    return html.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


XSS = [
    "<script>alert(1)</script><p>tekst</p>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(document.cookie)">klik</a>',
    '<a href="JaVaScRiPt:alert(1)">klik</a><a href=" javascript:alert(1)">x</a>',
    '<a href="java&#x09;script:alert(1)">tab</a>',
    '<iframe src="javascript:alert(1)"></iframe><iframe srcdoc="<script>alert(1)</script>">',
    "<svg onload=alert(1)><circle/></svg>",
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    '<div style="background:url(javascript:alert(1))">s</div>',
    '<form action="javascript:alert(1)"><input type=submit></form>',
    '<object data="data:text/html,<script>alert(1)</script>"></object>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">d</a>',
    '<img src="vbscript:msgbox(1)">',
    "<style>body{background:red}</style><link rel=stylesheet href=//evil>",
    '<base href="javascript:alert(1)//"><meta http-equiv=refresh content="0;url=javascript:1">',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    "<template><script>alert(1)</script></template><details open ontoggle=alert(1)>",
    "<!--<img src=x onerror=alert(1)>--><p>kommentar</p>",
    '<a href="&#106;avascript:alert(1)">entity</a>',
]


def _xss() -> bytes:
    items = "".join(_item(n, f"XSS {n} &lt;script&gt;alert(1)&lt;/script&gt;", _esc(h))
                    for n, h in enumerate(XSS))  # fmt: skip
    items += (
        "<item><title>Feed-level link</title><link>javascript:alert(document.cookie)</link>"
        "<guid>hostile-js-link</guid><description>x</description></item>"
    )
    return _channel(items, link="javascript:alert(document.cookie)")


def _xxe() -> bytes:
    doctype = (
        '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">'
        '<!ENTITY remote SYSTEM "http://169.254.169.254/latest/meta-data/">]>'
    )
    return _channel(_item(1, "XXE &xxe;", "&xxe; &remote;"), extra=doctype)


def _billion_laughs() -> bytes:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    return _channel(_item(1, "Laughs &lol9;", "&lol9;"), extra=f"<!DOCTYPE rss [{entities}]>")


def _control_characters() -> bytes:
    raw = "Kontrol\x01tegn\x08 &#x1; &#0; &#x1F; &#xFFFE; æøå"
    items = _item(1, raw, _esc(f"<p>{raw}</p>")) + _item(2, "Ren titel", "tekst\x0b\x0c")
    return _channel(items).replace(b"\xef\xbf\xbe", b"")


def _nested() -> bytes:
    depth = 100_000
    return _channel(_item(1, "Dybt", _esc("<div>" * depth + "bund" + "</div>" * depth)))


def _huge_fields() -> bytes:
    words = "digitalisering " * 70_000  # 1 MiB
    return _channel(_item(1, words, _esc(f"<p>{words}</p>" * 4)))


def _many_entries() -> bytes:
    items = [
        Item(f"Post {n}", f"https://many.example.dk/{n}", f"<p>indhold {n}</p>", guid=f"m{n}")
        for n in range(50_000)
    ]
    return rss("Mange", "https://many.example.dk/", items)


def _misdeclared(charset: str, text: str, encoding: str) -> Callable[[], Response]:
    body = _channel(_item(1, text, _esc(f"<p>{text}</p>"))).replace(b"utf-8", charset.encode())
    body = body.decode().encode(encoding, errors="replace")
    return lambda: Response(200, body, {"Content-Type": f"application/rss+xml; charset={charset}"})


def serve_corpus(server: FeedServer, secret_server: FeedServer) -> list[Case]:
    """Mount every hostile case; ``secret_server`` is a private service on another port
    that must never be reached through a redirect."""
    secret_server.static("/admin", Response(200, SECRET.encode(), {"Content-Type": "text/xml"}))
    secret_url = secret_server.url("/admin")
    cases: list[Case] = []

    def add(name: str, path: str, response: Response, forbidden: tuple[str, ...] = ()) -> None:
        server.static(path, response)
        cases.append(Case(name, path, forbidden))

    add("xss", "/xss", Response(200, _xss(), RSS_TYPE))
    add("xxe", "/xxe", Response(200, _xxe(), RSS_TYPE), ("root:x:0:0",))
    add("billion laughs", "/laughs", Response(200, _billion_laughs(), RSS_TYPE), ("lollol",))
    for encoding in ("gzip", "deflate", "br"):
        headers = {**RSS_TYPE, "Content-Encoding": encoding}
        add(
            f"{encoding} bomb 1 GiB",
            f"/bomb-{encoding}",
            Response(200, bomb(encoding, 1 << 30), headers),
        )
    add(
        "slow drip body",
        "/drip",
        Response(200, _channel(_item(1, "Drip", "x")) * 40, RSS_TYPE, trickle=0.2),
    )
    add("slow headers", "/slow-headers", Response(200, _channel(""), RSS_TYPE, header_trickle=0.1))
    server.redirect("/loop-b", server.url("/loop-a"))
    add("redirect loop", "/loop-a", Response(302, b"", {"Location": server.url("/loop-b")}))
    ssrf = {
        "ssrf metadata": "http://169.254.169.254/latest/meta-data/",
        "ssrf other port": secret_url,
        "ssrf 0.0.0.0": "http://0.0.0.0:" + secret_url.rsplit(":", 1)[1],
        "ssrf ipv6 loopback": "http://[::1]/",
        "ssrf decimal ip": "http://2130706433/",
        "ssrf file": "file:///etc/passwd",
        "ssrf gopher": "gopher://127.0.0.1:6379/_INFO",
    }
    for n, (name, target) in enumerate(ssrf.items()):
        add(name, f"/ssrf{n}", Response(302, b"", {"Location": target}), (SECRET, "root:x:0:0"))
    add("utf-8 declared latin-1", "/enc1", _misdeclared("iso-8859-1", "Blåbærgrød", "utf-8")())
    add("latin-1 declared utf-8", "/enc2", _misdeclared("utf-8", "Rødgrød med fløde", "latin-1")())
    add("utf-16 declared utf-8", "/enc3", _misdeclared("utf-8", "Ærø", "utf-16-le")())
    add("50,000 entries", "/many", Response(200, _many_entries(), RSS_TYPE))
    add("control characters", "/control", Response(200, _control_characters(), RSS_TYPE))
    add("nested html 100,000", "/nested", Response(200, _nested(), RSS_TYPE))
    add("1 MiB title", "/huge", Response(200, _huge_fields(), RSS_TYPE))
    add(
        "html page, not a feed",
        "/html",
        Response(200, b"<!doctype html><p>x", {"Content-Type": "text/html"}),
    )
    add("binary garbage", "/garbage", Response(200, bytes(range(256)) * 64, RSS_TYPE))
    return cases


def good_feeds(server: FeedServer) -> list[dict[str, str]]:
    """Two ordinary feeds, to show the hostile ones leave the others alone."""
    items = [
        Item(f"God nyhed {n} om æøå", f"https://good.example.dk/{n}", f"<p>Godt indhold {n}</p>",
             guid=f"good-{n}", published=datetime.now(UTC) - timedelta(hours=n + 1))
        for n in range(5)
    ]  # fmt: skip
    one = rss("Good", "https://good.example.dk/", items)
    two = rss("Good2", "https://good2.example.dk/", items[:2])
    return [
        {"name": "Good one", "url": server.static_feed("/good1", one)},
        {"name": "Good two", "url": server.static_feed("/good2", two)},
    ]
