"""The page framework (`api.html`, `api.charts`, `api/templates/`, `api/static/`): what
every server-rendered page relies on — escaping, strict templates, same-origin static
files under the pages' Content-Security-Policy, and charts that are safe inline SVG."""

from __future__ import annotations

import re

import jinja2
import pytest
from lxml import etree
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from api import charts, html
from api.content_security import inline_hashes
from tests.conftest import LiveServer

HOSTILE = '<script>alert("x")</script>&"\''


def _svg(markup: str) -> etree._Element:
    return etree.fromstring(markup.encode())


def test_axis_top_gives_four_round_steps():
    tops = [charts.axis_top(v) for v in (0, 3, 4, 5, 7, 12, 39, 150, 4000)]
    assert tops == [4, 4, 4, 8, 8, 20, 40, 200, 4000]


@pytest.mark.parametrize("draw", [charts.bar_chart, charts.line_chart])
def test_charts_are_wellformed_svg_with_one_mark_per_point(draw):
    points = [(f"2026-{m:02}", float(v)) for m, v in enumerate([3, 0, 12, 7, 7, 1, 40], 1)]
    svg = _svg(str(draw(points, title="Live backlinks")))
    ns = {"s": "http://www.w3.org/2000/svg"}
    marks = svg.findall("s:rect", ns) + svg.findall("s:circle", ns)
    assert len(marks) == len(points)
    assert svg.get("role") == "img" and svg.get("aria-label") == "Live backlinks"
    # each mark names its point; the axis top is 40 (four steps of 10)
    assert [m.find("s:title", ns).text for m in marks][2] == "2026-03: 12"
    labels = [t.text for t in svg.findall("s:text", ns)]
    assert ["0", "10", "20", "30", "40"] == labels[:5]
    assert "2026-01" in labels and "2026-07" in labels


def test_bar_heights_are_proportional():
    svg = _svg(str(charts.bar_chart([("a", 10), ("b", 5), ("c", 0)], title="t")))
    heights = [float(r.get("height")) for r in svg.iter("{http://www.w3.org/2000/svg}rect")]
    assert heights[0] == pytest.approx(2 * heights[1]) and heights[2] == 0


def test_chart_text_is_escaped():
    out = str(charts.bar_chart([(HOSTILE, 1)], title=HOSTILE, unit=HOSTILE))
    assert "<script>" not in out
    _svg(out)  # still well-formed
    out = str(charts.line_chart([(HOSTILE, 1), ("b", 2)], title=HOSTILE))
    assert "<script>" not in out
    _svg(out)


def test_empty_chart_says_so():
    svg = _svg(str(charts.line_chart([], title="Nothing")))
    assert "No data yet" in etree.tostring(svg).decode()


def test_meter_fills_in_order_and_stops_at_the_total():
    svg = _svg(
        str(
            charts.meter(
                [("Used", 30, "used"), ("Reserved", 90, "reserved")],
                100,
                title="Quota",
                width=200,
            )
        )
    )
    rects = list(svg.iter("{http://www.w3.org/2000/svg}rect"))
    track, used, reserved = rects
    assert float(used.get("width")) == 60 and float(reserved.get("x")) == 60
    assert float(reserved.get("width")) == 140  # cut at the end of the track
    assert track.get("class") == "meter-track"


def test_templates_autoescape_and_refuse_undefined_names():
    env = html.environment()
    page = env.get_template("error.html").render(
        request=None,
        csrf_token="",
        signed_in=None,
        nav=None,
        heading=HOSTILE,
        message=HOSTILE,
    )
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    with pytest.raises(jinja2.UndefinedError):
        env.get_template("error.html").render(csrf_token="", signed_in=None, nav=None)


def test_templates_carry_no_inline_code():
    """The CSP hashes only api/pages/ and /docs: a template with inline script or style,
    a style= attribute or an on…= handler would be blocked in the browser."""
    env = html.environment()
    for name in env.list_templates():
        source = re.sub(r"\{#.*?#\}", "", env.loader.get_source(env, name)[0], flags=re.S)
        scripts, styles = inline_hashes(source)
        assert not scripts and not styles, name
        assert not re.search(r"\sstyle\s*=", source), name
        assert not re.search(r"\son[a-z]+\s*=", source), name


def _app() -> Starlette:
    async def page(request: Request):
        request.state.nav = [{"label": "Home", "href": "/x", "current": True}]
        return html.render(request, "error.html", {"heading": "Hello", "message": "m"})

    return Starlette(routes=[Route("/x", page), *html.static_routes()])


async def test_render_links_the_versioned_static_files_and_is_never_cached():
    async with LiveServer(_app()) as live:
        async with live.http.get("/x") as r:
            text = await r.text()
            assert r.status == 200 and r.headers["cache-control"] == "no-store"
            assert r.headers["content-type"].startswith("text/html")
        assert 'aria-current="page"' in text
        css = re.search(r'href="(/static/app\.css\?v=[0-9a-f]{12})"', text).group(1)
        js = re.search(r'src="(/static/app\.js\?v=[0-9a-f]{12})"', text).group(1)
        for url, media in ((css, "text/css"), (js, "text/javascript")):
            async with live.http.get(url) as got:
                assert got.status == 200 and got.headers["content-type"].startswith(media)
                assert "immutable" in got.headers["cache-control"]
                etag = got.headers["etag"]
            async with live.http.get(url, headers={"If-None-Match": etag}) as again:
                assert again.status == 304
        async with live.http.get("/static/app.css") as plain:
            assert plain.headers["cache-control"] == "no-cache"
        for name in ("nope.css", "..%2Fhtml.py", "%2e%2e", "html.py"):
            async with live.http.get(f"/static/{name}") as r:
                assert r.status == 404, name
