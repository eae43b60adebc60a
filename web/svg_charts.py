"""Charts drawn on the server as SVG markup: no charting script, no CDN, nothing inline to run.

The page's Content-Security-Policy allows no inline script or ``style=`` attribute; SVG
presentation attributes (``fill``, ``stroke``) are neither, so the charts need no stylesheet of
their own and print as they look. Every text is escaped; CJK labels render with the system's
fonts (the font list names the common ones).
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

PALETTE = (
    "#0969da",
    "#cf222e",
    "#1a7f37",
    "#8250df",
    "#bc4c00",
    "#1b7c83",
    "#9a6700",
    "#bf3989",
    "#57606a",
    "#6639ba",
)
FONT = (
    "system-ui, -apple-system, 'Segoe UI', 'Noto Sans', 'Noto Sans CJK SC', 'PingFang SC', "
    "'Microsoft YaHei', sans-serif"
)
WIDTH = 720
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 44, 12, 12, 26
LEGEND_ROW = 18
MAX_SERIES = 8  # more stacked series are summed into "other"


def _nice_top(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 1.0
    while power * 10 <= value:
        power *= 10
    while power > value:
        power /= 10
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _text(x: float, y: float, content: str, anchor: str = "start", size: int = 11) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="#656d76" font-family="{FONT}">{escape(content)}</text>'
    )


def _legend(names: Sequence[str], top: float) -> list[str]:
    parts, x, y = [], float(MARGIN_LEFT), top
    for index, name in enumerate(names):
        width = 22 + 7 * len(name) + sum(6 for ch in name if ord(ch) > 0x2E80)
        if x + width > WIDTH - MARGIN_RIGHT and x > MARGIN_LEFT:
            x, y = float(MARGIN_LEFT), y + LEGEND_ROW
        color = PALETTE[index % len(PALETTE)]
        parts.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{color}"/>')
        parts.append(_text(x + 14, y, name))
        x += width
    return parts


def _legend_rows(names: Sequence[str]) -> int:
    rows, x = 1, float(MARGIN_LEFT)
    for name in names:
        width = 22 + 7 * len(name) + sum(6 for ch in name if ord(ch) > 0x2E80)
        if x + width > WIDTH - MARGIN_RIGHT and x > MARGIN_LEFT:
            rows, x = rows + 1, float(MARGIN_LEFT)
        x += width
    return rows


def _limit(series: dict[str, list[int]]) -> dict[str, list[int]]:
    if len(series) <= MAX_SERIES:
        return series
    names = list(series)
    kept = {n: series[n] for n in names[: MAX_SERIES - 1]}
    rest = names[MAX_SERIES - 1 :]
    kept["other"] = [sum(series[n][i] for n in rest) for i in range(len(series[names[0]]))]
    return kept


def _frame(title: str, height: int, top_value: float, plot_h: float, body: list[str]) -> Markup:
    axis = []
    for fraction in (0.0, 0.5, 1.0):
        y = MARGIN_TOP + plot_h * (1 - fraction)
        axis.append(
            f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#d0d7de" stroke-width="1"/>'
        )
        axis.append(_text(MARGIN_LEFT - 6, y + 4, _number(top_value * fraction), "end"))
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" class="svg-chart">'
        f"<title>{escape(title)}</title>{''.join(axis)}{''.join(body)}</svg>"
    )


def _day_labels(days: Sequence[str], x_of: list[float], baseline: float) -> list[str]:
    if not days:
        return []
    step = max(1, len(days) // 6)
    picks = list(range(0, len(days), step))
    if picks[-1] != len(days) - 1 and len(days) - 1 - picks[-1] >= step // 2:
        picks.append(len(days) - 1)
    return [_text(x_of[i], baseline + 16, days[i][5:], "middle") for i in picks]


def stacked_bars(title: str, days: Sequence[str], series: dict[str, list[int]]) -> Markup:
    """One bar per day, stacked by series (e.g. tickets per day by topic)."""
    series = _limit(series)
    names = list(series)
    legend_h = LEGEND_ROW * _legend_rows(names) if names else 0
    height = 200 + legend_h
    plot_h = height - MARGIN_TOP - MARGIN_BOTTOM - legend_h
    totals = [sum(values[i] for values in series.values()) for i in range(len(days))]
    top = _nice_top(max(totals, default=0))
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    slot = plot_w / max(len(days), 1)
    bar_w = max(slot * 0.8, 1.0)
    centers = [MARGIN_LEFT + slot * (i + 0.5) for i in range(len(days))]
    baseline = MARGIN_TOP + plot_h
    body: list[str] = []
    for i, day in enumerate(days):
        y = float(baseline)
        for index, name in enumerate(names):
            value = series[name][i]
            if not value:
                continue
            h = plot_h * value / top
            y -= h
            body.append(
                f'<rect x="{centers[i] - bar_w / 2:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" fill="{PALETTE[index % len(PALETTE)]}">'
                f"<title>{escape(day)} · {escape(name)}: {value}</title></rect>"
            )
    body += _day_labels(days, centers, baseline)
    body += _legend(names, baseline + 16 + LEGEND_ROW)
    return _frame(title, height, top, plot_h, body)


def lines(title: str, days: Sequence[str], series: dict[str, list[int]]) -> Markup:
    """One line per series over the days (e.g. backlog, created, resolved)."""
    names = list(series)
    legend_h = LEGEND_ROW * _legend_rows(names) if names else 0
    height = 200 + legend_h
    plot_h = height - MARGIN_TOP - MARGIN_BOTTOM - legend_h
    top = _nice_top(max((max(v, default=0) for v in series.values()), default=0))
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    step = plot_w / max(len(days) - 1, 1)
    xs = [MARGIN_LEFT + step * i for i in range(len(days))]
    baseline = MARGIN_TOP + plot_h
    body: list[str] = []
    for index, name in enumerate(names):
        points = " ".join(
            f"{xs[i]:.1f},{baseline - plot_h * value / top:.1f}"
            for i, value in enumerate(series[name])
        )
        body.append(
            f'<polyline points="{points}" fill="none" stroke="{PALETTE[index % len(PALETTE)]}" '
            f'stroke-width="2"><title>{escape(name)}</title></polyline>'
        )
    body += _day_labels(days, xs, baseline)
    body += _legend(names, baseline + 16 + LEGEND_ROW)
    return _frame(title, height, top, plot_h, body)


def hbars(title: str, values: dict[str, float], unit: str = "") -> Markup:
    """Horizontal bars, one per key (e.g. the customer tier mix, minutes per priority)."""
    rows = list(values.items())
    row_h = 22
    label_w = 150
    height = MARGIN_TOP + row_h * max(len(rows), 1) + 8
    top = _nice_top(max((v for _, v in rows), default=0))
    plot_w = WIDTH - label_w - MARGIN_RIGHT - 60
    body: list[str] = []
    for i, (name, value) in enumerate(rows):
        y = MARGIN_TOP + row_h * i
        w = plot_w * value / top if top else 0
        body.append(_text(label_w - 6, y + 14, name[:24], "end", 12))
        body.append(
            f'<rect x="{label_w}" y="{y + 3:.1f}" width="{w:.1f}" height="{row_h - 6}" '
            f'fill="{PALETTE[i % len(PALETTE)]}"><title>{escape(name)}: {_number(value)}'
            f"{escape(unit)}</title></rect>"
        )
        body.append(_text(label_w + w + 6, y + 14, f"{_number(value)}{unit}", "start", 12))
    if not rows:
        body.append(_text(label_w, MARGIN_TOP + 14, "no data", "start", 12))
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" class="svg-chart">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )
