"""The basket view as an SVG bar chart, rendered on the server (no JavaScript).

Input is the *disclosed* breakdown (``{"LUAD": 10, "other": "<5"}``): counts already
rounded, small cells already merged and suppressed by the discovery engine. A suppressed
cell is drawn with **no bar at all**, only its text (``<5``) and the words "fewer than 5",
so that nothing in the picture (bar length, width, position) says more than the text.
Numeric bars are scaled to the largest shown count; since the shown counts are rounded,
their lengths carry no more than the numbers printed beside them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from markupsafe import Markup, escape

ROW = 30
LABEL_W = 230
BAR_W = 260
VALUE_W = 130
TOP = 8
LABEL_CHARS = 30


def basket_svg(
    cells: Mapping[str, int | str],
    *,
    label: Callable[[str], str],
    title: str = "Patients per tumour type (basket view)",
    chart_id: str = "basket",
) -> Markup:
    """An accessible SVG bar chart of ``cells`` (category → disclosed count)."""
    numeric = [v for v in cells.values() if isinstance(v, int)]
    top = max(numeric, default=0)
    height = TOP * 2 + ROW * max(len(cells), 1)
    width = LABEL_W + BAR_W + VALUE_W
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(_summary(cells, label))}</desc>',
    ]
    if not cells:
        parts.append(f'<text x="0" y="{TOP + 20}" class="chart-empty">No patient matches.</text>')
    for i, (key, value) in enumerate(cells.items()):
        y = TOP + i * ROW
        mid = y + ROW / 2 + 5
        suppressed = not isinstance(value, int)
        parts.append(
            f'<g class="bar-row" data-category="{escape(key)}" '
            f'data-suppressed="{"true" if suppressed else "false"}">'
        )
        parts.append(
            f'<text x="{LABEL_W - 10}" y="{mid}" text-anchor="end" class="chart-label">'
            f"{escape(_short(label(key), LABEL_CHARS))}</text>"
        )
        if suppressed:
            parts.append(
                f'<text x="{LABEL_W + 4}" y="{mid}" class="chart-suppressed">'
                f"{escape(str(value))} (suppressed)</text>"
            )
        else:
            assert isinstance(value, int)
            w = 0 if top == 0 else max(2, round(BAR_W * value / top))
            parts.append(
                f'<rect x="{LABEL_W}" y="{y + 5}" width="{w}" height="{ROW - 10}" '
                f'class="chart-bar" fill="#1f5f99"/>'
            )
            parts.append(
                f'<text x="{LABEL_W + w + 8}" y="{mid}" class="chart-value">{value}</text>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _summary(cells: Mapping[str, int | str], label: Callable[[str], str]) -> str:
    if not cells:
        return "No patient matches."
    return "; ".join(f"{label(k)}: {v}" for k, v in cells.items())
