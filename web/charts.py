"""Server-rendered SVG charts: no JavaScript, no charting library, nothing fetched.

The SVG is inlined in the page and styled by the app's own stylesheet (classes, not style
attributes), so it passes the strict Content-Security-Policy and renders with scripts off.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape

WIDTH = 720
HEIGHT = 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 8, 14, 34
_MAX_X_LABELS = 6


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def nice_ceiling(value: int) -> int:
    """Give the smallest 1/2/5 x 10^n at or above ``value`` (an axis top that reads well)."""
    if value <= 1:
        return 1
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def timeline_svg(days: Sequence[tuple[date, int]], label: str) -> str:
    """Give an SVG bar chart of counts per day (one bar per day, hover titles per bar).

    ``days`` is every day of the range in order, zero days included; ``label`` names what is
    counted, for screen readers. The markup escapes every text it carries.
    """
    plot_w = WIDTH - _LEFT - _RIGHT
    plot_h = HEIGHT - _TOP - _BOTTOM
    top = nice_ceiling(max((count for _, count in days), default=0))
    total = sum(count for _, count in days)
    slot = plot_w / max(len(days), 1)
    gap = min(slot * 0.2, 2.0)
    first = days[0][0].isoformat() if days else ""
    last = days[-1][0].isoformat() if days else ""
    summary = f"{label}: {total} articles from {first} to {last}"
    parts = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(summary)}">',
        f"<title>{escape(summary)}</title>",
    ]
    for fraction in (0.0, 0.5, 1.0):
        y = _TOP + plot_h * (1 - fraction)
        value = top * fraction
        if fraction and value != int(value):
            continue
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" '
            f'y1="{_number(y)}" y2="{_number(y)}"/>'
        )
        parts.append(
            f'<text class="axis" x="{_LEFT - 6}" y="{_number(y + 4)}" '
            f'text-anchor="end">{int(value)}</text>'
        )
    for index, (day, count) in enumerate(days):
        x = _LEFT + index * slot + gap / 2
        height = plot_h * count / top
        parts.append(
            f'<rect class="bar" x="{_number(x)}" y="{_number(_TOP + plot_h - height)}" '
            f'width="{_number(max(slot - gap, 0.5))}" height="{_number(height)}" '
            f'data-day="{day.isoformat()}" data-count="{count}">'
            f"<title>{day.isoformat()}: {count}</title></rect>"
        )
    step = max(1, -(-len(days) // _MAX_X_LABELS))
    for index in range(0, len(days), step):
        x = _LEFT + (index + 0.5) * slot
        parts.append(
            f'<text class="axis" x="{_number(x)}" y="{HEIGHT - 10}" text-anchor="middle">'
            f"{days[index][0].strftime('%m-%d')}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
