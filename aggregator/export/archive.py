"""The monthly archives, cut into pages of ARCHIVE_PAGE_SIZE posts, oldest first.

A month's posts grow with the feeds (a million a month at 100,000 feeds), so no file holds
a whole month: page 1 (``archive/2026-11.atom``, ``archive/2026-11/``) is the month's entry
point, pages 2, 3, … follow (``archive/2026-11/2.atom``, ``archive/2026-11/2/``). Oldest
first, so a full page keeps its posts and its URL while the month goes on; the pages are
chained by RFC 5005 ``prev-archive``/``next-archive`` across months, and by rel=prev/next
in the HTML. A page is read from the store and rendered on its own, so an export holds one
page in memory whatever the month's size. Which pages to render again is decided from each
post's change mark (``Store.changes_published_between``), streamed, never the posts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo

from aggregator.export.view import ARCHIVE_PAGE_SIZE, ArchiveLinks, ArchivePage, Month
from aggregator.store import Store


@dataclass(frozen=True, slots=True)
class PagePlan:
    page: ArchivePage
    after: tuple[datetime, str] | None  # the last post of the page before, to read from
    posts: int
    marks: str  # a digest of the page's posts' change marks
    # The page's own last post, to read up to; None for the month's last page. A page is read
    # by its planned range, not as "the next N posts": a post stored between the plan and the
    # read then lands on the page whose range holds it, never on none.
    through: tuple[datetime, str] | None = None


def plan_month(store: Store, month: Month, zone: tzinfo,
               scope: Collection[str] | None) -> list[PagePlan]:  # fmt: skip
    """The month's pages; an empty month has one empty page, so its links hold."""
    plans: list[PagePlan] = []
    digest, posts = hashlib.sha256(), 0
    after: tuple[datetime, str] | None = None
    last: tuple[datetime, str] | None = None
    changes = store.changes_published_between(month.start(zone), month.next().start(zone), scope)

    def page(through: tuple[datetime, str] | None = None) -> PagePlan:
        number = len(plans) + 1
        return PagePlan(ArchivePage(month, number), after, posts, digest.hexdigest(), through)

    for published, entry_id, mark in changes:
        digest.update(f"{entry_id}\0{mark}\0".encode())
        posts += 1
        last = (published, entry_id)
        if posts == ARCHIVE_PAGE_SIZE:
            plans.append(page(last))
            digest, posts, after = hashlib.sha256(), 0, last
    if posts or not plans:
        plans.append(page())
    else:  # the last page is the one a post stored after the plan belongs on
        plans[-1] = replace(plans[-1], through=None)
    return plans


def page_count(posts: int) -> int:
    return max(1, -(-posts // ARCHIVE_PAGE_SIZE))


@dataclass(frozen=True, slots=True)
class Archive:
    """Every month's number of pages: what the links between pages depend on."""

    pages: dict[Month, int]

    @property
    def months(self) -> list[Month]:
        return sorted(self.pages)

    def newest(self) -> ArchivePage | None:
        if not self.pages:
            return None
        last = max(self.pages)
        return ArchivePage(last, self.pages[last])

    def all_pages(self, month: Month) -> list[ArchivePage]:
        return [ArchivePage(month, n) for n in range(1, self.pages[month] + 1)]

    def links(self, page: ArchivePage) -> ArchiveLinks:
        month, number = page.month, page.number
        previous: ArchivePage | None = None
        if number > 1:
            previous = ArchivePage(month, number - 1)
        elif month.previous() in self.pages:
            previous = ArchivePage(month.previous(), self.pages[month.previous()])
        following: ArchivePage | None = None
        if number < self.pages[month]:
            following = ArchivePage(month, number + 1)
        elif month.next() in self.pages:
            following = ArchivePage(month.next(), 1)
        return ArchiveLinks(previous=previous, next=following, newest=self.newest())

    def fingerprint(self, common: str, plan: PagePlan) -> str:
        """All a page shows: its posts, its neighbours, the number of pages (told on the
        first). An empty page carries its month's start, so nothing else."""
        links = self.links(plan.page)
        data = [
            common,
            plan.page.key,
            plan.marks,
            links.previous.key if links.previous else "",
            links.next.key if links.next else "",
            self.pages[plan.page.month] if plan.page.number == 1 else 0,
        ]
        return hashlib.sha256("\0".join(map(str, data)).encode()).hexdigest()
