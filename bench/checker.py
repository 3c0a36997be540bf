"""Backlink-check throughput: our engine (SSRF-guarded aiohttp fetcher + lxml analysis +
domain rules) against a baseline of aiohttp + BeautifulSoup(`html.parser`) doing the same
reading (links to the domain, rel, anchor, robots meta, canonical, mention), at the same
concurrency, in the same run, over the same 500 local pages (mixed sizes, 10% redirects)
served by a separate process.

Then the event loop's responsiveness: one check of 25 URLs of 5 MB pages (the largest the
fetcher reads) through the check service, as the web process runs it, while a probe
measures how late the loop wakes it (the worst stall any other request would see).

    python bench/checker.py [--pages 500] [--concurrency 25] [--rounds 5] [--big-rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import multiprocessing
import os
import random
import re
import socket
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urljoin, urlsplit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import aiohttp
from aiohttp import web
from bs4 import BeautifulSoup

from adapters import parsing_pool
from adapters.clock import SystemClock
from adapters.fetcher import MAX_BODY, Fetcher
from adapters.hostnames import HostNameRules
from adapters.page_inspector import FetchingPageInspector
from adapters.ssrf import AddressPolicy
from domain.backlink_evidence import judge
from domain.ports import CheckPorts
from domain.services.check_backlinks import MAX_URLS, check_backlinks

DOMAIN = "example.com"
# sizes of real directory listing pages vary a lot: mostly small, some big
SIZES = [(0.5, 15_000), (0.3, 60_000), (0.15, 200_000), (0.05, 600_000)]
#: the big pages: just under the fetcher's limit (a page overshoots by one entry)
BIG = MAX_BODY - 2_000


def make_page(i: int, size: int, rng: random.Random) -> bytes:
    head = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>Listing {i}</title>'
        f'<meta name="robots" content="index, follow">'
        f'<link rel="canonical" href="/p/{i}"><link rel="stylesheet" href="/s.css">'
        f"<style>body{{font:14px sans-serif}} .x{{color:red}}</style></head><body>"
    )
    parts = [head, "<nav><ul>"]
    parts += [f'<li><a href="/cat/{k}">Category {k}</a></li>' for k in range(20)]
    parts.append("</ul></nav><main>")
    n = 0
    length = sum(map(len, parts))
    while length < size:
        n += 1
        host = rng.choice(["dir.example.net", "another.example.org", f"site-{n}.test"])
        rel = rng.choice(["", "nofollow", "ugc"])
        parts.append(
            f'<div class="entry"><h3><a href="https://{host}/l/{n}" rel="{rel}">'
            f"Entry {n} &amp; friends</a></h3><p>Lorem ipsum dolor sit amet, consectetur "
            f"adipiscing elit, sed do eiusmod tempor incididunt ut labore <b>et dolore</b> magna "
            f"aliqua. Contact: info@{host}</p><!-- entry {n} --></div>"
        )
        if n == 7:
            parts.append(
                f'<div class="entry"><a href="https://www.{DOMAIN}/" rel="nofollow">Example</a>'
                f"<p>Visit www.{DOMAIN} for more.</p></div>"
            )
            length += len(parts[-2])
        length += len(parts[-1])
    parts.append("<script>var x = 1;</script></main></body></html>")
    return "".join(parts).encode()


def pick_size(rng: random.Random) -> int:
    r, acc = rng.random(), 0.0
    for share, size in SIZES:
        acc += share
        if r <= acc:
            return size
    return SIZES[-1][1]


def serve(port: int, pages: int, ready: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    rng = random.Random(7)
    bodies: dict[str, bytes] = {}
    for i in range(pages):
        bodies[f"/p/{i}"] = make_page(i, pick_size(rng), rng)
    for i in range(MAX_URLS):
        bodies[f"/big/{i}"] = make_page(i, BIG, rng)

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        if request.path.startswith("/r/"):
            return web.Response(status=301, headers={"Location": "/p/" + request.path[3:]})
        body = bodies.get(request.path)
        if body is None:
            return web.Response(status=404)
        return web.Response(body=body, content_type="text/html", charset="utf-8")

    async def main() -> None:
        runner = web.ServerRunner(web.Server(handler), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


def urls_for(port: int, pages: int) -> list[str]:
    # every tenth page is reached through a redirect
    return [f"http://127.0.0.1:{port}/{'r' if i % 10 == 0 else 'p'}/{i}" for i in range(pages)]


# --- the two engines ------------------------------------------------------------------------


async def run_ours(urls: list[str], concurrency: int) -> int:
    fetcher = Fetcher(AddressPolicy([ipaddress.ip_network("127.0.0.0/8")]))
    inspector = FetchingPageInspector(fetcher)
    clock = SystemClock()
    gate = asyncio.Semaphore(concurrency)
    found = 0

    async def one(url: str) -> None:
        nonlocal found
        async with gate:
            result = judge(await inspector.inspect(url), DOMAIN, clock.now())
        found += result.has_link

    try:
        await asyncio.gather(*(one(u) for u in urls))
    finally:
        await fetcher.close()
    return found


_TOKEN = re.compile(r"(?:[^\W_]|[.\-])+")


def bs4_read(html: str, page_url: str) -> dict[str, object]:
    """The same facts with BeautifulSoup, as a careful baseline would read them."""
    soup = BeautifulSoup(html, "html.parser")
    base_tag = soup.find("base", href=True)
    base = urljoin(page_url, base_tag["href"]) if base_tag else page_url
    chosen = None
    for a in soup.find_all(["a", "area"], href=True):
        href = a["href"].strip()
        if href.lower().startswith(("javascript:", "mailto:")):
            continue
        url = urljoin(base, href)
        host = (urlsplit(url).hostname or "").rstrip(".")
        if host == DOMAIN or host.endswith("." + DOMAIN):
            rel = a.get("rel") or []
            text = " ".join(a.get_text().split())
            followed = not {"nofollow", "ugc", "sponsored"} & {r.lower() for r in rel}
            if chosen is None or (followed and not chosen[2]):
                chosen = (url, text, followed)
                if followed:
                    break
    robots = [
        m.get("content", "")
        for m in soup.find_all("meta")
        if (m.get("name") or "").lower() in ("robots", "googlebot")
    ]
    canonical = None
    for link in soup.find_all("link", href=True):
        if "canonical" in [r.lower() for r in link.get("rel") or []]:
            canonical = urljoin(base, link["href"])
            break
    for tag in soup(["script", "style"]):
        tag.decompose()
    text = soup.get_text(" ") + " ".join(
        str(v) for t in soup.find_all(True) for v in t.attrs.values()
    )
    mentioned = any(
        t.rstrip(".").lower() == DOMAIN or t.rstrip(".").lower().endswith("." + DOMAIN)
        for t in _TOKEN.findall(text)
    )
    return {"link": chosen, "robots": robots, "canonical": canonical, "mention": mentioned}


async def run_baseline(urls: list[str], concurrency: int) -> int:
    gate = asyncio.Semaphore(concurrency)
    found = 0
    async with aiohttp.ClientSession(
        headers={"User-Agent": "baseline"}, connector=aiohttp.TCPConnector(limit=100)
    ) as session:

        async def one(url: str) -> None:
            nonlocal found
            async with gate:
                async with session.get(url, max_redirects=10) as response:
                    html = await response.text()
                    final = str(response.url)
                facts = bs4_read(html, final)
            found += facts["link"] is not None

        await asyncio.gather(*(one(u) for u in urls))
    return found


def cpu_seconds(exclude: set[int]) -> float:
    """CPU time used so far by this process and its descendants (the parsing processes,
    which are children of the forkserver), less the processes in `exclude` (the page
    server) and theirs. Linux /proc; elsewhere this process alone."""
    own = time.process_time()
    try:
        tick = os.sysconf("SC_CLK_TCK")
        stats = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                # after "pid (comm)": state, ppid, ... utime (12th), stime (13th)
                stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    except OSError:
        return own
    mine = {os.getpid()}
    grew = True
    while grew:
        grew = False
        for pid, (ppid, _) in stats.items():
            if ppid in mine and pid not in mine and pid not in exclude:
                mine.add(pid)
                grew = True
    return own + sum(stats[pid][1] for pid in mine - {os.getpid()})


async def timed(
    name: str,
    fn: Callable[[list[str], int], Awaitable[int]],
    urls: list[str],
    concurrency: int,
    exclude: set[int],
) -> tuple[float, float]:
    """(pages/s, CPU seconds per page)"""
    cpu = cpu_seconds(exclude)
    started = time.perf_counter()
    found = await fn(urls, concurrency)
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(exclude) - cpu
    assert found == len(urls), f"{name}: found {found} links on {len(urls)} pages"
    rate = len(urls) / elapsed
    # CPU used against wall time tells a slower program (more CPU per page) from a busy
    # machine (the same CPU per page, spread over a longer wait for the cores)
    print(
        f"  {name:<28} {elapsed:6.2f} s  {rate:8.1f} pages/s   "
        f"CPU {cpu:6.2f} s ({1000 * cpu / len(urls):5.1f} ms/page, "
        f"{cpu / elapsed:4.2f} cores)"
    )
    return rate, cpu / len(urls)


# --- the event loop during a check of 25 big pages -------------------------------------------

PROBE = 0.005


async def idle_stall(seconds: float) -> float:
    """The worst lateness of the same probe with nothing else to do: the machine's own
    noise, to read the figure below against."""
    worst = 0.0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        started = time.perf_counter()
        await asyncio.sleep(PROBE)
        worst = max(worst, time.perf_counter() - started - PROBE)
    return worst


async def worst_stall(port: int) -> tuple[float, float]:
    """(seconds the check took, worst lateness of a 5 ms timer during it)."""
    fetcher = Fetcher(AddressPolicy([ipaddress.ip_network("127.0.0.0/8")]))
    inspector = FetchingPageInspector(fetcher)
    urls = [f"http://127.0.0.1:{port}/big/{i}" for i in range(MAX_URLS)]
    worst = 0.0
    done = asyncio.Event()

    async def probe() -> None:
        nonlocal worst
        while not done.is_set():
            started = time.perf_counter()
            await asyncio.sleep(PROBE)
            worst = max(worst, time.perf_counter() - started - PROBE)

    parsing_pool.warm()  # as `backlynk serve` does before serving (the probe is not yet on)
    watcher = asyncio.create_task(probe())
    await asyncio.sleep(PROBE * 2)  # the probe is running before the check starts
    started = time.perf_counter()
    try:
        ports = CheckPorts(inspector, HostNameRules(), SystemClock())
        report = await check_backlinks(ports, DOMAIN, urls)
    finally:
        elapsed = time.perf_counter() - started
        done.set()
        await watcher
        await fetcher.close()
    errors = {r.error.code for r in report.results if r.error}
    assert report.summary.with_link == len(urls), (report.summary, errors)
    return elapsed, worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--big-rounds", type=int, default=3)
    args = parser.parse_args()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(port, args.pages, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(60):
            raise SystemExit("the page server did not start")
        urls = urls_for(port, args.pages)
        serving = {server.pid} if server.pid is not None else set()
        print(
            f"backlink check: {args.pages} pages (10% via a redirect), "
            f"concurrency {args.concurrency}, {args.rounds} rounds (each: baseline, then ours)"
        )
        # the parsing processes start before the first round, as `backlynk serve` and
        # `backlynk worker` start them before serving
        parsing_pool.warm()
        ratios, cpu_ratios, ours_rates, base_rates = [], [], [], []
        for round_no in range(1, args.rounds + 1):
            print(f"round {round_no}")
            base, base_cpu = asyncio.run(
                timed("aiohttp + bs4 html.parser", run_baseline, urls, args.concurrency, serving)
            )
            ours, ours_cpu = asyncio.run(
                timed("backlynk engine", run_ours, urls, args.concurrency, serving)
            )
            base_rates.append(base)
            ours_rates.append(ours)
            ratios.append(ours / base)
            cpu_ratios.append(base_cpu / ours_cpu)
        print(
            f"backlynk median {statistics.median(ours_rates):.1f} pages/s, baseline median "
            f"{statistics.median(base_rates):.1f} pages/s; ratio per round: median "
            f"{statistics.median(ratios):.2f}x (min {min(ratios):.2f}, max {max(ratios):.2f})"
        )
        print(
            f"CPU per page, baseline over ours, per round: median "
            f"{statistics.median(cpu_ratios):.2f}x (min {min(cpu_ratios):.2f}, "
            f"max {max(cpu_ratios):.2f})"
        )
        if args.big_rounds < 1:
            return
        mb = BIG / 1e6
        print(f"event loop during one check of {MAX_URLS} pages of {mb:.1f} MB (5 ms probe)")
        idle = asyncio.run(idle_stall(3.0))
        print(f"  idle loop, same probe, 3 s: worst stall {idle * 1e3:6.1f} ms")
        stalls = []
        for round_no in range(1, args.big_rounds + 1):
            elapsed, worst = asyncio.run(worst_stall(port))
            stalls.append(worst)
            print(f"  round {round_no}: check {elapsed:6.2f} s, worst stall {worst * 1e3:6.1f} ms")
        stalls.sort()
        print(
            f"worst loop stall: median {statistics.median(stalls) * 1e3:.1f} ms "
            f"(min {stalls[0] * 1e3:.1f}, max {stalls[-1] * 1e3:.1f}) over {len(stalls)} checks"
        )
    finally:
        server.terminate()
        server.join(5)


if __name__ == "__main__":
    main()
