"""`domain.ports.PageInspector` over the fetcher and the lxml analysis: fetch one URL,
read the facts of the page where it ended."""

from __future__ import annotations

import asyncio

from adapters import page_analysis
from adapters.fetcher import MAX_REDIRECTS, Fetcher, FetchResult
from domain.backlink_evidence import CheckError, Hop, Inspection

#: above this size the HTML is parsed in a worker thread, so a big page does not stall
#: every other request of the process (lxml releases the GIL while parsing)
THREAD_PARSE_BYTES = 512 * 1024


class FetchingPageInspector:
    def __init__(self, fetcher: Fetcher):
        self.fetcher = fetcher

    async def inspect(self, url: str, *, max_redirects: int = MAX_REDIRECTS) -> Inspection:
        fetched = await self.fetcher.fetch(url, max_redirects=max_redirects)
        inspection = Inspection(
            url=url,
            final_url=fetched.final_url,
            redirect_chain=[Hop(h.url, h.status) for h in fetched.chain],
            http_status=fetched.status,
            error=CheckError(fetched.error, fetched.error_details or fetched.error)
            if fetched.error
            else None,
        )
        if fetched.headers is not None:
            inspection.header_robots = fetched.headers.getall("X-Robots-Tag", [])
            inspection.canonical_header = page_analysis.header_canonical(
                fetched.headers.getall("Link", []), fetched.final_url
            )
        if fetched.ok and fetched.is_html:
            facts = await _analyse(fetched)
            inspection.html = True
            inspection.links = facts.links
            inspection.mentions = facts.mentions
            inspection.meta_robots = facts.meta_robots
            inspection.canonical_tag = facts.canonical
        return inspection


async def _analyse(fetched: FetchResult) -> page_analysis.HtmlFacts:
    if len(fetched.body) > THREAD_PARSE_BYTES:
        return await asyncio.to_thread(page_analysis.analyse_html, fetched.text, fetched.final_url)
    return page_analysis.analyse_html(fetched.text, fetched.final_url)
