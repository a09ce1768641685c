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
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
from pyroaring import BitMap
from sqlalchemy import Connection

from catalog_api.discovery.errors import DifferencingRefusedError, QueryBudgetExceededError
from catalog_api.discovery.history import DisclosureStore, MemoryStore, Remembered
from catalog_api.discovery.index import LakeIndex, bitmap_of, name_ranks, slots_of
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


#: How long remembered answers are kept for the differencing check, by default (days).
HISTORY_DAYS = 365


class DisclosureControl:
    """Applies the disclosure rules to counts; charges and checks each user's queries
    against the budget and the remembered answers kept in ``store`` (shared by every
    replica and durable: :class:`~catalog_api.discovery.history.SqlStore`; in one process:
    :class:`~catalog_api.discovery.history.MemoryStore`, the default)."""

    def __init__(
        self,
        threshold: int = 5,
        rounding: int = 5,
        budget: int = 200,
        window_seconds: int = 3600,
        *,
        history_days: float = HISTORY_DAYS,
        store: DisclosureStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if threshold < 0 or rounding < 1:
            raise ValueError("the disclosure threshold must be ≥ 0 and the rounding ≥ 1")
        if history_days * 86400 < window_seconds:
            raise ValueError(
                f"the disclosure history ({history_days} days) must be kept at least as long "
                f"as the query budget's window ({window_seconds} s)"
            )
        self.threshold = threshold
        self.rounding = rounding
        self.budget = budget
        self.window = window_seconds
        self.horizon = history_days * 86400.0
        self.store: DisclosureStore = store if store is not None else MemoryStore()
        self.clock = clock
        self._numbers_lock = threading.Lock()

    @property
    def suppressed(self) -> str:
        """How a count below the threshold is shown (``"<5"``)."""
        return f"<{self.threshold}"

    def cell(self, n: int) -> Cell:
        """The disclosed form of a true count ``n``."""
        return disclose_count(n, threshold=self.threshold, rounding=self.rounding)

    def breakdown(self, counts: dict[str, int]) -> dict[str, Cell]:
        """Cells at or above the threshold, largest first (ties by name); the rest merged
        into ``"other"`` when that is itself at or above the threshold (see
        :meth:`breakdown_counts`)."""
        names = list(counts)
        values = np.fromiter(counts.values(), dtype=np.int64, count=len(names))
        return self.breakdown_counts(np.array(names, dtype=object), values, name_ranks(names))

    def breakdown_counts(
        self, names: np.ndarray, counts: np.ndarray, rank: np.ndarray
    ) -> dict[str, Cell]:
        """:meth:`breakdown` of ``{names[i]: counts[i]}`` (``names`` a numpy object array),
        where ``rank[i]`` is the position of ``names[i]`` in name order. Vectorised: a
        by-centre breakdown has a cell per centre (thousands), and this runs for every
        count query.

        A merged ``"other"`` below the threshold is left out, like a zero: an answer with
        one to four patients in small categories has the same shape as one with none."""
        t = self.threshold
        shown = np.flatnonzero(counts >= max(t, 1))
        other = int(counts[counts < t].sum())  # counts are never negative
        # largest first, ties by name: one lexsort on (name rank, -count)
        order = shown[np.lexsort((rank[shown], -counts[shown]))]
        values = _rounded(counts[order], threshold=t, rounding=self.rounding)
        out: dict[str, Cell] = dict(zip(names[order].tolist(), values.tolist(), strict=True))
        if other and other >= t:
            out["other"] = self.cell(other)
        return out

    # -- budget and differencing ------------------------------------------------------------

    def stable(self, idx: LakeIndex, patients: BitMap) -> BitMap:
        """``patients`` (slots of ``idx``) as stable patient numbers (the store's: the same
        in every process, version and index build); only slots not numbered yet are looked
        up (:meth:`LakeIndex.stable_slots`)."""
        return bitmap_of(idx.stable_slots(slots_of(patients), self.store.numbers))

    def check_result(
        self,
        user: str,
        digest: str,
        result: CountResult,
        shown: tuple[str, ...] = ("count", "excluded", "covered"),
        *,
        definition: str = "",
    ) -> None:
        """:meth:`check` of every number of ``result`` an answer shows (``shown``): its
        total (``count``), its excluded count and its coverage denominator (``definition``:
        the definition's digest, see :meth:`check`)."""
        t = max(self.threshold, 1)
        sets = {"count": result.permitted}
        if result.excluded >= t:  # a suppressed number is not remembered
            sets["excluded"] = result.excluded_set
        covered = result.covered if "covered" in shown else None
        if covered is not None:
            sets["covered"] = covered
        if result.index is None:
            raise ValueError("a count result without its index cannot be checked")
        stable = {
            k: self.stable(result.index, v) for k, v in sets.items() if k in shown and len(v) >= t
        }
        self.check(user, digest, stable, result.version_id, definition=definition)

    def check(
        self,
        user: str,
        digest: str,
        patients: BitMap | Mapping[str, BitMap],
        version: str = "",
        *,
        definition: str = "",
        conn: Connection | None = None,
    ) -> None:
        """Charge one query to ``user`` and refuse it if over budget or differencing.

        ``patients`` are the stable numbers of the patients the answer counts (or, by name,
        of each number it shows) on lake ``version``; they are remembered for later checks
        (for :attr:`horizon` seconds) only when the query is answered (in the transaction of
        ``conn`` when given, else in one of its own). A query is refused
        when any number it shows counts a set that differs from one the user was shown
        before, on any lake version, by 1 to ``threshold - 1`` patients.

        One pair is not compared: a number counted with any consent (a saved cohort's,
        named ``any:…``) and one counted for a purpose, of the same ``definition`` (its
        digest) on the same lake version. Their difference is the definition's patients
        excluded by consent, a number the count answer discloses itself
        (``excluded_by_consent``, checked like the others); without the exemption a cohort
        could not be counted, saved and requested.
        """
        sets = {"count": patients} if isinstance(patients, BitMap) else dict(patients)
        t = self.threshold
        shown = {k: v for k, v in sets.items() if len(v) >= max(t, 1)}
        now = self.clock()
        refusal: str | None = None
        with self.store.transaction(user, now - self.horizon, conn) as tx:
            n_recent, oldest = tx.queries_since(now - self.window)
            if n_recent >= self.budget:
                wait = int((oldest or now) + self.window - now) + 1
                raise QueryBudgetExceededError(
                    f"query budget used: {self.budget} count queries per {self.window} s; "
                    f"try again in {wait} s"
                )
            tx.charge(now)
            known: set[str] = set()  # names whose set is remembered as is already
            for name, bm in shown.items():
                n = len(bm)
                for r in tx.candidates(n - t + 1, n + t - 1, now - self.horizon):
                    if (
                        definition
                        and r.definition == definition
                        and r.lake_version == version
                        and name.startswith("any:") != r.name.startswith("any:")
                    ):
                        continue
                    d = bm.symmetric_difference_cardinality(r.patients)
                    if d == 0:
                        known.add(name)
                    elif d < t and refusal is None:
                        refusal = (
                            f"refused: this query's patients ({_what(name)}) differ from "
                            f"those of your query {r.digest[:12]} "
                            f"({_what(r.name)}, made {int(now - r.at)} s ago on "
                            f"lake version {r.lake_version}) by fewer than {t}; comparing the "
                            "two answers would disclose a group smaller than the disclosure "
                            "threshold. Broaden the difference or request access."
                        )
            if refusal is None:
                for name, bm in shown.items():
                    if name not in known:
                        tx.remember(Remembered(now, digest, version, name, bm, definition))
        # raised after the commit: a refused query stays charged to the budget
        if refusal is not None:
            raise DifferencingRefusedError(refusal)

    def check_patients(
        self,
        user: str,
        digest: str,
        patients: Mapping[str, Iterable[str]],
        version: str,
        *,
        definition: str = "",
        conn: Connection | None = None,
    ) -> None:
        """:meth:`check` of numbers shown from patient ids (governance's views: saved
        cohorts, request parts): ``{name: the patient ids it counts}``."""
        t = max(self.threshold, 1)
        sets = {}
        for name, ids in patients.items():
            listed = list(ids)
            if len(listed) >= t:
                sets[name] = bitmap_of(self.store.numbers(listed))
        self.check(user, digest, sets, version, definition=definition, conn=conn)

    def reset(self, user: str | None = None) -> None:
        """Forget the budget and history of ``user`` (or of everyone)."""
        self.store.reset(user)


_WHAT = {"count": "count", "excluded": "excluded-by-consent count", "covered": "denominator"}


def _what(name: str) -> str:
    if name.startswith("any:"):
        return f"{_what(name.removeprefix('any:'))} (any consent)"
    if name.startswith("centre:"):
        return f"count of centre {name.removeprefix('centre:')}"
    return _WHAT.get(name, name)


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
