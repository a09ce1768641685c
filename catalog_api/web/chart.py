"""The basket view as an SVG bar chart, rendered on the server (no JavaScript).

Input is the *disclosed* breakdown (``{"LUAD": 10, "other": "<5"}``): counts already
rounded, small cells already merged and suppressed by the discovery engine. A suppressed
cell is drawn with **no bar at all**, only its text (``<5``), so that nothing in the
picture (bar length, width, position) says more than the text. Numeric bars are scaled to
the largest shown count; since the shown counts are rounded, their lengths carry no more
than the numbers printed beside them.

Zero and one to four look the same: when the total itself is suppressed the chart shows
one sentence whatever the breakdown holds (``{}`` for no patient, ``{"other": "<5"}`` for
two), and a breakdown without an "other" cell still gets an "other" row shown as ``<5``
("fewer than 5" is true of zero too), so the absence of the row says nothing.

The label column is as wide as the longest label line needs (estimated from character
widths, see :func:`text_width`); labels longer than :data:`LABEL_CHARS` wrap onto more
lines instead of being cut.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping

from markupsafe import Markup, escape

#: Font size of the chart's text in px (web.css: ``.chart { font: 14px … }``).
FONT_PX = 14
LINE_H = 17
ROW = 30
BAR_W = 260
VALUE_W = 150
TOP = 8
PAD = 12
#: Label lines wrap at this many characters (at word boundaries).
LABEL_CHARS = 34
MIN_LABEL_W = 80

# Advance widths in em of a wide sans-serif (DejaVu Sans, the headless default; wider than
# Helvetica/Arial, so the estimate errs on the generous side). No font file is read on the
# server, so this is an upper estimate rather than a measurement; the browser test measures
# the real boxes.
_NARROW = set("iljtfrI.,:;'!|()[] ")
_WIDE = set("MWmw—…%@")


def text_width(text: str, font_px: float = FONT_PX) -> float:
    """Estimated width in px of ``text`` at ``font_px`` (generous: never much too narrow)."""
    em = 0.0
    for ch in text:
        if ch in _WIDE:
            em += 1.0
        elif ch in _NARROW:
            em += 0.36
        elif ch.isupper() or ch.isdigit():
            em += 0.76
        else:
            em += 0.64
    return em * font_px


def label_lines(text: str, width: int = LABEL_CHARS) -> list[str]:
    """``text`` wrapped at word boundaries into lines of at most ``width`` characters."""
    return textwrap.wrap(text, width=width, break_long_words=True) or [""]


def basket_svg(
    cells: Mapping[str, int | str],
    *,
    label: Callable[[str], str],
    total: int | str | None = None,
    suppressed_as: str = "<5",
    title: str = "Patients per tumour type (basket view)",
    chart_id: str = "basket",
    other_key: str = "other",
) -> Markup:
    """An accessible SVG bar chart of ``cells`` (category → disclosed count).

    ``total`` is the disclosed total: a suppressed total (a string) draws one sentence and
    no rows, whatever ``cells`` holds. ``suppressed_as`` is how a small count is written.
    """
    if isinstance(total, str) or (total is None and not cells):
        return _sentence_svg(
            f"Fewer than {suppressed_as.lstrip('<')} patients match: "
            "no breakdown is shown for so few.",
            title,
            chart_id,
        )
    rows = dict(cells)
    if other_key not in rows:
        rows[other_key] = suppressed_as
    numeric = [v for v in rows.values() if isinstance(v, int)]
    top = max(numeric, default=0)
    wrapped = {key: label_lines(label(key)) for key in rows}
    label_w = max(
        MIN_LABEL_W, int(max(text_width(line) for ls in wrapped.values() for line in ls)) + 2 * PAD
    )
    heights = {key: max(ROW, LINE_H * len(ls) + 10) for key, ls in wrapped.items()}
    height = TOP * 2 + sum(heights.values())
    width = label_w + BAR_W + VALUE_W
    parts = _open(width, height, title, _summary(rows, label), chart_id)
    y = TOP
    for key, value in rows.items():
        h = heights[key]
        lines = wrapped[key]
        suppressed = not isinstance(value, int)
        mid = y + h / 2 + 5
        parts.append(
            f'<g class="bar-row" data-category="{escape(key)}" '
            f'data-suppressed="{"true" if suppressed else "false"}">'
        )
        first = mid - LINE_H * (len(lines) - 1) / 2
        x = label_w - PAD
        parts.append(f'<text x="{x}" y="{first}" text-anchor="end" class="chart-label">')
        for i, line in enumerate(lines):
            dy = 0 if i == 0 else LINE_H
            parts.append(f'<tspan x="{x}" dy="{dy}">{escape(line)}</tspan>')
        parts.append("</text>")
        if suppressed:
            parts.append(
                f'<text x="{label_w + 4}" y="{mid}" class="chart-suppressed">'
                f"{escape(str(value))} (fewer than {escape(str(value).lstrip('<'))})</text>"
            )
        else:
            assert isinstance(value, int)
            w = 0 if top == 0 else max(2, round(BAR_W * value / top))
            parts.append(
                f'<rect x="{label_w}" y="{y + (h - ROW) / 2 + 5}" width="{w}" '
                f'height="{ROW - 10}" class="chart-bar" fill="#1f5f99"/>'
            )
            parts.append(
                f'<text x="{label_w + w + 8}" y="{mid}" class="chart-value">{value}</text>'
            )
        parts.append("</g>")
        y += h
    parts.append("</svg>")
    return Markup("".join(parts))


def _open(width: int, height: int, title: str, desc: str, chart_id: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]


def _sentence_svg(sentence: str, title: str, chart_id: str) -> Markup:
    width = int(text_width(sentence)) + 2 * PAD
    height = TOP * 2 + ROW
    parts = _open(width, height, title, sentence, chart_id)
    parts.append(f'<text x="{PAD}" y="{TOP + 20}" class="chart-empty">{escape(sentence)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _summary(cells: Mapping[str, int | str], label: Callable[[str], str]) -> str:
    return "; ".join(f"{label(k)}: {v}" for k, v in cells.items())
