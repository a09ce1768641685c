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

from catalog_api.analytics.disclosure import OTHER, disclose_tree, disclosed_quantiles, sankey
from catalog_api.analytics.endpoints import time_on_treatment, ttnt
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
    base = len(names) + 1
    key = np.zeros(len(m), dtype=np.int64)
    for k in range(1, max_lines + 1):
        valid = m[:, k - 1] >= 0
        if not valid.any():
            break
        key = key * base + (m[:, k - 1] + 1)  # one integer per prefix of length k
        uniq, counts = np.unique(key[valid], return_counts=True)
        for u, c in zip(uniq, counts, strict=True):
            codes, rest = [], int(u)
            for _ in range(k):
                rest, digit = divmod(rest, base)
                codes.append(digit - 1)
            out[tuple(names[x] for x in reversed(codes))] = int(c)
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
    """Patients per regimen among ``lines`` (one combined key: faster than unique rows)."""
    key = np.unique(j.l_regimen[lines].astype(np.int64) * j.n_slots + j.l_slot[lines])
    codes, counts = np.unique(key // j.n_slots, return_counts=True)
    return {j.regimens[int(c)]: int(n) for c, n in zip(codes, counts, strict=True)}


def _times(
    j: Journeys,
    lines: np.ndarray,
    cell: np.ndarray,
    n_cells: int,
    control: DisclosureControl,
    interval: int,
) -> dict[str, np.ndarray]:
    """Disclosed quartiles of time on treatment and time to next treatment per cell
    (``cell[i]`` the cell of line row ``lines[i]``), all cells at once."""
    out = {}
    for fn, name in ((time_on_treatment, "time_on_treatment"), (ttnt, "time_to_next")):
        time, event = fn(j, lines)
        ok = np.isfinite(time) & (time >= 0)
        out[name] = disclosed_quantiles(time[ok], event[ok], cell[ok], n_cells, control, interval)
    return out


def _quartiles(q: np.ndarray) -> dict[str, float | None] | None:
    if np.isnan(q).all():
        return None

    def v(x: float) -> float | None:
        return None if np.isnan(x) else float(x)

    return {"median_days": v(q[1]), "q1_days": v(q[0]), "q3_days": v(q[2])}


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
    code_of = {name: i for i, name in enumerate(j.regimens)}
    shown: dict[tuple[int, int], int] = {}  # (line, regimen code) → cell number
    per_line = []
    for line in range(1, max_lines + 1):
        mine = lines[j.l_line[lines] == line]
        regimens = control.breakdown(_by_regimen(j, mine)) if len(mine) else {}
        for name, count in regimens.items():
            if name != OTHER and isinstance(count, int):
                shown[(line, code_of[name])] = len(shown)
        per_line.append((line, mine, regimens))
    # time on treatment and to next treatment of every shown cell, in one pass
    stride = len(j.regimens) + 1
    lut = np.full((max_lines + 1) * stride, -1, dtype=np.int64)
    for (line, code), no in shown.items():
        lut[line * stride + code] = no
    cell = lut[j.l_line[lines].astype(np.int64) * stride + j.l_regimen[lines]]
    timed = lines[cell >= 0]
    times = _times(j, timed, cell[cell >= 0], len(shown), control, interval)
    for line, mine, regimens in per_line:
        n_line = _patients(j, mine)
        rows = []
        for name, count in regimens.items():
            row: dict[str, Any] = {"regimen": name, "patients": count}
            at = shown.get((line, code_of.get(name, -1)))
            if at is not None:
                for key, q in times.items():
                    row[key] = _quartiles(q[at])
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
