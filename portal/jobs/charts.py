"""Training curves as inline SVG, drawn on the server (no chart library, nothing downloaded)."""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

COLOURS = ["#8c2f1b", "#2f5d7c", "#6b7f2a", "#7a4f9a"]


def line_chart(
    series: dict[str, list[tuple[float, float]]], width: int = 560, height: int = 220
) -> SafeString:
    pad_l, pad_r, pad_t, pad_b = 56, 12, 30, 28
    points = [p for values in series.values() for p in values]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = min(ys), max(ys)
    if y1 - y0 < 1e-12:
        y0, y1 = y0 - 0.5, y1 + 0.5

    def sx(x: float) -> float:
        return pad_l + (x - x0) / (x1 - x0) * (width - pad_l - pad_r)

    def sy(y: float) -> float:
        return pad_t + (1 - (y - y0) / (y1 - y0)) * (height - pad_t - pad_b)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i in range(5):
        y = y0 + (y1 - y0) * i / 4
        parts.append(
            f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" class="grid"/>'
        )
        parts.append(f'<text x="{pad_l - 6}" y="{sy(y) + 4:.1f}" text-anchor="end">{y:.3g}</text>')
    parts.append(f'<text x="{pad_l}" y="{height - 8}">{x0:g}</text>')
    parts.append(f'<text x="{width - pad_r}" y="{height - 8}" text-anchor="end">{x1:g}</text>')
    for n, (name, values) in enumerate(series.items()):
        colour = COLOURS[n % len(COLOURS)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in values)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        if len(values) == 1:
            x, y = values[0]
            parts.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3.5" fill="{colour}"/>')
        parts.append(
            f'<rect x="{pad_l + 120 * n}" y="8" width="14" height="4" fill="{colour}"/>'
            f'<text x="{pad_l + 20 + 120 * n}" y="14" fill="{colour}" class="legend">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))
