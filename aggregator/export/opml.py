"""OPML 2.0 list of the sources (``sources.opml``), so a reader can subscribe to them all.

Tags go in ``category`` as OPML 2.0 writes them: comma-separated, each a slash-led path.
``dateModified`` is the newest entry's time, not the clock, so an unchanged export is
byte-identical."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from aggregator.clean import xml_text
from aggregator.export.dates import rfc822
from aggregator.export.view import Site


def render_opml(site: Site) -> bytes:
    opml = ET.Element("opml", version="2.0")
    head = ET.SubElement(opml, "head")
    ET.SubElement(head, "title").text = xml_text(site.title)
    ET.SubElement(head, "dateModified").text = rfc822(site.updated)
    ET.SubElement(head, "docs").text = "https://opml.org/spec2.opml"
    body = ET.SubElement(opml, "body")
    for source in site.sources:
        attrs = {
            "type": "rss",
            "text": xml_text(source.display_name),
            "title": xml_text(source.display_name),
            "xmlUrl": source.feed_url,
        }
        if source.site_url:
            attrs["htmlUrl"] = source.site_url
        if source.tags:
            attrs["category"] = ",".join("/" + t.name.replace(",", " ") for t in source.tags)
        ET.SubElement(body, "outline", attrs)
    ET.indent(opml)
    document: bytes = ET.tostring(opml, encoding="utf-8", xml_declaration=True)
    return document + b"\n"
