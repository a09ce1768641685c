"""The charts of the "Treatments and outcomes" view: the treatment pathway (a Sankey of
line 1 → 2 → 3) and Kaplan–Meier curves with their at-risk table, each as SVG and PNG,
and the disclosed numbers behind every chart and table as CSV.

Input is always a *disclosed* analytics answer (``catalog_api.analytics``): counts
already rounded, small cells already merged into "other" or shown as ``<5``, curves
already computed from rounded interval counts and stopped before a small risk set. The
charts draw nothing that the answer's numbers do not say: a suppressed pathway cell has
no band at all (only the words under the chart), a node's height is its rounded count
(or the room its label needs, whichever is larger).

Each chart is built once as a :class:`Scene` of a few primitives (rectangles, polygons,
polylines, text) and written out twice: as SVG (shown in the page and downloaded) and as
PNG, drawn on the server with Pillow (already installed, with matplotlib; no SVG
rasteriser such as cairosvg is). PNG on the server rather than from a canvas in the
browser because the pages run no JavaScript (their Content-Security-Policy says
``script-src 'none'``); drawing the same primitives keeps the two pictures the same.
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from markupsafe import Markup, escape
from PIL import Image, ImageDraw, ImageFont

from catalog_api.web.chart import label_lines, text_width

FONT = "DejaVu Sans, Verdana, sans-serif"
FONT_PX = 12
LINE_H = 15
INK = "#1b1b1b"
MUTED = "#4a4a4a"
GRID = "#d9dde3"
#: Okabe–Ito colours (distinguishable with the common colour-vision deficiencies).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
GREY = "#9aa0a6"
#: Pathway cells drawn grey: merged and "no further line" cells.
QUIET = ("other", "(no further line)")


# -- a scene of primitives, written as SVG or PNG ------------------------------------------


@dataclass(frozen=True)
class Text:
    """Text at (x, y) on its baseline; ``anchor`` start, middle or end."""

    x: float
    y: float
    text: str
    anchor: str = "start"
    size: int = FONT_PX
    bold: bool = False
    fill: str = INK
    attrs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Shape:
    """A rectangle (``points`` = x, y, w, h), polygon or polyline (``points`` = x, y, …)."""

    kind: str  # rect | polygon | polyline
    points: tuple[float, ...]
    fill: str = "none"
    stroke: str = "none"
    width: float = 1.0
    opacity: float = 1.0
    attrs: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Scene:
    """A chart as primitives, in drawing order."""

    width: int
    height: int
    title: str
    desc: str
    chart_id: str
    items: list[Text | Shape] = field(default_factory=list)
    #: Shown this many times its size (the SVG's width and height; a sentence: 1).
    zoom: float = 1.3

    def text(self, x: float, y: float, text: str, **kw: Any) -> None:
        """Add a text."""
        self.items.append(Text(x, y, text, **kw))

    def rect(self, x: float, y: float, w: float, h: float, **kw: Any) -> None:
        """Add a rectangle."""
        self.items.append(Shape("rect", (x, y, w, h), **kw))

    def polygon(self, points: Iterable[tuple[float, float]], **kw: Any) -> None:
        """Add a filled polygon."""
        self.items.append(Shape("polygon", _flat(points), **kw))

    def polyline(self, points: Iterable[tuple[float, float]], **kw: Any) -> None:
        """Add an open line."""
        self.items.append(Shape("polyline", _flat(points), **kw))

    def svg(self) -> Markup:
        """The scene as an accessible, self-contained SVG (fonts as attributes)."""
        cid = escape(self.chart_id)
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart outcomes-chart" role="img" '
            f'id="{cid}" viewBox="0 0 {self.width} {self.height}" '
            f'width="{round(self.width * self.zoom)}" height="{round(self.height * self.zoom)}" '
            f'aria-labelledby="{cid}-title {cid}-desc" '
            f'font-family="{FONT}" font-size="{FONT_PX}">',
            f'<title id="{cid}-title">{escape(self.title)}</title>',
            f'<desc id="{cid}-desc">{escape(self.desc)}</desc>',
            f'<rect x="0" y="0" width="{self.width}" height="{self.height}" fill="#ffffff"/>',
        ]
        for item in self.items:
            extra = "".join(f' {k}="{escape(v)}"' for k, v in item.attrs.items())
            if isinstance(item, Text):
                weight = ' font-weight="bold"' if item.bold else ""
                out.append(
                    f'<text x="{_n(item.x)}" y="{_n(item.y)}" text-anchor="{item.anchor}" '
                    f'font-family="{FONT}" font-size="{item.size}" fill="{item.fill}"'
                    f"{weight}{extra}>{escape(item.text)}</text>"
                )
                continue
            paint = f'fill="{item.fill}" stroke="{item.stroke}" stroke-width="{_n(item.width)}"' + (
                f' opacity="{item.opacity}"' if item.opacity < 1 else ""
            )
            if item.kind == "rect":
                x, y, w, h = item.points
                out.append(
                    f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" '
                    f"{paint}{extra}/>"
                )
            else:
                pts = " ".join(
                    f"{_n(item.points[i])},{_n(item.points[i + 1])}"
                    for i in range(0, len(item.points), 2)
                )
                out.append(f'<{item.kind} points="{pts}" {paint}{extra}/>')
        out.append("</svg>")
        return Markup("".join(out))

    def png(self, scale: int = 2) -> bytes:
        """The scene drawn by Pillow at ``scale`` times its size (a PNG file's bytes)."""
        img = Image.new("RGB", (self.width * scale, self.height * scale), "#ffffff")
        draw = ImageDraw.Draw(img, "RGBA")
        for item in self.items:
            if isinstance(item, Text):
                font = _font(item.size * scale, item.bold)
                anchor = {"start": "ls", "middle": "ms", "end": "rs"}[item.anchor]
                draw.text(
                    (item.x * scale, item.y * scale),
                    item.text,
                    fill=item.fill,
                    font=font,
                    anchor=anchor,
                )
                continue
            pts = [v * scale for v in item.points]
            fill = _rgba(item.fill, item.opacity)
            line = _rgba(item.stroke, item.opacity)
            w = max(1, round(item.width * scale))
            if item.kind == "rect":
                x, y, rw, rh = pts
                draw.rectangle(
                    (x, y, x + rw, y + rh), fill=fill, outline=line, width=w if line else 0
                )
            elif item.kind == "polygon":
                xy = list(zip(pts[::2], pts[1::2], strict=True))
                draw.polygon(xy, fill=fill, outline=line, width=w if line else 0)
            else:
                xy = list(zip(pts[::2], pts[1::2], strict=True))
                draw.line(xy, fill=line, width=w, joint="curve")
        buf = io.BytesIO()
        img.save(buf, format="PNG", compress_level=6)
        return buf.getvalue()


def _flat(points: Iterable[tuple[float, float]]) -> tuple[float, ...]:
    return tuple(v for p in points for v in p)


def _n(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _rgba(colour: str, opacity: float) -> tuple[int, int, int, int] | None:
    if colour == "none":
        return None
    c = colour.lstrip("#")
    return (int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16), round(255 * opacity))


@cache
def _font(px: int, bold: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans (Debian's fonts-dejavu, also shipped inside matplotlib), else Pillow's
    own scalable default font."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    try:
        return ImageFont.truetype(name, px)
    except OSError:
        pass
    try:
        import matplotlib

        return ImageFont.truetype(f"{matplotlib.get_data_path()}/fonts/ttf/{name}", px)
    except (ImportError, OSError):
        return ImageFont.load_default(px)


def data_url(media_type: str, body: bytes | str) -> str:
    """A ``data:`` URL of ``body`` (the page's download links: no second query)."""
    raw = body.encode() if isinstance(body, str) else body
    return f"data:{media_type};base64,{base64.b64encode(raw).decode()}"


def _sentence(sentence: str, title: str, chart_id: str) -> Scene:
    s = Scene(int(text_width(sentence, FONT_PX)) + 24, 40, title, sentence, chart_id, zoom=1)
    s.text(12, 25, sentence, fill=MUTED)
    return s


def _colours(names: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in names:
        if name not in out:
            if name in QUIET:
                out[name] = GREY
            else:
                out[name] = PALETTE[sum(1 for k in out if k not in QUIET) % len(PALETTE)]
    return out


# -- the pathway (Sankey) ------------------------------------------------------------------

NODE_W = 12
COL_LABEL_CHARS = 26
PATHWAY_H = 300
#: At most this many px per patient: a small cohort's bands stay bands.
PX_PER_PATIENT = 5.0


def pathway_scene(answer: Mapping[str, Any], *, chart_id: str = "pathway") -> Scene:
    """The Sankey of a treatment-patterns answer: one column per line, a node per
    (line, regimen) of the disclosed pathway tree, bands between consecutive lines."""
    title = "Treatment pathways: regimen of line 1 → 2 → 3"
    sankey = answer.get("sankey") or {"nodes": [], "links": []}
    nodes = [n for n in sankey["nodes"] if isinstance(n["patients"], int)]
    if not isinstance(answer.get("patients_with_a_line"), int) or not nodes:
        return _sentence(
            "Too few patients with a line of therapy to show pathways.", title, chart_id
        )
    lines = sorted({n["line"] for n in nodes})
    colour = _colours(n["regimen"] for n in sorted(nodes, key=lambda n: n["line"]))
    links = [x for x in sankey["links"] if isinstance(x["patients"], int)]
    out_sum: dict[tuple[int, str], int] = {}
    in_sum: dict[tuple[int, str], int] = {}
    for x in links:
        out_sum[(x["from_line"], x["from"])] = (
            out_sum.get((x["from_line"], x["from"]), 0) + (x["patients"])
        )
        key = (x["from_line"] + 1, x["to"])
        in_sum[key] = in_sum.get(key, 0) + x["patients"]
    size = {
        (n["line"], n["regimen"]): max(
            n["patients"],
            out_sum.get((n["line"], n["regimen"]), 0),
            in_sum.get((n["line"], n["regimen"]), 0),
        )
        for n in nodes
    }
    per_col: dict[int, list[tuple[int, str]]] = {}
    for key in sorted(size, key=lambda k: (k[1] in QUIET, -size[k], k[1])):
        per_col.setdefault(key[0], []).append(key)
    total = max(sum(size[k] for k in col) for col in per_col.values())
    scale = min(PATHWAY_H / total, PX_PER_PATIENT)
    labels = {
        k: [*label_lines(k[1], COL_LABEL_CHARS), f"{_num(node_count(nodes, k))} patients"]
        for k in size
    }
    label_w = max(text_width(line, FONT_PX) for ls in labels.values() for line in ls)
    col_gap = int(label_w) + 70
    top, left, gap = 34, 12, 10
    x_of = {line: left + i * col_gap for i, line in enumerate(lines)}
    y_of: dict[tuple[int, str], float] = {}
    h_of: dict[tuple[int, str], float] = {}
    bottom = top
    for col in per_col.values():
        y = float(top)
        for k in col:
            h = max(size[k] * scale, LINE_H * len(labels[k]) + 4)
            y_of[k], h_of[k] = y, h
            y += h + gap
        bottom = max(bottom, int(y))
    width = x_of[lines[-1]] + NODE_W + int(label_w) + 16
    first = answer["patients_with_a_line"]
    desc = f"{_num(first)} patients with a first line. " + "; ".join(
        f"line {k[0]}: {k[1]} {_num(node_count(nodes, k))}" for k in size
    )
    s = Scene(width, bottom + 8, title, desc, chart_id)
    for line in lines:
        s.text(x_of[line], 18, f"Line {line}", bold=True)
    # bands: stacked at each end in the order of the nodes at the other end
    used_out = {k: 0.0 for k in size}
    used_in = {k: 0.0 for k in size}

    def ends(x: Mapping[str, Any]) -> tuple[float, float]:
        return (
            y_of.get((x["from_line"], x["from"]), 0.0),
            y_of.get((x["from_line"] + 1, x["to"]), 0.0),
        )

    # in a source node, bands in the order of their targets (and so in a target): no
    # two bands of one node cross
    for x in sorted(links, key=ends):
        a, b = (x["from_line"], x["from"]), (x["from_line"] + 1, x["to"])
        if a not in y_of or b not in y_of:
            continue
        w = x["patients"] * scale
        y0 = y_of[a] + used_out[a]
        used_out[a] += w
        y1 = y_of[b] + used_in[b]
        used_in[b] += w
        x0, x1 = x_of[a[0]] + NODE_W, x_of[b[0]]
        s.polygon(
            _band(x0, y0, x1, y1, w),
            fill=colour[a[1]],
            opacity=0.35,
            attrs={"class": "pathway-link", "data-from": a[1], "data-to": b[1]},
        )
    for k, y in y_of.items():
        count = node_count(nodes, k)
        s.rect(
            x_of[k[0]],
            y,
            NODE_W,
            max(size[k] * scale, 2),
            fill=colour[k[1]],
            attrs={"class": "pathway-node", "data-line": str(k[0]), "data-regimen": k[1]},
        )
        ty = y + FONT_PX
        for text in labels[k][:-1]:
            s.text(x_of[k[0]] + NODE_W + 6, ty, text)
            ty += LINE_H
        s.text(
            x_of[k[0]] + NODE_W + 6,
            ty,
            labels[k][-1],
            bold=True,
            attrs={"class": "count", "data-count": str(count)},
        )
    return s


def node_count(nodes: Sequence[Mapping[str, Any]], key: tuple[int, str]) -> int:
    """The disclosed count of node ``key`` (line, regimen)."""
    return next(int(n["patients"]) for n in nodes if (n["line"], n["regimen"]) == key)


def _band(x0: float, y0: float, x1: float, y1: float, w: float) -> list[tuple[float, float]]:
    """A Sankey band from (x0, y0) to (x1, y1), ``w`` thick, as a polygon (cubic Bézier
    edges sampled, so that SVG and PNG draw the same outline)."""
    mid = (x0 + x1) / 2
    steps = 16

    def edge(ya: float, yb: float) -> list[tuple[float, float]]:
        pts = []
        for i in range(steps + 1):
            t = i / steps
            u = 1 - t
            x = u**3 * x0 + 3 * u * u * t * mid + 3 * u * t * t * mid + t**3 * x1
            y = u**3 * ya + 3 * u * u * t * ya + 3 * u * t * t * yb + t**3 * yb
            pts.append((x, y))
        return pts

    return edge(y0, y1) + edge(y0 + w, y1 + w)[::-1]


# -- the regimen × line table as bars ------------------------------------------------------

BAR_W = 240
ROW_H = 22
REGIMEN_CHARS = 34


def regimens_scene(answer: Mapping[str, Any], *, chart_id: str = "regimens") -> Scene:
    """The regimen × line table as bars: per line, each shown regimen's patients (a bar
    scaled to the largest shown cell) with its median time on treatment; a suppressed
    cell is its text only, no bar (as the basket chart)."""
    title = "Patients per regimen and line, with median time on treatment"
    rows: list[tuple[str, Any, str]] = []  # (label, cell, note); a header row has cell None
    for e in answer.get("lines", []):
        words = "" if e["regimens"] else " (no regimen shown for so few)"
        rows.append((f"Line {e['line']}: {_num(e['patients'])} patients{words}", None, ""))
        for r in e["regimens"]:
            tot = r.get("time_on_treatment") or {}
            note = (
                f"median {int(tot['median_days'])} days on treatment"
                if tot.get("median_days") is not None
                else ""
            )
            label = "other regimens" if r["regimen"] == "other" else r["regimen"]
            rows.append((label, r["patients"], note))
    if not any(c is not None for _, c, _ in rows):
        return _sentence("Too few patients per line to show regimens.", title, chart_id)
    wrapped = {i: label_lines(label, REGIMEN_CHARS) for i, (label, _, _) in enumerate(rows)}
    label_w = max(
        text_width(line, FONT_PX)
        for i, ls in wrapped.items()
        if rows[i][1] is not None
        for line in ls
    )
    label_w = int(label_w) + 16
    top = max((c for _, c, _ in rows if isinstance(c, int)), default=1) or 1
    notes_w = max((text_width(f"{c} · {n}", FONT_PX) for _, c, n in rows if c), default=0)
    width = label_w + BAR_W + int(notes_w) + 24
    heights = [
        ROW_H if rows[i][1] is None else max(ROW_H, LINE_H * len(wrapped[i]) + 6)
        for i in range(len(rows))
    ]
    desc = "; ".join(f"{label}: {cell}" for label, cell, _ in rows if cell is not None)
    s = Scene(width, sum(heights) + 12, title, desc, chart_id)
    y = 6.0
    for i, (label, cell, note) in enumerate(rows):
        h = heights[i]
        base = y + h / 2 + 4 - LINE_H * (len(wrapped[i]) - 1) / 2
        if cell is None:
            s.text(4, y + h - 6, label, bold=True)
            y += h
            continue
        for k, line in enumerate(wrapped[i]):
            s.text(label_w - 8, base + k * LINE_H, line, anchor="end")
        mid = y + h / 2 + 4
        attrs = {"class": "count", "data-count": str(cell)}
        if isinstance(cell, int):
            w = max(2.0, BAR_W * cell / top)
            s.rect(label_w, y + 4, w, h - 8, fill=PALETTE[0], attrs={"class": "regimen-bar"})
            s.text(label_w + w + 6, mid, f"{cell}", bold=True, attrs=attrs)
            if note:
                s.text(label_w + w + 6 + text_width(f"{cell} ", FONT_PX), mid, f"· {note}")
        else:
            s.text(label_w + 4, mid, f"{cell} (fewer than {str(cell).lstrip('<')})", attrs=attrs)
        y += h
    return s


# -- Kaplan–Meier curves -------------------------------------------------------------------

PLOT_W, PLOT_H = 560, 260
LEFT, TOP = 56, 16
LEGEND_CHARS = 70


def _ticks(xmax: float, base: int) -> list[float]:
    step = base
    while xmax / step > 8:
        step += base
    return [i * step for i in range(int(xmax // step) + 1)]


def km_scene(
    answer: Mapping[str, Any], *, title: str, axis: str, chart_id: str = "km", tests: str = ""
) -> Scene:
    """Kaplan–Meier curves of a survival answer, the 95 % band for one or two groups, a
    legend and the number at risk under the axis (the answer's at-risk rows)."""
    title = f"Kaplan–Meier: {title}"
    curves = [c for c in answer.get("curves", []) if c.get("points")]
    if not curves:
        return _sentence("Too few patients to show a survival curve.", title, chart_id)
    colour = dict(zip([c["group"] for c in curves], PALETTE * 3, strict=False))
    xmax = max(float(c["shown_until_day"] or c["points"][-1]["day"]) for c in curves)
    every = int(answer.get("parameters", {}).get("at_risk_every_days") or 180)
    ticks = _ticks(max(xmax, every), every)
    xr = ticks[-1] if ticks[-1] >= xmax else ticks[-1] + (ticks[1] - ticks[0])
    ticks = [*ticks, xr] if xr not in ticks else ticks

    def px(day: float) -> float:
        return LEFT + PLOT_W * day / xr

    def py(s: float) -> float:
        return TOP + PLOT_H * (1 - s)

    legend = [(c, label_lines(_legend(c), LEGEND_CHARS)) for c in curves]
    legend_h = sum(LINE_H * len(ls) + 4 for _, ls in legend)
    y_axis = TOP + PLOT_H
    y_legend = y_axis + 58
    y_risk = y_legend + legend_h + 18
    test_lines = label_lines(tests, 90) if tests else []
    height = y_risk + LINE_H * (len(curves) + 1) + LINE_H * len(test_lines) + 12
    desc = "; ".join(
        f"{c['group']}: {_num(c['patients'])} patients, {_num(c['events'])} events, "
        f"median {_days(c['median'])}"
        for c in curves
    )
    s = Scene(LEFT + PLOT_W + 40, int(height), title, desc, chart_id)
    for v in (0, 0.25, 0.5, 0.75, 1):
        s.polyline([(LEFT, py(v)), (LEFT + PLOT_W, py(v))], stroke=GRID)
        s.text(LEFT - 6, py(v) + 4, f"{round(v * 100)}%", anchor="end", fill=MUTED)
    s.polyline([(LEFT, TOP), (LEFT, y_axis), (LEFT + PLOT_W, y_axis)], stroke=INK)
    for t in ticks:
        s.polyline([(px(t), y_axis), (px(t), y_axis + 4)], stroke=INK)
        s.text(px(t), y_axis + 17, f"{int(t)}", anchor="middle", fill=MUTED)
    s.text(LEFT + PLOT_W / 2, y_axis + 33, axis, anchor="middle")
    for c in curves:
        pts = c["points"]
        if len(curves) <= 2:
            band = [(px(0), py(1))]
            low = [(px(0), py(1))]
            prev_u = prev_l = 1.0
            for p in pts:
                u = p["upper"] if p["upper"] is not None else prev_u
                lo = p["lower"] if p["lower"] is not None else prev_l
                band += [(px(p["day"]), py(prev_u)), (px(p["day"]), py(u))]
                low += [(px(p["day"]), py(prev_l)), (px(p["day"]), py(lo))]
                prev_u, prev_l = u, lo
            s.polygon(band + low[::-1], fill=colour[c["group"]], opacity=0.12)
        step = [(px(0), py(1))]
        prev = 1.0
        for p in pts:
            step += [(px(p["day"]), py(prev)), (px(p["day"]), py(p["survival"]))]
            prev = p["survival"]
        s.polyline(
            step,
            stroke=colour[c["group"]],
            width=2,
            attrs={"class": "km-curve", "data-group": c["group"]},
        )
        end = step[-1]
        s.rect(end[0] - 2.5, end[1] - 2.5, 5, 5, fill=colour[c["group"]])
    y = y_legend
    for c, ls in legend:
        s.rect(LEFT, y - 9, 14, 4, fill=colour[c["group"]])
        for i, line in enumerate(ls):
            s.text(LEFT + 20, y + i * LINE_H, line)
        y += LINE_H * len(ls) + 4
    s.text(4, y_risk, "Number at risk", bold=True)
    for i, c in enumerate(curves):
        yy = y_risk + LINE_H * (i + 1)
        s.rect(LEFT - 30, yy - 8, 14, 4, fill=colour[c["group"]])
        at = {float(r["day"]): r["at_risk"] for r in c["at_risk"]}
        for t in ticks:
            if float(t) in at:
                s.text(
                    px(t),
                    yy,
                    str(at[float(t)]),
                    anchor="middle",
                    attrs={"class": "count", "data-count": str(at[float(t)])},
                )
    y = y_risk + LINE_H * (len(curves) + 1) + 6
    for line in test_lines:
        s.text(4, y, line, fill=MUTED)
        y += LINE_H
    return s


def _legend(c: Mapping[str, Any]) -> str:
    return (
        f"{c['group']}: {_num(c['patients'])} patients, {_num(c['events'])} events, median "
        f"{_days(c['median'])}"
        + (
            f"; shown to day {int(c['shown_until_day'])}"
            if c.get("shown_until_day") is not None
            else ""
        )
    )


def _num(v: Any) -> str:
    return str(v)


def _days(m: Mapping[str, Any] | None) -> str:
    if not m or m.get("day") is None:
        return "not reached"
    lo = "…" if m.get("lower") is None else f"{int(m['lower'])}"
    hi = "…" if m.get("upper") is None else f"{int(m['upper'])}"
    return f"{int(m['day'])} days (95% CI {lo}–{hi})"


def tests_sentence(answer: Mapping[str, Any]) -> str:
    """The log-rank and Cox results in one line (empty when there is one group)."""
    parts = []
    lr = answer.get("logrank")
    if lr:
        parts.append(
            f"log-rank χ² {lr['chisq']}, {lr['df']} df, p = {lr['p']}"
            if lr.get("shown")
            else f"log-rank {lr['reason']}"
        )
    cx = answer.get("cox")
    if cx and cx.get("shown"):
        parts.append(
            f"hazard ratio {cx['compared']} vs {cx['reference']}: {cx['hazard_ratio']} "
            f"(95% CI {cx['lower']}–{cx['upper']}), p = {cx['p']}"
        )
    return "; ".join(parts)


# -- CSV of the disclosed numbers ----------------------------------------------------------


def _csv(notes: Sequence[str], header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    for note in notes:
        buf.write(f"# {note}\n")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        w.writerow(["" if v is None else v for v in row])
    return buf.getvalue()


def pathways_csv(answer: Mapping[str, Any], notes: Sequence[str]) -> str:
    """The disclosed pathway tree: one row per shown cell (its pathway so far)."""
    rows: list[list[Any]] = []

    def walk(entries: Sequence[Mapping[str, Any]], line: int, before: list[str]) -> None:
        for e in entries:
            rows.append([line, " → ".join(before) or "", e["regimen"], e["patients"]])
            walk(e.get("next", []), line + 1, [*before, e["regimen"]])

    walk(answer["pathways"].get("first_line", []), 1, [])
    return _csv(notes, ["line", "after", "regimen", "patients"], rows)


def regimens_csv(answer: Mapping[str, Any], notes: Sequence[str]) -> str:
    """The regimen × line table with time on treatment and to next treatment."""

    def q(v: Mapping[str, Any] | None, k: str) -> Any:
        return None if not v else v.get(k)

    rows = []
    for e in answer["lines"]:
        for r in e["regimens"]:
            tot, ttn = r.get("time_on_treatment"), r.get("time_to_next")
            rows.append(
                [e["line"], r["regimen"], r["patients"]]
                + [q(tot, k) for k in ("median_days", "q1_days", "q3_days")]
                + [q(ttn, k) for k in ("median_days", "q1_days", "q3_days")]
            )
    header = [
        "line",
        "regimen",
        "patients",
        "time_on_treatment_median_days",
        "time_on_treatment_q1_days",
        "time_on_treatment_q3_days",
        "time_to_next_treatment_median_days",
        "time_to_next_treatment_q1_days",
        "time_to_next_treatment_q3_days",
    ]
    return _csv(notes, header, rows)


def km_csv(answer: Mapping[str, Any], notes: Sequence[str]) -> str:
    """Every shown point of every disclosed curve, and each group's at-risk table."""
    rows = []
    for c in answer["curves"]:
        for p in c["points"]:
            rows.append(
                [
                    c["group"],
                    "curve",
                    p["day"],
                    p["at_risk"],
                    p["events"],
                    p["censored"],
                    p["survival"],
                    p["lower"],
                    p["upper"],
                ]
            )
        for r in c["at_risk"]:
            rows.append([c["group"], "at_risk_table", r["day"], r["at_risk"], *[None] * 5])
    header = ["group", "row", "day", "at_risk", "events", "censored", "survival"]
    return _csv(notes, [*header, "lower_95", "upper_95"], rows)


def tests_csv(answer: Mapping[str, Any], notes: Sequence[str]) -> str:
    """The groups' sizes and medians, the log-rank test and the Cox hazard ratio."""
    rows: list[list[Any]] = []
    for c in answer["curves"]:
        m = c.get("median") or {}
        median = [m.get("day"), m.get("lower"), m.get("upper")]
        rows.append(["group", c["group"], c["patients"], c["events"], *median, None, None])
    lr = answer.get("logrank")
    if lr and lr.get("shown"):
        rows.append(["logrank", "all groups", None, None, None, None, None, lr["chisq"], lr["p"]])
    cx = answer.get("cox")
    if cx and cx.get("shown"):
        hr = [cx["hazard_ratio"], cx["lower"], cx["upper"], None, cx["p"]]
        pair = f"{cx['compared']} vs {cx['reference']}"
        rows.append(["cox_hazard_ratio", pair, cx["patients"], cx["events"], *hr])
    header = ["row", "group", "patients", "events", "value", "lower_95", "upper_95"]
    return _csv(notes, [*header, "chisq", "p"], rows)
