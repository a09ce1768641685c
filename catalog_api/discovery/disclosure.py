"""Disclosure control: suppression, rounding, a per-user query budget, differencing refusal.

Choices (see ``docs/discovery.md`` for the reasoning against SHRINE, Beacon v2/EGA and
DataSHIELD):

* every count shown (total, excluded by consent, denominator, every breakdown cell) goes
  through :meth:`DisclosureControl.cell`: below ``threshold`` it is the string ``"<5"``,
  otherwise it is rounded to the nearest multiple of ``rounding`` (deterministic, so
  repeating a query gives nothing new, unlike SHRINE's noise that must lock repeaters out);
* breakdowns list only categories at or above the threshold; the categories below it are
  merged into one ``"other"`` cell (itself suppressed/rounded), so that the answer never
  says which centre or tumour type holds one to four patients;
* a user may make ``budget`` count queries per sliding ``window`` seconds (HTTP 429 after);
* a query whose counted patient set differs from one of the user's recent answers (same
  window) by between 1 and ``threshold - 1`` patients is refused (HTTP 409) when both
  answers are shown as numbers: subtracted, they would isolate fewer than the threshold,
  however the definitions are written (a suppressed answer gives nothing to subtract).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pyroaring import BitMap

from catalog_api.discovery.errors import DifferencingRefusedError, QueryBudgetExceededError
from catalog_api.discovery.results import CountResult, Tally

Cell = int | str


def disclose_count(n: int, *, threshold: int, rounding: int) -> Cell:
    """The disclosed form of a true count ``n``: ``"<threshold"`` below the threshold, else
    rounded half up to a multiple of ``rounding``, never below the threshold."""
    if n < threshold:
        return f"<{threshold}"
    return int(_rounded(np.int64(n), threshold=threshold, rounding=rounding))


def _rounded(n: Any, *, threshold: int, rounding: int) -> Any:
    """Counts at or above ``threshold`` (a numpy integer or array) rounded half up to a
    multiple of ``rounding``, never below the threshold: the one place of the rule."""
    r = max(rounding, 1)
    return np.maximum(threshold, (2 * n + r) // (2 * r) * r) if r > 1 else n


def name_ranks(names: list[str]) -> np.ndarray:
    """``rank[i]``: the position of ``names[i]`` in name order (breakdown ties go by it)."""
    rank = np.empty(len(names), dtype=np.int64)
    rank[sorted(range(len(names)), key=names.__getitem__)] = np.arange(len(names))
    return rank


#: Recent answers kept per user for the differencing check.
MAX_RECENT = 200


@dataclass
class _Recent:
    at: float
    digest: str
    patients: BitMap


@dataclass
class _UserState:
    queries: deque[float] = field(default_factory=deque)
    #: (query digest, lake version) → the answer's patients, oldest first: a query repeated
    #: on the same version is one entry (the same set), refreshed, not one per repeat
    recent: OrderedDict[tuple[str, str], _Recent] = field(default_factory=OrderedDict)


class DisclosureControl:
    """Applies the disclosure rules to counts and keeps the per-user query history."""

    def __init__(
        self, threshold: int = 5, rounding: int = 5, budget: int = 200, window_seconds: int = 3600
    ) -> None:
        if threshold < 0 or rounding < 1:
            raise ValueError("the disclosure threshold must be ≥ 0 and the rounding ≥ 1")
        self.threshold = threshold
        self.rounding = rounding
        self.budget = budget
        self.window = window_seconds
        self._users: dict[str, _UserState] = {}
        self._lock = threading.Lock()

    @property
    def suppressed(self) -> str:
        """How a count below the threshold is shown (``"<5"``)."""
        return f"<{self.threshold}"

    def cell(self, n: int) -> Cell:
        """The disclosed form of a true count ``n``."""
        return disclose_count(n, threshold=self.threshold, rounding=self.rounding)

    def breakdown(self, counts: dict[str, int]) -> dict[str, Cell]:
        """Cells at or above the threshold, largest first (ties by name), the rest merged
        into ``"other"`` (if any); zero counts are left out."""
        names = list(counts)
        values = np.fromiter(counts.values(), dtype=np.int64, count=len(names))
        return self.breakdown_counts(np.array(names, dtype=object), values, name_ranks(names))

    def breakdown_counts(
        self, names: np.ndarray, counts: np.ndarray, rank: np.ndarray
    ) -> dict[str, Cell]:
        """:meth:`breakdown` of ``{names[i]: counts[i]}`` (``names`` a numpy object array),
        where ``rank[i]`` is the position of ``names[i]`` in name order. Vectorised: a
        by-centre breakdown has a cell per centre (thousands), and this runs for every
        count query."""
        t = self.threshold
        shown = np.flatnonzero(counts >= max(t, 1))
        other = int(counts[counts < t].sum())  # counts are never negative
        # largest first, ties by name: one lexsort on (name rank, -count)
        order = shown[np.lexsort((rank[shown], -counts[shown]))]
        values = _rounded(counts[order], threshold=t, rounding=self.rounding)
        out: dict[str, Cell] = dict(zip(names[order].tolist(), values.tolist(), strict=True))
        if other:
            out["other"] = self.cell(other)
        return out

    def check(self, user: str, digest: str, patients: BitMap, version: str = "") -> None:
        """Charge one query to ``user`` and refuse it if over budget or differencing.

        ``patients`` is the set the answer counts on lake ``version``; it is remembered for
        later checks only when the query is answered.
        """
        now = time.monotonic()
        with self._lock:
            state = self._users.setdefault(user, _UserState())
            while state.queries and state.queries[0] <= now - self.window:
                state.queries.popleft()
            while state.recent and next(iter(state.recent.values())).at <= now - self.window:
                state.recent.popitem(last=False)
            if len(state.queries) >= self.budget:
                wait = int(state.queries[0] + self.window - now) + 1
                raise QueryBudgetExceededError(
                    f"query budget used: {self.budget} count queries per {self.window} s; "
                    f"try again in {wait} s"
                )
            state.queries.append(now)
            n = len(patients)
            # a suppressed answer gives nothing to subtract
            for r in reversed(state.recent.values()) if n >= self.threshold else ():
                if r.digest == digest or len(r.patients) < self.threshold:
                    # a repeat, or a suppressed answer: nothing to subtract
                    continue
                if abs(len(r.patients) - n) >= self.threshold:
                    continue
                d = patients.symmetric_difference_cardinality(r.patients)
                if 0 < d < self.threshold:
                    raise DifferencingRefusedError(
                        "refused: this query's patients differ from those of your query "
                        f"{r.digest[:12]} (made {int(now - r.at)} s ago) by fewer than "
                        f"{self.threshold}; comparing the two answers would disclose a group "
                        "smaller than the disclosure threshold. Broaden the difference or "
                        "request access."
                    )
            key = (digest, version)
            state.recent.pop(key, None)
            state.recent[key] = _Recent(now, digest, patients)
            while len(state.recent) > MAX_RECENT:
                state.recent.popitem(last=False)

    def reset(self, user: str | None = None) -> None:
        """Forget the history of ``user`` (or of everyone)."""
        with self._lock:
            if user is None:
                self._users.clear()
            else:
                self._users.pop(user, None)


def disclose(result: CountResult, control: DisclosureControl) -> dict[str, Any]:
    """The disclosed answer of a count: every count of ``result`` through ``control``."""
    out: dict[str, Any] = {
        "lake_version": result.version_id,
        "count": control.cell(result.total),
        "excluded_by_consent": control.cell(result.excluded),
        "by_tumour_type": _breakdown(control, result.by_tumour_type),
        "by_centre": _breakdown(control, result.by_centre),
    }
    denominator: dict[str, Any] | None = None
    if result.denominator is not None:
        denominator = {"genes": list(result.genes), "covered": control.cell(result.denominator)}
    out["coverage"] = denominator
    out["disclosure"] = {
        "threshold": control.threshold,
        "rounding": control.rounding,
        "suppressed_as": control.suppressed,
    }
    return out


def _breakdown(control: DisclosureControl, t: Tally) -> dict[str, Cell]:
    return control.breakdown_counts(t.names, t.counts, t.rank)
