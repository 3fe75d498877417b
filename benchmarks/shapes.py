"""Feed shapes as the publishers' software writes them, for the "wild" benchmark corpus.

Each function renders one feed's entries the way a kind of site does: the namespaces,
repeated elements, encodings and quirks its software emits (WordPress, Drupal, Blogger,
Ghost, Substack, Odoo, podcasts, YouTube, RDF sites, hand-written Atom with xhtml content).
``SHAPES`` gives each its share of the corpus (see corpus.py for how a feed gets its shape);
the shares are a judgement of what a list of Danish public-sector and IT blogs holds: mostly
WordPress and other RSS 2.0, a fair amount of Atom (Blogger, static sites, Odoo), some
RDF from older sites, a few podcasts and video channels, and a few feeds still in Latin-1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape, quoteattr


@dataclass(frozen=True, slots=True)
class Post:
    number: int
    title: str
    html: str
    published: datetime
    author: str
    categories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    content_type: str


Shape = Callable[[int, Sequence[Post]], Rendered]

RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"

_NS_CONTENT = 'xmlns:content="http://purl.org/rss/1.0/modules/content/"'
_NS_DC = 'xmlns:dc="http://purl.org/dc/elements/1.1/"'
_NS_ATOM = 'xmlns:atom="http://www.w3.org/2005/Atom"'
_NS_SY = 'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"'
_NS_MEDIA = 'xmlns:media="http://search.yahoo.com/mrss/"'
_NS_ITUNES = 'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'


def _site(feed: int) -> str:
    return f"https://kommune{feed}.example.dk"


def _cdata(html: str) -> str:
    return "<![CDATA[" + html.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def wordpress(feed: int, posts: Sequence[Post]) -> Rendered:
    """RSS 2.0 as WordPress writes it: content:encoded, dc:creator, several categories,
    comments, wfw and slash, an atom:link to itself and sy:* hints."""
    site = _site(feed)
    items = "".join(
        f"<item><title>{escape(p.title)}</title><link>{site}/{p.number}/</link>"
        f"<comments>{site}/{p.number}/#respond</comments>"
        f"<dc:creator>{_cdata(p.author)}</dc:creator>"
        f"<pubDate>{format_datetime(p.published)}</pubDate>"
        + "".join(f"<category>{_cdata(c)}</category>" for c in p.categories)
        + f'<guid isPermaLink="false">{site}/?p={p.number}</guid>'
        f"<description>{_cdata(p.html[:300] + ' […]')}</description>"
        f"<content:encoded>{_cdata(p.html)}</content:encoded>"
        f"<wfw:commentRss>{site}/{p.number}/feed/</wfw:commentRss>"
        f"<slash:comments>{p.number % 4}</slash:comments></item>"
        for p in posts
    )
    return Rendered(
        (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
            f"{_NS_CONTENT} {_NS_DC} {_NS_ATOM} {_NS_SY} "
            'xmlns:wfw="http://wellformedweb.org/CommentAPI/" '
            'xmlns:slash="http://purl.org/rss/1.0/modules/slash/"><channel>'
            f"<title>Kommune {feed}</title>"
            f'<atom:link href="{site}/feed/" rel="self" type="application/rss+xml"/>'
            f"<link>{site}</link><description>Digitalisering i kommune {feed}</description>"
            f"<lastBuildDate>{format_datetime(posts[0].published)}</lastBuildDate>"
            "<language>da-DK</language><sy:updatePeriod>hourly</sy:updatePeriod>"
            "<sy:updateFrequency>1</sy:updateFrequency>"
            "<generator>https://wordpress.org/?v=6.4.2</generator>"
            f"{items}</channel></rss>"
        ).encode(),
        RSS_TYPE,
    )


def rss1(feed: int, posts: Sequence[Post]) -> Rendered:
    """RSS 1.0 (RDF) with the usual modules: dc:language, dc:creator, dc:date, dc:subject,
    content:encoded, sy:* and admin:*."""
    site = _site(feed)
    seq = "".join(f'<rdf:li rdf:resource="{site}/nyt/{p.number}"/>' for p in posts)
    items = "".join(
        f'<item rdf:about="{site}/nyt/{p.number}"><title>{escape(p.title)}</title>'
        f"<link>{site}/nyt/{p.number}</link>"
        f"<description>{escape(p.html[:300])}</description>"
        f"<content:encoded>{_cdata(p.html)}</content:encoded>"
        f"<dc:creator>{escape(p.author)}</dc:creator>"
        f"<dc:date>{p.published.isoformat()}</dc:date>"
        + "".join(f"<dc:subject>{escape(c)}</dc:subject>" for c in p.categories[:1])
        + "</item>"
        for p in posts
    )
    return Rendered(
        (
            '<?xml version="1.0" encoding="utf-8"?><rdf:RDF '
            'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            f'xmlns="http://purl.org/rss/1.0/" {_NS_DC} {_NS_CONTENT} {_NS_SY} '
            'xmlns:admin="http://webns.net/mvcb/">'
            f'<channel rdf:about="{site}/"><title>Kommune {feed} – RDF</title>'
            f"<link>{site}/</link><description>Nyheder</description>"
            "<dc:language>da</dc:language>"
            f"<dc:date>{posts[0].published.isoformat()}</dc:date>"
            '<admin:generatorAgent rdf:resource="http://www.movabletype.org/?v=3.2"/>'
            "<sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>"
            f"<items><rdf:Seq>{seq}</rdf:Seq></items></channel>{items}</rdf:RDF>"
        ).encode(),
        "application/rdf+xml; charset=utf-8",
    )


def atom_xhtml(feed: int, posts: Sequence[Post]) -> Rendered:
    """Hand-written or static-site Atom: xhtml content and summary, xml:base with relative
    links, several links and authors, categories, and a source on reposted entries."""
    site = _site(feed)

    def entry(p: Post) -> str:
        authors = "".join(
            f"<author><name>{escape(name)}</name></author>"
            for name in (p.author, "Redaktionen")[: 1 + p.number % 2]
        )
        source = (
            f"<source><id>{site}/andet/</id><title>Partnerblog</title>"
            f'<link rel="alternate" href="https://partner.example.dk/"/>'
            f"<updated>{p.published.isoformat()}</updated></source>"
            if p.number % 5 == 0
            else ""
        )
        return (
            f"<entry><id>tag:kommune{feed}.example.dk,2026:{p.number}</id>"
            f"<title>{escape(p.title)}</title>"
            f'<link rel="alternate" type="text/html" href="nyt/{p.number}.html"/>'
            f'<link rel="replies" type="text/html" href="nyt/{p.number}.html#kommentarer"/>'
            f"<published>{p.published.isoformat()}</published>"
            f"<updated>{p.published.isoformat()}</updated>{authors}"
            + "".join(f"<category term={quoteattr(c)}/>" for c in p.categories)
            + '<summary type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
            f"{p.html.split('</p>', 1)[0]}</p></div></summary>"
            '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
            f"{p.html}</div></content>{source}</entry>"
        )

    return Rendered(
        (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
            f'xml:lang="da" xml:base="{site}/blog/"><id>{site}/blog/</id>'
            f"<title>Kommune {feed} – blog</title>"
            '<link rel="alternate" type="text/html" href="./"/>'
            '<link rel="self" type="application/atom+xml" href="atom.xml"/>'
            f"<updated>{posts[0].published.isoformat()}</updated>"
            f"{''.join(entry(p) for p in posts)}</feed>"
        ).encode(),
        ATOM_TYPE,
    )


def blogger(feed: int, posts: Sequence[Post]) -> Rendered:
    """Blogger's Atom: html content, openSearch and thr:total, media:thumbnail, several
    links per entry and categories with a scheme."""
    site = f"https://kommune{feed}.blogspot.com"
    items = "".join(
        f"<entry><id>tag:blogger.com,1999:blog-{feed}.post-{p.number}</id>"
        f"<published>{p.published.isoformat()}</published>"
        f"<updated>{p.published.isoformat()}</updated>"
        + "".join(
            f'<category scheme="http://www.blogger.com/atom/ns#" term={quoteattr(c)}/>'
            for c in p.categories
        )
        + f'<title type="text">{escape(p.title)}</title>'
        f'<content type="html">{escape(p.html)}</content>'
        f'<link rel="replies" type="application/atom+xml" href="{site}/feeds/{p.number}/comments/default" title="Kommentarer til opslaget"/>'  # noqa: E501
        f'<link rel="alternate" type="text/html" href="{site}/2026/11/{p.number}.html" title={quoteattr(p.title)}/>'  # noqa: E501
        f"<author><name>{escape(p.author)}</name><uri>https://www.blogger.com/profile/{feed}</uri>"
        "<email>noreply@blogger.com</email></author>"
        f'<media:thumbnail url="https://blogger.googleusercontent.com/{feed}/{p.number}.jpg" height="72" width="72"/>'  # noqa: E501
        f"<thr:total>{p.number % 3}</thr:total></entry>"
        for p in posts
    )
    return Rendered(
        (
            "<?xml version='1.0' encoding='UTF-8'?><feed xmlns='http://www.w3.org/2005/Atom' "
            "xmlns:openSearch='http://a9.com/-/spec/opensearchrss/1.0/' "
            f"{_NS_MEDIA} xmlns:thr='http://purl.org/syndication/thread/1.0'>"
            f"<id>tag:blogger.com,1999:blog-{feed}</id>"
            f"<updated>{posts[0].published.isoformat()}</updated>"
            f"<title type='text'>Kommune {feed} blogger</title><subtitle type='html'></subtitle>"
            f"<link rel='alternate' type='text/html' href='{site}/'/>"
            f"<author><name>Kommune {feed}</name></author><generator version='7.00' "
            "uri='http://www.blogger.com'>Blogger</generator>"
            f"<openSearch:totalResults>{len(posts)}</openSearch:totalResults>"
            f"<openSearch:startIndex>1</openSearch:startIndex>{items}</feed>"
        ).encode(),
        ATOM_TYPE,
    )


def podcast(feed: int, posts: Sequence[Post]) -> Rendered:
    """A podcast: iTunes tags on channel and items, an audio enclosure each, a transcript
    link and media:content; dc:creator instead of author."""
    site = _site(feed)
    items = "".join(
        f"<item><title>{escape(p.title)}</title><link>{site}/podcast/{p.number}</link>"
        f'<guid isPermaLink="false">podcast-{feed}-{p.number}</guid>'
        f"<pubDate>{format_datetime(p.published)}</pubDate>"
        f"<dc:creator>{escape(p.author)}</dc:creator>"
        f"<description>{_cdata(p.html)}</description>"
        f'<enclosure url="{site}/lyd/{p.number}.mp3" length="{31_000_000 + p.number}" '
        'type="audio/mpeg"/>'
        f"<itunes:title>{escape(p.title)}</itunes:title>"
        f"<itunes:duration>00:{20 + p.number % 40}:13</itunes:duration>"
        f"<itunes:episode>{p.number + 1}</itunes:episode><itunes:explicit>false</itunes:explicit>"
        f"<itunes:summary>{escape(p.html[:200])}</itunes:summary>"
        f'<media:content url="{site}/lyd/{p.number}.mp3" type="audio/mpeg"/></item>'
        for p in posts
    )
    return Rendered(
        (
            f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" {_NS_ITUNES} '
            f"{_NS_MEDIA} {_NS_DC} {_NS_ATOM}><channel><title>Digital podcast {feed}</title>"
            f"<link>{site}/podcast</link><language>da</language>"
            f"<description>Samtaler om digitalisering</description>"
            f'<atom:link href="{site}/podcast.xml" rel="self" type="application/rss+xml"/>'
            f"<itunes:author>Kommune {feed}</itunes:author>"
            f'<itunes:image href="{site}/podcast.jpg"/>'
            '<itunes:category text="Government"/><itunes:explicit>false</itunes:explicit>'
            f"<itunes:owner><itunes:name>Kommune {feed}</itunes:name>"
            f"<itunes:email>podcast@kommune{feed}.example.dk</itunes:email></itunes:owner>"
            f"{items}</channel></rss>"
        ).encode(),
        RSS_TYPE,
    )


def youtube(feed: int, posts: Sequence[Post]) -> Rendered:
    """A YouTube channel's Atom: yt:videoId and a media:group holding the description."""
    items = "".join(
        f"<entry><id>yt:video:v{feed}x{p.number}</id><yt:videoId>v{feed}x{p.number}</yt:videoId>"
        f"<yt:channelId>UC{feed}</yt:channelId><title>{escape(p.title)}</title>"
        f'<link rel="alternate" href="https://www.youtube.com/watch?v=v{feed}x{p.number}"/>'
        f"<author><name>Kommune {feed}</name>"
        f"<uri>https://www.youtube.com/channel/UC{feed}</uri></author>"
        f"<published>{p.published.isoformat()}</published>"
        f"<updated>{p.published.isoformat()}</updated>"
        f"<media:group><media:title>{escape(p.title)}</media:title>"
        f'<media:content url="https://www.youtube.com/v/v{feed}x{p.number}?version=3" '
        'type="application/x-shockwave-flash" width="640" height="390"/>'
        f'<media:thumbnail url="https://i.ytimg.com/vi/v{feed}x{p.number}/hqdefault.jpg" '
        'width="480" height="360"/>'
        f"<media:description>{escape(p.html[:600])}</media:description>"
        '<media:community><media:starRating count="3" average="5.00" min="1" max="5"/>'
        '<media:statistics views="120"/></media:community></media:group></entry>'
        for p in posts
    )
    return Rendered(
        (
            '<?xml version="1.0" encoding="UTF-8"?><feed '
            'xmlns:yt="http://www.youtube.com/xml/schemas/2015" '
            f'{_NS_MEDIA} xmlns="http://www.w3.org/2005/Atom">'
            f'<link rel="self" href="https://www.youtube.com/feeds/videos.xml?channel_id=UC{feed}"/>'
            f"<id>yt:channel:UC{feed}</id><yt:channelId>UC{feed}</yt:channelId>"
            f"<title>Kommune {feed}</title>"
            f'<link rel="alternate" href="https://www.youtube.com/channel/UC{feed}"/>'
            f"<author><name>Kommune {feed}</name>"
            f"<uri>https://www.youtube.com/channel/UC{feed}</uri></author>"
            f"<published>{posts[-1].published.isoformat()}</published>{items}</feed>"
        ).encode(),
        ATOM_TYPE,
    )


def ghost(feed: int, posts: Sequence[Post]) -> Rendered:
    """Ghost: CDATA everywhere, media:content for the feature image, dc:creator."""
    site = f"https://blog.kommune{feed}.example.dk"
    items = "".join(
        f"<item><title>{_cdata(p.title)}</title>"
        f"<description>{_cdata(p.html[:280])}</description>"
        f"<link>{site}/{p.number}-opslag/</link>"
        f'<guid isPermaLink="false">65{feed:06d}{p.number:04d}</guid>'
        + "".join(f"<category>{_cdata(c)}</category>" for c in p.categories)
        + f"<dc:creator>{_cdata(p.author)}</dc:creator>"
        f"<pubDate>{format_datetime(p.published)}</pubDate>"
        f'<media:content url="{site}/content/images/{p.number}.png" medium="image"/>'
        f"<content:encoded>{_cdata(p.html)}</content:encoded></item>"
        for p in posts
    )
    return Rendered(
        (
            f'<?xml version="1.0" encoding="UTF-8"?><rss {_NS_DC} {_NS_CONTENT} {_NS_ATOM} '
            f'version="2.0" {_NS_MEDIA}><channel><title>{_cdata(f"Kommune {feed}")}</title>'
            f"<description>{_cdata('Tanker om digitalisering')}</description>"
            f"<link>{site}/</link><image><url>{site}/favicon.png</url>"
            f"<title>Kommune {feed}</title><link>{site}/</link></image>"
            "<generator>Ghost 5.75</generator>"
            f"<lastBuildDate>{format_datetime(posts[0].published)}</lastBuildDate>"
            f'<atom:link href="{site}/rss/" rel="self" type="application/rss+xml"/>'
            "<ttl>60</ttl>"
            f"{items}</channel></rss>"
        ).encode(),
        RSS_TYPE,
    )


def substack(feed: int, posts: Sequence[Post]) -> Rendered:
    """Substack: an image enclosure per post, content:encoded, dc:creator, and a channel
    image and copyright."""
    site = f"https://kommune{feed}.substack.com"
    items = "".join(
        f"<item><title>{_cdata(p.title)}</title>"
        f"<description>{_cdata(p.html[:160])}</description>"
        f"<link>{site}/p/opslag-{p.number}</link>"
        f'<guid isPermaLink="false">{site}/p/opslag-{p.number}</guid>'
        f"<dc:creator>{_cdata(p.author)}</dc:creator>"
        f"<pubDate>{format_datetime(p.published)}</pubDate>"
        f'<enclosure url="https://substackcdn.com/image/{feed}/{p.number}.jpeg" length="0" '
        'type="image/jpeg"/>'
        f"<content:encoded>{_cdata(p.html)}</content:encoded></item>"
        for p in posts
    )
    return Rendered(
        (
            f'<?xml version="1.0" encoding="UTF-8"?><rss {_NS_DC} {_NS_CONTENT} {_NS_ATOM} '
            f'version="2.0"><channel><title>{_cdata(f"Nyt fra kommune {feed}")}</title>'
            f"<description>{_cdata('Et nyhedsbrev')}</description><link>{site}</link>"
            f"<image><url>https://substackcdn.com/image/{feed}.png</url>"
            f"<title>Nyt fra kommune {feed}</title><link>{site}</link></image>"
            "<generator>Substack</generator>"
            f"<lastBuildDate>{format_datetime(posts[0].published)}</lastBuildDate>"
            f'<atom:link href="{site}/feed" rel="self" type="application/rss+xml"/>'
            f"<copyright>{_cdata(f'Kommune {feed}')}</copyright><language>{_cdata('da')}</language>"
            f"{items}</channel></rss>"
        ).encode(),
        RSS_TYPE,
    )


def drupal(feed: int, posts: Sequence[Post]) -> Rendered:
    """Drupal: xml:base on the root, escaped HTML descriptions, dc:creator, a guid that is
    not a link ("123 at https://...")."""
    site = _site(feed)
    items = "".join(
        f"<item><title>{escape(p.title)}</title><link>{site}/nyheder/{p.number}</link>"
        f"<description>{escape(p.html)}</description>"
        f"<pubDate>{format_datetime(p.published)}</pubDate>"
        f"<dc:creator>{escape(p.author)}</dc:creator>"
        f'<guid isPermaLink="false">{p.number} at {site}</guid></item>'
        for p in posts
    )
    return Rendered(
        (
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" xml:base="{site}/" '
            f"{_NS_DC} {_NS_ATOM}><channel><title>Kommune {feed} nyheder</title>"
            f"<link>{site}/</link><description></description><language>da</language>"
            f'<atom:link href="{site}/rss.xml" rel="self" type="application/rss+xml"/>'
            f"{items}</channel></rss>"
        ).encode(),
        RSS_TYPE,
    )


def odoo(feed: int, posts: Sequence[Post]) -> Rendered:
    """Odoo's website blog: Atom with html content, a summary and one author each."""
    site = _site(feed)
    items = "".join(
        f"<entry><title>{escape(p.title)}</title>"
        f'<link href="{site}/blog/nyheder-1/opslag-{p.number}"/>'
        f"<id>{site}/blog/nyheder-1/opslag-{p.number}</id>"
        f"<author><name>{escape(p.author)}</name></author>"
        f"<summary>{escape(p.html[:200])}</summary>"
        f"<updated>{p.published.isoformat()}</updated>"
        f'<content type="html">{escape(p.html)}</content></entry>'
        for p in posts
    )
    return Rendered(
        (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f'<title>Kommune {feed} blog</title><link href="{site}/blog/nyheder-1"/>'
            f"<id>{site}/blog/nyheder-1</id>"
            f"<updated>{posts[0].published.isoformat()}</updated>{items}</feed>"
        ).encode(),
        ATOM_TYPE,
    )


def _legacy(feed: int, posts: Sequence[Post], encoding: str) -> Rendered:
    """An older RSS 2.0 feed in a single-byte encoding, declared in the document and in the
    HTTP header; typographic quotes and dashes where windows-1252 has them."""
    site = _site(feed)
    dressed = encoding == "windows-1252"
    items = "".join(
        f"<item><title>{escape(_quoted(p.title, dressed))}</title>"
        f"<link>{site}/nyhed.asp?id={p.number}</link>"
        f"<description>{escape(_quoted(p.html, dressed))}</description>"
        f"<pubDate>{format_datetime(p.published)}</pubDate>"
        f"<guid>{site}/nyhed.asp?id={p.number}</guid>"
        f"<author>post@kommune{feed}.example.dk ({escape(p.author)})</author></item>"
        for p in posts
    )
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel>'
        f"<title>Kommune {feed} – nyheder</title><link>{site}/</link>"
        f"<description>Nyheder fra kommunen</description><language>da</language>"
        f"{items}</channel></rss>"
    )
    return Rendered(
        text.encode(encoding, "xmlcharrefreplace"),
        f"application/rss+xml; charset={encoding}",
    )


def _quoted(text: str, dressed: bool) -> str:
    return text.replace(" - ", " – ").replace("Læs", "„Læs“") if dressed else text


def latin1(feed: int, posts: Sequence[Post]) -> Rendered:
    return _legacy(feed, posts, "iso-8859-1")


def cp1252(feed: int, posts: Sequence[Post]) -> Rendered:
    return _legacy(feed, posts, "windows-1252")


# shape -> percent of the corpus; the sum is 100.
SHAPES: dict[str, tuple[Shape, int]] = {
    "wordpress": (wordpress, 25),
    "rss1": (rss1, 10),
    "atom_xhtml": (atom_xhtml, 10),
    "blogger": (blogger, 8),
    "podcast": (podcast, 6),
    "youtube": (youtube, 5),
    "ghost": (ghost, 7),
    "substack": (substack, 7),
    "drupal": (drupal, 8),
    "odoo": (odoo, 6),
    "latin1": (latin1, 4),
    "cp1252": (cp1252, 4),
}
assert sum(share for _, share in SHAPES.values()) == 100
