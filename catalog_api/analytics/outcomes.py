"""The survival answer: disclosed Kaplan–Meier curves of one or more groups, the log-rank
test for k ≥ 2 groups and a Cox hazard ratio for two (optionally adjusted for age at
diagnosis, sex and stage), with every number through :mod:`.disclosure`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from catalog_api.analytics.disclosure import INTERVAL_DAYS, disclose_curve, sig
from catalog_api.analytics.endpoints import Rows, endpoint
from catalog_api.analytics.errors import AnalyticsInputError
from catalog_api.analytics.journeys import SEXES, STAGES, Journeys
from catalog_api.analytics.survival import cox, logrank
from catalog_api.discovery.disclosure import DisclosureControl

#: Covariates a Cox model may be adjusted for.
ADJUSTMENTS = ("age", "sex", "stage")
#: How one cohort may be split into the groups of a survival question (``group_by``):
#: by the regimen of line 1, 2 or 3, by centre, sex or stage.
GROUPINGS = ("line1_regimen", "line2_regimen", "line3_regimen", "centre", "sex", "stage")
#: Most groups a split shows (the smallest beyond it are merged into "other").
MAX_GROUPS = 12


@dataclass(frozen=True)
class Group:
    """One group of a survival question: a name and the slot mask of its patients."""

    name: str
    mask: np.ndarray
    n: int


def categories(j: Journeys, kind: str) -> tuple[np.ndarray, list[str]]:
    """``codes[slot]``: each slot's category under grouping ``kind`` (an index into the
    names; the last name is the "not known" one: no such line, unknown centre)."""
    if kind not in GROUPINGS:
        raise AnalyticsInputError(f"cannot group by {kind!r}; known: {', '.join(GROUPINGS)}")
    if kind.endswith("_regimen"):
        line = int(kind.removeprefix("line").removesuffix("_regimen"))
        names = [*j.regimens, f"no line {line} recorded"]
        codes = np.full(j.n_slots, len(names) - 1, dtype=np.int64)
        sel = np.flatnonzero(j.l_line == line)
        slots, first = np.unique(j.l_slot[sel], return_index=True)
        codes[slots] = j.l_regimen[sel[first]]
        return codes, names
    raw, known = {
        "centre": (j.centre, list(j.centres)),
        "sex": (j.sex, list(SEXES)),
        "stage": (j.stage, list(STAGES)),
    }[kind]
    names = [*known, "unknown"]
    codes = np.asarray(raw, dtype=np.int64).copy()
    codes[(codes < 0) | (codes >= len(known))] = len(names) - 1
    return codes, names


def split_cohort(
    j: Journeys, slots: np.ndarray, control: DisclosureControl, kind: str, line: int | None
) -> tuple[list[tuple[str, np.ndarray]], dict[str, Any]]:
    """The cohort's ``slots`` split by ``kind`` into disclosure-controlled groups: the
    categories with at least the threshold of patients (largest first, at most
    :data:`MAX_GROUPS`), the rest merged into "other"; an "other" below the threshold is
    merged into the largest group of a known category (not "no line K recorded" unless it
    is the only one; named so), so that no group's difference from the cohort isolates
    fewer than the threshold. With an endpoint from line N (``line``), a
    ``lineK_regimen`` split (K ≤ N) leaves out the patients without line K (they have no
    time from line N) when they are at least the threshold, else they join "other" like
    a small category (they add no rows to it). Returns ``[(name, slots)]`` and the
    split's terms (names, the rule, the patients left out)."""
    codes, names = categories(j, kind)
    mine = codes[slots]
    none = len(names) - 1
    t = max(control.threshold, 1)
    present, counts = np.unique(mine, return_counts=True)
    line_based = False
    if kind.endswith("_regimen") and line is not None:
        line_based = int(kind.removeprefix("line").removesuffix("_regimen")) <= line
    order = np.lexsort((present, -counts))
    big = [
        int(present[i]) for i in order if counts[i] >= t and not (line_based and present[i] == none)
    ][: MAX_GROUPS - 1]
    groups = [(names[c], slots[mine == c]) for c in big]
    n_none = int((mine == none).sum())
    left_out = n_none if line_based and n_none >= t else 0
    rest = slots[~np.isin(mine, big) & ~((mine == none) & (left_out > 0))]
    folded = None
    if len(rest) >= t:
        groups.append(("other", rest))
    elif len(rest) and groups:
        # the largest group of a known category ("no line 1 recorded" only if none is)
        at = next((i for i, c in enumerate(big) if c != none), 0)
        name, first = groups[at]
        folded = f"{name} (with fewer than {t} of other {_WORD[kind]})"
        groups[at] = (folded, np.sort(np.concatenate([first, rest])))
    terms = {
        "by": kind,
        "groups": [name for name, _ in groups],
        "other_folded_into": folded,
        "without_the_line": control.cell(left_out) if left_out else 0,
        "rule": (
            f"{_WORD[kind]} with fewer than {t} patients are merged into 'other'; an 'other' "
            f"with fewer than {t} is merged into the largest group of a known category "
            "(named so)"
        ),
    }
    return groups, terms


_WORD = {
    "line1_regimen": "first-line regimens",
    "line2_regimen": "second-line regimens",
    "line3_regimen": "third-line regimens",
    "centre": "centres",
    "sex": "sexes",
    "stage": "stages",
}


def check_disjoint(groups: Sequence[Group]) -> None:
    """Refuse groups that share patients (a test compares disjoint groups)."""
    for a in range(len(groups)):
        for b in range(a + 1, len(groups)):
            if (groups[a].mask & groups[b].mask).any():
                raise AnalyticsInputError(
                    f"groups {groups[a].name!r} and {groups[b].name!r} share patients; make "
                    "the definitions mutually exclusive (e.g. add a 'not' criterion)"
                )


def _design(
    j: Journeys, slots: np.ndarray, group: np.ndarray, adjust: Sequence[str]
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Columns of the Cox model (the group indicator first) and the rows kept (complete
    cases: a missing age drops the row; an unknown sex or stage is its own level)."""
    cols = [group.astype(float)]
    names = ["group"]
    keep = np.ones(len(slots), dtype=bool)
    if "age" in adjust:
        age = j.age[slots]
        keep &= ~np.isnan(age)
        cols.append(np.nan_to_num(age))
        names.append("age")
    for kind, codes, levels, ref in (
        ("sex", j.sex[slots], SEXES, "female"),
        ("stage", j.stage[slots], STAGES, "I"),
    ):
        if kind not in adjust:
            continue
        present = [i for i in range(len(levels)) if (codes[keep] == i).any()]
        base = levels.index(ref) if levels.index(ref) in present else (present or [0])[0]
        for i in present:
            if i != base:
                cols.append((codes == i).astype(float))
                names.append(f"{kind}={levels[i]}")
    x = np.column_stack(cols)[keep]
    return x, names, keep


def survival_answer(
    j: Journeys,
    groups: Sequence[Group],
    control: DisclosureControl,
    *,
    kind: str,
    line: int | None = None,
    interval: int = INTERVAL_DAYS,
    adjust: Sequence[str] = (),
    at_risk_every: int = 180,
) -> dict[str, Any]:
    """The disclosed survival answer of ``groups`` for endpoint ``kind``."""
    check_disjoint(groups)
    bad = [a for a in adjust if a not in ADJUSTMENTS]
    if bad:
        raise AnalyticsInputError(
            f"cannot adjust for {', '.join(bad)}; known: {', '.join(ADJUSTMENTS)}"
        )
    rows: list[Rows] = [endpoint(j, g.mask, kind, line, g.n) for g in groups]
    t = control.threshold
    curves = []
    for g, r in zip(groups, rows, strict=True):
        dc = disclose_curve(r.time, r.event, control, interval)
        last = dc.curve.time[-1] if dc.curve is not None and len(dc.curve.time) else 0.0
        times = np.arange(0, last + 1, at_risk_every)
        curves.append(
            {
                "group": g.name,
                "cohort_patients": control.cell(g.n),
                "left_out": control.cell(r.excluded),
                **dc.to_json(times.tolist()),
            }
        )
    answer: dict[str, Any] = {"curves": curves, "logrank": None, "cox": None}
    big_enough = all(len(r.time) >= t and int(r.event.sum()) >= t for r in rows)
    if len(groups) >= 2:
        if not big_enough:
            answer["logrank"] = {"shown": False, "reason": _too_small(t)}
        else:
            time = np.concatenate([r.time for r in rows])
            event = np.concatenate([r.event for r in rows])
            code = np.concatenate([np.full(len(r.time), i) for i, r in enumerate(rows)])
            lr = logrank(time, event, code, [g.name for g in groups])
            answer["logrank"] = {
                "shown": True,
                "chisq": sig(lr.chisq),
                "df": lr.df,
                "p": sig(lr.p),
                "observed": [control.cell(int(v)) for v in lr.observed],
                "expected": [sig(v) for v in lr.expected],
            }
    if len(groups) == 2:
        if not big_enough:
            answer["cox"] = {"shown": False, "reason": _too_small(t)}
        else:
            answer["cox"] = _cox(j, rows, groups, control, adjust)
    return answer


def _too_small(t: int) -> str:
    return f"not shown: every group needs at least {t} patients and {t} events"


def _cox(
    j: Journeys,
    rows: Sequence[Rows],
    groups: Sequence[Group],
    control: DisclosureControl,
    adjust: Sequence[str],
) -> dict[str, Any]:
    slots = np.concatenate([r.slots for r in rows])
    time = np.concatenate([r.time for r in rows])
    event = np.concatenate([r.event for r in rows])
    group = np.concatenate([np.full(len(r.time), i) for i, r in enumerate(rows)])
    x, names, keep = _design(j, slots, group, adjust)
    fit = cox(time[keep], event[keep], x, names)
    return {
        "shown": True,
        "reference": groups[0].name,
        "compared": groups[1].name,
        "hazard_ratio": sig(fit.hr[0]),
        "lower": sig(fit.lower[0]),
        "upper": sig(fit.upper[0]),
        "p": sig(fit.p[0]),
        "adjusted_for": list(adjust),
        "covariates": names[1:],
        "patients": control.cell(fit.n),
        "events": control.cell(fit.events),
        "ties": "efron",
    }
