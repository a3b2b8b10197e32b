"""Inline SVG charts: no JavaScript, no build step, nothing fetched (the machine is offline).

Colours meet WCAG AA for graphics against white (3:1 or more) and every chart has a title and
a description for screen readers; the numbers are also in the tables next to them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape

__all__ = ["COLORS", "bar_list", "sentiment_chart"]

COLORS = {"negative": "#b3261e", "neutral": "#6b6f75", "positive": "#1e7a34"}


def sentiment_chart(timeline: Sequence[Mapping[str, object]], title: str, description: str,
                    labels: Mapping[str, str], width: int = 640, height: int = 220) -> str:
    """Stacked bars of messages per bucket (negative at the bottom), with a legend."""
    left, bottom, top, right = 34, 40, 10, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((int(str(b["volume"])) for b in timeline), default=0) or 1
    n = max(len(timeline), 1)
    slot = plot_w / n
    bar = max(slot * 0.8, 1.0)
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" class="chart" '
             f'aria-labelledby="st-title st-desc" xmlns="http://www.w3.org/2000/svg">',
             f'<title id="st-title">{escape(title)}</title>',
             f'<desc id="st-desc">{escape(description)}</desc>']
    for frac in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - frac)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#d0d0d0" stroke-width="1"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" '
                     f'font-size="11" fill="#333">{round(peak * frac)}</text>')
    label_every = max(1, n // 6)
    for i, b in enumerate(timeline):
        x = left + i * slot + (slot - bar) / 2
        y = top + plot_h
        for key in ("negative", "neutral", "positive"):
            value = int(str(b.get(key, 0)))
            if not value:
                continue
            h = plot_h * value / peak
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{COLORS[key]}"><title>{escape(labels[key])}: {value}</title>'
                         f'</rect>')
        if i % label_every == 0:
            when = datetime.fromisoformat(str(b["start"]))
            parts.append(f'<text x="{left + i * slot:.1f}" y="{height - 24}" font-size="11" '
                         f'fill="#333">{when:%d/%m %Hh}</text>')
    legend_x = left
    for key in ("negative", "neutral", "positive"):
        parts.append(f'<rect x="{legend_x}" y="{height - 8}" width="10" height="8" '
                     f'fill="{COLORS[key]}"/>')
        parts.append(f'<text x="{legend_x + 14}" y="{height - 1}" font-size="10" fill="#222">'
                     f'{escape(labels[key])}</text>')
        legend_x += 90
    parts.append("</svg>")
    return "".join(parts)


def bar_list(values: Mapping[str, float], fmt: str = "{:g}", color: str = "#1f4e9c") -> str:
    """Horizontal bars as an HTML list (readable without CSS and by screen readers)."""
    peak = max(values.values(), default=0) or 1
    rows = []
    for name, value in values.items():
        pct = 100 * value / peak
        rows.append(f'<li><span class="bl-name">{escape(name)}</span>'
                    f'<span class="bl-bar" aria-hidden="true"><span style="width:{pct:.0f}%;'
                    f'background:{color}"></span></span>'
                    f'<span class="bl-val">{escape(fmt.format(value))}</span></li>')
    return '<ul class="bars">' + "".join(rows) + "</ul>"
