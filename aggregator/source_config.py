"""feeds.yaml keys of an HTML source (``type: html``) -> the frozen HtmlSource the parser reads.

A selector is written as a CSS string (``"h3 a"``; parsel's ``::text`` and ``::attr(href)``
work too), or as a mapping: ``{css: …}`` or ``{xpath: …}``, with ``take: text | html | attr``
and ``attr: NAME``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from aggregator.types import HtmlSource, Selector

FIELD_NAMES = ("title", "link", "date", "summary", "image", "author", "categories")


class SelectorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    css: str | None = None
    xpath: str | None = None
    take: Literal["text", "html", "attr"] | None = None
    attr: str | None = None

    @model_validator(mode="after")
    def _one_query(self) -> SelectorConfig:
        if (self.css is None) == (self.xpath is None):
            raise ValueError("give exactly one of css and xpath")
        if self.take == "attr" and not self.attr:
            raise ValueError("take: attr needs attr: NAME")
        if self.css is not None:
            _check_css(self.css)
        if self.xpath is not None:
            from lxml import etree  # only for a source with XPath selectors

            try:
                etree.XPath(self.xpath)
            except etree.XPathSyntaxError as exc:
                raise ValueError(f"not a valid XPath expression: {exc}") from None
        return self

    def selector(self) -> Selector:
        take = self.take or ("attr" if self.attr else "text")
        return Selector(
            query=self.css if self.css is not None else str(self.xpath),
            xpath=self.xpath is not None,
            take=take,
            attr=self.attr if take == "attr" else None,
        )


def _check_css(query: str) -> None:
    import cssselect

    try:
        cssselect.GenericTranslator().css_to_xpath(query.replace("::text", "").split("::attr")[0])
    except cssselect.SelectorError as exc:
        raise ValueError(f"not a valid CSS selector {query!r}: {exc}") from None


def _shorthand(value: object) -> object:
    return {"css": value} if isinstance(value, str) else value


SelectorValue = Annotated[SelectorConfig, BeforeValidator(_shorthand)]


def to_selector(value: SelectorConfig) -> Selector:
    return value.selector()


class HtmlFields(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    title: SelectorValue | None = None
    link: SelectorValue | None = None
    date: SelectorValue | None = None
    summary: SelectorValue | None = None
    image: SelectorValue | None = None
    author: SelectorValue | None = None
    categories: SelectorValue | None = None  # every match is a category

    def selectors(self) -> tuple[tuple[str, Selector], ...]:
        return tuple(
            (name, to_selector(value))
            for name in FIELD_NAMES
            if (value := getattr(self, name)) is not None
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class HtmlSourceKeys:
    """The keys FeedConfig adds for ``type: html``. A plain frozen dataclass that pydantic
    validates (``validate_keys``), not a model: feeds.yaml may list 100,000 feeds, and a
    model costs about ten times its fields' memory."""

    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(
        extra="forbid", str_strip_whitespace=True
    )

    type: Literal["feed", "html"] = "feed"
    items: SelectorValue | None = None
    fields: HtmlFields | None = None
    follow: bool = False
    follow_limit: Annotated[int, Field(ge=1, le=100)] = 10
    content: SelectorValue | None = None

    def __post_init__(self) -> None:
        self.check_html_keys()

    def check_html_keys(self) -> None:
        if self.type == "html":
            if self.items is None:
                raise ValueError("type: html needs an items selector")
            if self.content is not None and not self.follow:
                raise ValueError("content is read from followed pages: set follow: true")
            return
        present = [key for key in ("items", "fields", "content") if getattr(self, key) is not None]
        if self.follow:
            present.append("follow")
        if present:
            raise ValueError(f"{', '.join(present)}: only for type: html")

    def html_source(self) -> HtmlSource | None:
        if self.type != "html" or self.items is None:
            return None
        return HtmlSource(
            items=to_selector(self.items),
            fields=self.fields.selectors() if self.fields else (),
            follow=self.follow,
            follow_limit=self.follow_limit,
            content=to_selector(self.content) if self.content is not None else None,
        )
