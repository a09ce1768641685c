"""Treatment patterns of a cohort: pathways (regimen by line), counts of regimen × line
(with a breakdown), time on treatment and time to next treatment per regimen.

Exact counts first (:func:`pathway_counts`, :func:`regimen_counts`: never shown as they
are), then the disclosed answer (:func:`treatment_patterns`) through
:mod:`catalog_api.analytics.disclosure`. A patient's pathway is the regimens of lines 1, 2,
… up to ``max_lines`` (a regimen is a line's library name, else its drugs joined with
" + "); a pathway stops at the first missing line.

Parameters of a derivation are named once and returned with the answer
(TreatmentPatterns' habit): ``max_lines``, ``interval_days``, ``breakdown``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from catalog_api.analytics.disclosure import OTHER, disclose_curve, disclose_tree, sankey
from catalog_api.analytics.endpoints import line_rows
from catalog_api.analytics.journeys import Journeys
from catalog_api.discovery.disclosure import DisclosureControl

#: Most lines a pathway may follow.
MAX_LINES = 6


@dataclass(frozen=True)
class Breakdown:
    """A breakdown of the regimen table: ``masks[name]`` selects the line rows of one
    category (a line row may fall in several, e.g. overlapping variant groups)."""

    kind: str
    masks: dict[str, np.ndarray]


def cohort_lines(j: Journeys, mask: np.ndarray, max_lines: int) -> np.ndarray:
    """Line rows of the cohort's patients up to ``max_lines``."""
    return np.flatnonzero(mask[j.l_slot] & (j.l_line >= 1) & (j.l_line <= max_lines))


def pathway_matrix(j: Journeys, lines: np.ndarray, max_lines: int) -> np.ndarray:
    """One row per patient with a line: the regimen code of lines 1..max_lines, −1 after
    the first missing line."""
    slots, inv = np.unique(j.l_slot[lines], return_inverse=True)
    m = np.full((len(slots), max_lines), -1, dtype=np.int64)
    m[inv, j.l_line[lines].astype(np.int64) - 1] = j.l_regimen[lines]
    gone = np.cumsum(m < 0, axis=1) > 0
    m[gone] = -1
    return m


def pathway_counts(j: Journeys, mask: np.ndarray, max_lines: int) -> dict[tuple[str, ...], int]:
    """Exact patients per pathway prefix (regimen of line 1, of lines 1–2, …)."""
    m = pathway_matrix(j, cohort_lines(j, mask, max_lines), max_lines)
    out: dict[tuple[str, ...], int] = {}
    names = j.regimens
    for k in range(1, max_lines + 1):
        rows = m[m[:, k - 1] >= 0, :k]
        if not len(rows):
            break
        uniq, counts = np.unique(rows, axis=0, return_counts=True)
        for u, c in zip(uniq, counts, strict=True):
            out[tuple(names[int(x)] for x in u)] = int(c)
    return out


def regimen_counts(j: Journeys, mask: np.ndarray, max_lines: int) -> dict[tuple[int, str], int]:
    """Exact patients per (line, regimen) (a patient counted once per line and regimen)."""
    lines = cohort_lines(j, mask, max_lines)
    key = np.unique(
        np.stack([j.l_line[lines].astype(np.int64), j.l_regimen[lines], j.l_slot[lines]], 1),
        axis=0,
    )
    if not len(key):
        return {}
    pairs, counts = np.unique(key[:, :2], axis=0, return_counts=True)
    return {(int(p[0]), j.regimens[int(p[1])]): int(c) for p, c in zip(pairs, counts, strict=True)}


def _patients(j: Journeys, lines: np.ndarray) -> int:
    return len(np.unique(j.l_slot[lines]))


def _by_regimen(j: Journeys, lines: np.ndarray) -> dict[str, int]:
    pairs = np.unique(np.stack([j.l_regimen[lines], j.l_slot[lines]], 1), axis=0)
    codes, counts = np.unique(pairs[:, 0], return_counts=True)
    return {j.regimens[int(c)]: int(n) for c, n in zip(codes, counts, strict=True)}


def _times(
    j: Journeys, lines: np.ndarray, control: DisclosureControl, interval: int
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind, name in (("time_on_treatment", "time_on_treatment"), ("ttnt", "time_to_next")):
        rows = line_rows(j, lines, kind)
        curve = disclose_curve(rows.time, rows.event, control, interval).curve
        if curve is None or not len(curve.time):
            out[name] = None
            continue
        q = [curve.quantile(p).time for p in (0.25, 0.5, 0.75)]
        out[name] = {
            "median_days": None if np.isnan(q[1]) else q[1],
            "q1_days": None if np.isnan(q[0]) else q[0],
            "q3_days": None if np.isnan(q[2]) else q[2],
        }
    return out


def treatment_patterns(
    j: Journeys,
    mask: np.ndarray,
    control: DisclosureControl,
    *,
    max_lines: int = 3,
    interval: int = 30,
    breakdown: Breakdown | None = None,
) -> dict[str, Any]:
    """The disclosed treatment patterns of the patients of ``mask`` (see the module doc)."""
    lines = cohort_lines(j, mask, max_lines)
    counts = pathway_counts(j, mask, max_lines)
    root = sum(n for p, n in counts.items() if len(p) == 1)
    tree = disclose_tree(control, counts, root, max_lines)
    table = []
    for line in range(1, max_lines + 1):
        mine = lines[j.l_line[lines] == line]
        n_line = _patients(j, mine)
        regimens = control.breakdown(_by_regimen(j, mine)) if len(mine) else {}
        rows = []
        for name, cell in regimens.items():
            row: dict[str, Any] = {"regimen": name, "patients": cell}
            if name != OTHER and isinstance(cell, int):
                code = j.regimens.index(name)
                row.update(_times(j, mine[j.l_regimen[mine] == code], control, interval))
            rows.append(row)
        entry: dict[str, Any] = {"line": line, "patients": control.cell(n_line), "regimens": rows}
        if breakdown is not None:
            by: dict[str, Any] = {}
            for value, lmask in breakdown.masks.items():
                sub = mine[lmask[mine]]
                if len(sub):
                    by[value] = {
                        "patients": control.cell(_patients(j, sub)),
                        "regimens": control.breakdown(_by_regimen(j, sub)),
                    }
            entry["by"] = {"kind": breakdown.kind, "values": by}
        table.append(entry)
    return {
        "patients_with_a_line": control.cell(root),
        "pathways": tree,
        "sankey": sankey(tree),
        "lines": table,
    }


def slot_breakdown(j: Journeys, kind: str, codes: np.ndarray, names: Sequence[str]) -> Breakdown:
    """A breakdown by a per-slot category (``codes[slot]`` into ``names``; −1 unknown)."""
    per_line = codes[j.l_slot]
    masks = {}
    for i, name in enumerate(names):
        m = per_line == i
        if m.any():
            masks[str(name)] = m
    unknown = per_line < 0
    if unknown.any():
        masks["unknown"] = unknown
    return Breakdown(kind, masks)


def year_breakdown(j: Journeys) -> Breakdown:
    """A breakdown by the year each line started."""
    years = j.l_year
    masks = {str(int(y)): years == y for y in np.unique(years[~np.isnan(years)])}
    if np.isnan(years).any():
        masks["unknown"] = np.isnan(years)
    return Breakdown("start_year", masks)


def group_breakdown(j: Journeys, groups: dict[str, np.ndarray]) -> Breakdown:
    """A breakdown by named groups of slots (slot masks; groups may overlap)."""
    return Breakdown("group", {name: m[j.l_slot] for name, m in groups.items()})
