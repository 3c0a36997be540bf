"""`domain.ports.PageInspector` over the fetcher and the lxml analysis: fetch one URL,
read the facts of the page where it ended.

Everything in the `Inspection` that the page's server chose (URLs it redirected to, its
headers, its links, texts and metas) leaves this module cleaned by `adapters.untrusted`:
it may become an event, a read-model row and an API answer."""

from __future__ import annotations

from adapters import page_analysis, parsing_pool, untrusted
from adapters.fetcher import MAX_REDIRECTS, Fetcher, FetchResult
from domain.backlink_evidence import CheckError, Hop, Inspection


class FetchingPageInspector:
    def __init__(self, fetcher: Fetcher):
        self.fetcher = fetcher

    async def inspect(self, url: str, *, max_redirects: int = MAX_REDIRECTS) -> Inspection:
        fetched = await self.fetcher.fetch(url, max_redirects=max_redirects)
        inspection = Inspection(
            url=untrusted.url(url),
            final_url=untrusted.url(fetched.final_url),
            redirect_chain=[Hop(untrusted.url(h.url), h.status) for h in fetched.chain],
            http_status=fetched.status,
            error=CheckError(fetched.error, untrusted.text(fetched.error_details or fetched.error))
            if fetched.error
            else None,
        )
        if fetched.headers is not None:
            inspection.header_robots = [
                untrusted.text(v)
                for v in fetched.headers.getall("X-Robots-Tag", [])[: untrusted.MAX_VALUES]
            ]
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
    """The page's facts; a big page is decoded and analysed in a worker process."""
    if parsing_pool.is_big(len(fetched.body)):
        packed = await parsing_pool.run(
            page_analysis.analyse_body, fetched.body, fetched.content_type, fetched.final_url
        )
        return await page_analysis.read_facts(packed)
    return page_analysis.analyse_html(fetched.text, fetched.final_url)
