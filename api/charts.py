"""Charts as inline SVG, drawn on the server: no script, no library, nothing fetched.

Each function takes the points to draw — `(label, value)` pairs in order — and returns
markup (`markupsafe.Markup`) for a template: `{{ bar_chart(points, title="…") }}`. Labels
and titles are escaped here. The SVG scales to its container (`viewBox`, the `chart`
class of `api/static/app.css`) and is styled through classes only: the pages'
Content-Security-Policy allows no `style=` attribute. Each chart is an image with an
accessible name (its title) and a `<title>` per mark, which browsers show on hover; a
page that needs the exact figures shows them in text or a table too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from markupsafe import Markup, escape

Point = tuple[str, float]

WIDTH, HEIGHT = 480, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 40  # room for the axes' labels


def axis_top(value: float) -> float:
    """The top of a y axis of four equal steps for data up to `value`: each step is 1, 2
    or 5 × 10^k (at least 1, the data being counts), so every tick is a round number."""
    wanted = max(value, 0) / 4
    if wanted <= 1:
        return 4
    power = 10 ** math.floor(math.log10(wanted))
    step = next(s * power for s in (1, 2, 5, 10) if wanted <= s * power)
    return 4 * step


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _open(title: str, width: int, height: int, kind: str) -> list[str]:
    t = escape(title)
    return [
        f'<svg class="chart chart-{kind}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{t}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{t}</title>",
    ]


def _axes(top: float, width: int, height: int, unit: str) -> list[str]:
    """Horizontal grid lines at 0, ¼, ½, ¾ and all of `top` (round numbers: `axis_top`),
    labelled on the left."""
    out = []
    plot_h = height - TOP - BOTTOM
    for i in range(5):
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        out.append(
            f'<line class="grid" x1="{LEFT}" x2="{width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        label = escape(_fmt(value) + (unit if i == 4 and unit else ""))
        out.append(
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>'
        )
    return out


def _x_labels(labels: Sequence[str], xs: Sequence[float], width: int, height: int) -> list[str]:
    """Evenly spaced labels under the x axis, about one per 70 units of width so they
    never overlap; the last point is always labelled."""
    last = len(labels) - 1
    every = max(1, math.ceil(len(labels) / max(1, width // 70)))
    out = []
    for i, (label, x) in enumerate(zip(labels, xs, strict=True)):
        if i != last and (i % every or last - i < every / 2):
            continue
        # a label centred on the last point would run off the right edge
        anchor = "end" if i == last and x > width - RIGHT - 24 else "middle"
        out.append(
            f'<text class="axis" x="{x:.1f}" y="{height - BOTTOM + 16}" '
            f'text-anchor="{anchor}">{escape(label)}</text>'
        )
    return out


def _empty(title: str, width: int, height: int, kind: str) -> Markup:
    parts = _open(title, width, height, kind)
    parts.append(
        f'<text class="empty" x="{width / 2}" y="{height / 2}" text-anchor="middle">'
        "No data yet</text></svg>"
    )
    return Markup("".join(parts))


class _Frame(NamedTuple):
    parts: list[str]  # the open `<svg>` and its y axis; the chart adds its marks
    top: float
    plot_w: float
    plot_h: float


def _frame(
    points: Sequence[Point], title: str, unit: str, width: int, height: int, kind: str
) -> _Frame | Markup:
    """A chart's frame: the whole chart ("No data yet") without points, else the open
    SVG with its axis up to `axis_top` of the largest value, and the plot's size."""
    if not points:
        return _empty(title, width, height, kind)
    top = axis_top(max(v for _, v in points))
    parts = _open(title, width, height, kind) + _axes(top, width, height, unit)
    return _Frame(parts, top, width - LEFT - RIGHT, height - TOP - BOTTOM)


def _finish(
    parts: list[str], points: Sequence[Point], xs: Sequence[float], width: int, height: int
) -> Markup:
    """The x labels under the marks, and the closing tag."""
    parts += _x_labels([label for label, _ in points], xs, width, height)
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(
    points: Sequence[Point],
    *,
    title: str,
    unit: str = "",
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Markup:
    """One bar per point, in order, from zero."""
    frame = _frame(points, title, unit, width, height, "bar")
    if isinstance(frame, Markup):
        return frame
    parts, top, plot_w, plot_h = frame
    slot = plot_w / len(points)
    bar = max(1.0, slot * 0.7)
    centres = []
    for i, (label, value) in enumerate(points):
        h = plot_h * max(value, 0) / top
        x = LEFT + slot * i + (slot - bar) / 2
        centres.append(x + bar / 2)
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar:.1f}" '
            f'height="{h:.1f}"><title>{escape(label)}: {escape(_fmt(value))}{escape(unit)}'
            "</title></rect>"
        )
    return _finish(parts, points, centres, width, height)


def line_chart(
    points: Sequence[Point],
    *,
    title: str,
    unit: str = "",
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Markup:
    """A line through the points, in order, with a dot on each (a single point is a dot)."""
    frame = _frame(points, title, unit, width, height, "line")
    if isinstance(frame, Markup):
        return frame
    parts, top, plot_w, plot_h = frame
    step = plot_w / max(len(points) - 1, 1)
    xy = [
        (LEFT + (step * i if len(points) > 1 else plot_w / 2), TOP + plot_h - plot_h * v / top)
        for i, (_, v) in enumerate((label, max(value, 0)) for label, value in points)
    ]
    if len(xy) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        parts.append(f'<polyline class="line" points="{path}"/>')
    for (label, value), (x, y) in zip(points, xy, strict=True):
        parts.append(
            f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="3"><title>{escape(label)}: '
            f"{escape(_fmt(value))}{escape(unit)}</title></circle>"
        )
    return _finish(parts, points, [x for x, _ in xy], width, height)


def meter(
    segments: Sequence[tuple[str, float, str]],
    total: float,
    *,
    title: str,
    width: int = 800,
    height: int = 24,
) -> Markup:
    """One horizontal bar of `total`, filled left to right by `segments` — (label, value,
    class) — such as a quota's used and reserved units; the rest stays empty. Values past
    `total` are cut at its end."""
    parts = _open(title, width, height, "meter")
    parts.append(f'<rect class="meter-track" x="0" y="0" width="{width}" height="{height}"/>')
    x = 0.0
    for label, value, css in segments:
        w = 0.0 if total <= 0 else min(width - x, width * max(value, 0) / total)
        if w > 0:
            parts.append(
                f'<rect class="meter-{escape(css)}" x="{x:.1f}" y="0" width="{w:.1f}" '
                f'height="{height}"><title>{escape(label)}: {escape(_fmt(value))}</title></rect>'
            )
        x += w
    parts.append("</svg>")
    return Markup("".join(parts))
