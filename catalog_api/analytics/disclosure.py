"""Disclosure control of analytics answers, on top of the count rules.

The count rules are :class:`catalog_api.discovery.disclosure.DisclosureControl`'s:
a count below the threshold *t* (default 5) is shown as ``"<t"``, any other count is
rounded half up to a multiple of the rounding *r* (default 5); small categories of a
breakdown are merged into ``"other"``. Analytics answers add (``docs/analytics.md``):

* **Pathways and regimen tables** (TreatmentPatterns' ``minCellCount``): every cell goes
  through :meth:`DisclosureControl.breakdown`: the next-line regimens of a pathway
  below *t* are merged into ``"other"`` (itself ``"<t"`` if small), ``"other"`` is never
  expanded, and the Sankey links are sums of the disclosed tree cells only.
* **Survival curves** (OpenSAFELY's kaplan-meier-function): times are grouped into
  intervals of ``interval_days`` (default 30: an event or censoring on day *d* is counted at
  the end of interval ⌈d / w⌉, day 0 in the first); the cumulative event and censoring
  counts per interval and the group size are rounded by the count rule with the unit
  *m* = max(*r*, *t*), so that every step of the curve is a multiple of *m* (0 or ≥ *t*);
  the at-risk, event and censoring numbers and the curve itself (Kaplan–Meier with the
  log–log band) are recomputed from those rounded counts; the curve stops before the
  first interval whose risk set, true or rounded, is below *t*, or whose rounded events
  would leave fewer than *t* of its rounded risk set (so rounding never draws a curve
  down to 0), and says why it stops
  (``stopped_because``: the true risk set fell below *t*; only the rounded one did; the
  follow-up ended; the group is below *t*), a reason, never the count. Medians, quartiles and
  their confidence limits are read off the disclosed curve, so they have the interval's
  resolution. No count in the answer is between 1 and *t* − 1.
* **Tests and models** (log-rank, Cox) are computed on the exact rows (they are not
  counts); they are shown to three significant digits with their groups' sizes and events
  through the count rule, and only when every group has at least *t* patients and *t*
  events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from catalog_api.analytics.survival import QUANTILE_TOLERANCE, Curve, curve_from_counts
from catalog_api.discovery.disclosure import Cell, DisclosureControl

#: Default interval of disclosed survival curves, days.
INTERVAL_DAYS = 30

#: Why a disclosed curve stops (``DisclosedCurve.stopped_because``): the true risk set of
#: the next interval is below the threshold; only its rounded risk set is; no patient is
#: followed beyond the last interval shown; the group itself is below the threshold.
STOP_RISK_SET = "risk_set_below_threshold"
STOP_ROUNDED_RISK_SET = "rounded_risk_set_below_threshold"
STOP_FOLLOW_UP = "follow_up_ended"
STOP_GROUP = "group_below_threshold"
STOP_REASONS = (STOP_RISK_SET, STOP_ROUNDED_RISK_SET, STOP_FOLLOW_UP, STOP_GROUP)


def step_unit(control: DisclosureControl) -> int:
    """The unit cumulative survival counts are rounded to: max(rounding, threshold)."""
    return max(control.rounding, control.threshold, 1)


def rounded(values: np.ndarray, unit: int) -> np.ndarray:
    """Counts rounded by the count rule (``disclose_count`` with no threshold: half up to a
    multiple of ``unit``, zero kept), vectorised over an array of any shape (thousands of
    interval counts per answer); a test checks it against ``disclose_count``."""
    v = np.asarray(values, dtype=np.int64)
    return (2 * v + unit) // (2 * unit) * unit if unit > 1 else v


@dataclass(frozen=True)
class DisclosedCurve:
    """A survival curve computed from rounded interval counts (see the module doc):
    ``curve`` ends before the first interval with a risk set below the threshold."""

    n: Cell  # the group's patients, by the count rule
    events: Cell
    curve: Curve | None  # None: the group is below the threshold
    interval_days: int
    unit: int
    stopped_at: float | None  # the first interval end not shown (None: shown to the end)
    stopped_because: str = STOP_FOLLOW_UP  # one of STOP_REASONS

    def to_json(self, at_risk_times: Sequence[float]) -> dict[str, Any]:
        """The curve as the API answers it: points, median with CI, at-risk table."""
        out: dict[str, Any] = {
            "patients": self.n,
            "events": self.events,
            "interval_days": self.interval_days,
            "count_unit": self.unit,
            "shown_until_day": None,
            "stopped_at_day": self.stopped_at,
            "stopped_because": self.stopped_because,
            "points": [],
            "median": None,
            "quartiles": None,
            "at_risk": [],
        }
        c = self.curve
        if c is None or not len(c.time):
            return out
        out["shown_until_day"] = float(c.time[-1])
        out["points"] = [
            {
                "day": float(c.time[i]),
                "at_risk": int(c.n_risk[i]),
                "events": int(c.n_event[i]),
                "censored": int(c.n_censor[i]),
                "survival": _sig(c.surv[i], 4),
                "lower": _sig(c.lower[i], 4),
                "upper": _sig(c.upper[i], 4),
            }
            for i in range(len(c.time))
        ]
        out["median"] = _quantile(c, 0.5)
        out["quartiles"] = {"q1": _quantile(c, 0.25), "q3": _quantile(c, 0.75)}
        last = c.time[-1]
        rows = []
        for t in at_risk_times:
            if t >= last:  # only times inside the shown intervals
                break
            rows.append({"day": float(t), "at_risk": int(at_risk_at(c, t))})
        out["at_risk"] = rows
        return out


def at_risk_at(c: Curve, t: float) -> int:
    """Patients at risk in the interval after day ``t`` of a disclosed curve (``t`` before
    its last shown interval's end)."""
    pos = min(int(np.searchsorted(c.time, t, side="right")), len(c.time) - 1)
    return int(c.n_risk[pos])


def _sig(x: float, digits: int) -> float | None:
    if not np.isfinite(x):
        return None
    return float(f"{x:.{digits}g}")


def _quantile(c: Curve, p: float) -> dict[str, float | None]:
    q = c.quantile(p)

    def v(x: float) -> float | None:
        return None if np.isnan(x) else float(x)

    return {"day": v(q.time), "lower": v(q.lower), "upper": v(q.upper)}


def interval_ends(time: np.ndarray, interval: int) -> np.ndarray:
    """The end of each time's interval: ⌈t / w⌉·w, day 0 in the first interval."""
    return np.maximum(np.ceil(time / interval), 1) * interval


def disclose_curve(
    time: np.ndarray,
    event: np.ndarray,
    control: DisclosureControl,
    interval: int = INTERVAL_DAYS,
    conf_level: float = 0.95,
) -> DisclosedCurve:
    """The disclosed Kaplan–Meier curve of the rows (see the module doc)."""
    t = control.threshold
    n = len(time)
    e = np.asarray(event, dtype=bool)
    unit = step_unit(control)
    if n < max(t, 1):
        return DisclosedCurve(
            control.cell(n), control.cell(int(e.sum())), None, interval, unit, 0, STOP_GROUP
        )
    ends = interval_ends(np.asarray(time, dtype=float), interval)
    k = (ends // interval).astype(np.int64)
    kmax = int(k.max())
    d = np.bincount(k[e], minlength=kmax + 1)[1:]
    c = np.bincount(k[~e], minlength=kmax + 1)[1:]
    cum_d, cum_c = np.cumsum(d), np.cumsum(c)
    true_risk = n - np.concatenate([[0], (cum_d + cum_c)[:-1]])
    rd, rc = rounded(cum_d, unit), rounded(cum_c, unit)
    rn = int(rounded(np.array([n]), unit)[0])
    risk = rn - np.concatenate([[0], (rd + rc)[:-1]])
    ev = np.diff(np.concatenate([[0], rd]))
    ce = np.diff(np.concatenate([[0], rc]))
    # the rounded steps may ask more events than the rounded risk set holds: clamp
    ev = np.minimum(ev, np.maximum(risk, 0))
    ce = np.minimum(ce, np.maximum(risk - ev, 0))
    # an interval is shown only while its risk set (true and rounded) is at least t and
    # its rounded events leave at least t of the rounded risk set: otherwise rounding
    # alone could draw the curve down to 0 (5 at risk, 3 deaths rounded to 5)
    low = np.flatnonzero((true_risk < t) | (risk < max(t, 1)) | (risk - ev < max(t, 1)))
    stop = int(low[0]) if len(low) else len(risk)
    days = np.arange(1, kmax + 1, dtype=float) * interval
    curve = curve_from_counts(days[:stop], risk[:stop], ev[:stop], ce[:stop], conf_level=conf_level)
    stopped = float(days[stop]) if stop < len(days) else None
    if stop == len(days):
        because = STOP_FOLLOW_UP
    else:  # a reason, not the count: "fewer than t", as a "<t" cell says
        because = STOP_RISK_SET if true_risk[stop] < t else STOP_ROUNDED_RISK_SET
    return DisclosedCurve(
        control.cell(n), control.cell(int(e.sum())), curve, interval, unit, stopped, because
    )


def disclose_tree(
    control: DisclosureControl, counts: dict[tuple[str, ...], int], root: int, depth: int
) -> dict[str, Any]:
    """The pathway tree of ``counts`` (prefix of regimens by line → patients; ``root`` the
    patients with a first line) disclosed level by level: each node's next-line regimens
    and its "no further line" go through :meth:`DisclosureControl.breakdown`; "other" and
    suppressed cells are not expanded."""
    children: dict[tuple[str, ...], dict[str, int]] = {}
    for prefix, n in counts.items():
        children.setdefault(prefix[:-1], {})[prefix[-1]] = n

    def node(prefix: tuple[str, ...], n: int) -> list[dict[str, Any]]:
        if len(prefix) >= depth:
            return []
        kids = dict(children.get(prefix, {}))
        rest = n - sum(kids.values())
        if prefix and rest > 0:
            kids[NO_FURTHER] = rest
        if not kids:
            return []
        shown = control.breakdown(kids)
        out = []
        for name, cell in shown.items():
            entry: dict[str, Any] = {"regimen": name, "patients": cell}
            expandable = isinstance(cell, int) and name not in (OTHER, NO_FURTHER) and name in kids
            if expandable:
                entry["next"] = node((*prefix, name), kids[name])
            out.append(entry)
        return out

    return {"patients": control.cell(root), "first_line": node((), root)}


OTHER = "other"
NO_FURTHER = "(no further line)"


def sankey(tree: dict[str, Any]) -> dict[str, Any]:
    """Nodes (line, regimen) and links between consecutive lines, summed from the
    disclosed tree's numeric cells only (so they disclose nothing the tree does not)."""
    nodes: dict[tuple[int, str], int] = {}
    links: dict[tuple[int, str, str], int] = {}

    def walk(entries: list[dict[str, Any]], line: int, parent: str | None) -> None:
        for e in entries:
            cell = e["patients"]
            if not isinstance(cell, int):
                continue
            nodes[(line, e["regimen"])] = nodes.get((line, e["regimen"]), 0) + cell
            if parent is not None:
                key = (line - 1, parent, e["regimen"])
                links[key] = links.get(key, 0) + cell
            walk(e.get("next", []), line + 1, e["regimen"])

    walk(tree.get("first_line", []), 1, None)
    return {
        "nodes": [{"line": k[0], "regimen": k[1], "patients": v} for k, v in nodes.items()],
        "links": [
            {"from_line": k[0], "from": k[1], "to": k[2], "patients": v} for k, v in links.items()
        ],
    }


def sig(x: float, digits: int = 3) -> float | None:
    """``x`` to ``digits`` significant digits (None when not finite)."""
    return _sig(float(x), digits)


def disclosed_quantiles(
    time: np.ndarray,
    event: np.ndarray,
    group: np.ndarray,
    n_groups: int,
    control: DisclosureControl,
    interval: int = INTERVAL_DAYS,
    probs: Sequence[float] = (0.25, 0.5, 0.75),
) -> np.ndarray:
    """``quantiles[g, i]``: the time quantile ``probs[i]`` of group ``g``'s disclosed curve
    (:func:`disclose_curve` then :meth:`Curve.quantile`, NaN when not reached or the group
    is below the threshold), for many groups at once (the regimen table asks hundreds)."""
    t, unit = control.threshold, step_unit(control)
    out = np.full((n_groups, len(probs)), np.nan)
    if not len(time) or not n_groups:
        return out
    e = np.asarray(event, dtype=bool)
    g = np.asarray(group, dtype=np.int64)
    k = (interval_ends(np.asarray(time, dtype=float), interval) // interval).astype(np.int64)
    kk = int(k.max())
    cell = g * kk + (k - 1)
    d = np.bincount(cell[e], minlength=n_groups * kk).reshape(n_groups, kk)
    c = np.bincount(cell[~e], minlength=n_groups * kk).reshape(n_groups, kk)
    n = np.bincount(g, minlength=n_groups)
    cum_d, cum_c = np.cumsum(d, axis=1), np.cumsum(c, axis=1)
    zero = np.zeros((n_groups, 1), dtype=np.int64)
    true_risk = n[:, None] - np.hstack([zero, (cum_d + cum_c)[:, :-1]])
    rd, rc = rounded(cum_d, unit), rounded(cum_c, unit)
    risk = rounded(n, unit)[:, None] - np.hstack([zero, (rd + rc)[:, :-1]])
    ev = np.minimum(np.diff(np.hstack([zero, rd]), axis=1), np.maximum(risk, 0))
    keep = (true_risk >= t) & (risk >= max(t, 1)) & (risk - ev >= max(t, 1))
    shown = np.cumprod(keep, axis=1).astype(bool)
    shown &= (n >= max(t, 1))[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(shown & (risk > 0), 1.0 - ev / np.where(risk > 0, risk, 1), 1.0)
    y = 1.0 - np.cumprod(factor, axis=1)
    last = shown.sum(axis=1)  # intervals shown per group
    days = np.arange(1, kk + 1, dtype=float) * interval
    rows = np.flatnonzero(last > 0)
    ylast = y[rows, last[rows] - 1]
    xmax = days[last[rows] - 1]
    masked = np.where(shown[rows], y[rows], -np.inf)
    tol = QUANTILE_TOLERANCE
    for i, p in enumerate(probs):
        hit1 = masked >= p - tol
        hit2 = masked >= p + tol
        x1 = days[np.argmax(hit1, axis=1)]
        x2 = days[np.argmax(hit2, axis=1)]
        q = np.where(hit2.any(axis=1), (x1 + x2) / 2, np.nan)
        q = np.where(np.abs(p - ylast) < tol, (x1 + xmax) / 2, q)
        q = np.where(ylast < p, np.nan, q)  # the curve never reaches p
        out[rows, i] = q
    return out
