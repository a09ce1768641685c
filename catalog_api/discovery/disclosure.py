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
* a query any of whose shown numbers counts a patient set that differs from one the user
  was shown before by between 1 and ``threshold - 1`` patients is refused (HTTP 409):
  subtracted, the two would isolate fewer than the threshold, however the definitions are
  written (a suppressed number gives nothing to subtract). The shown numbers are the
  totals (count, excluded by consent, denominator) *and every breakdown cell* (by centre,
  by tumour type, their ``other``), each compared with every remembered number whatever
  its category (see :meth:`check`);
* who sees exact counts instead: :func:`sees_exact_counts`, the one rule of the API's
  trails and the web pages.
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
from catalog_api.discovery.history import category as category_of
from catalog_api.discovery.index import LakeIndex, bitmap_of, name_ranks, slots_of
from catalog_api.discovery.results import CountResult, Tally
from catalog_api.models import Role, User

Cell = int | str

#: The longest name the store keeps (``disclosure_answers.name``).
NAME_MAX = 32


def sees_exact_counts(user: User, centres: Iterable[str]) -> bool:
    """True if ``user`` may see the exact counts of the patients of ``centres``: admins
    (what the audit must hold), and the reviewers and stewards of a centre for its own
    patients (all of ``centres`` governed; none given: no). Everyone else sees every
    count through the disclosure rule (the one rule of the API's request trails,
    ``governance.requests``, and of the web pages)."""
    if user.has_role(Role.admin):
        return True
    listed = list(centres)
    return (
        bool(listed)
        and user.has_role(Role.reviewer, Role.steward)
        and all(user.governs(c) for c in listed)
    )


def cell_name(kind: str, category: str) -> str:
    """The store's name of a breakdown cell (``centre:C1``); a category too long for the
    store is named by a digest of it."""
    name = f"{kind}{category}"
    if len(name) + 4 <= NAME_MAX:  # room for a saved cohort's "any:"
        return name
    import hashlib

    return f"{kind}#{hashlib.sha256(category.encode()).hexdigest()[: NAME_MAX - len(kind) - 5]}"


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

    def _numbers_of(self, idx: LakeIndex, needed: BitMap) -> np.ndarray:
        """slot → stable patient number of ``idx``, the slots of ``needed`` numbered (only
        those not numbered yet are looked up: :meth:`LakeIndex.stable_slots`; the others
        are numbered in the background, 0 until then)."""
        self._own(idx)
        idx.stable_slots(slots_of(needed), self.store)
        return idx.stable_numbers

    def _own(self, idx: LakeIndex) -> None:
        """Make ``idx``'s stable numbers (and patient keys) this control's store's: an
        index shared by apps of one process over different application databases (one
        engine per lake object, ``engine_for``; tests) would otherwise compare numbers of
        one database with another's, and miss a differencing pair."""
        if getattr(idx, "_numbered_by", None) is self.store:
            return
        with self._numbers_lock:
            if getattr(idx, "_numbered_by", None) is not self.store:
                idx.stable_numbers = np.zeros(0, dtype=np.uint32)
                idx.patient_keys = np.zeros(0, dtype="S32")
                object.__setattr__(idx, "_numbered_by", self.store)

    def stable(self, idx: LakeIndex, patients: BitMap) -> BitMap:
        """``patients`` (slots of ``idx``) as stable patient numbers (the store's: the same
        in every process, version and index build)."""
        self._own(idx)
        return bitmap_of(idx.stable_slots(slots_of(patients), self.store))

    def cells(
        self, kind: str, numbers: np.ndarray, labels: np.ndarray, tally: Tally
    ) -> dict[str, BitMap]:
        """The patient sets (stable ``numbers``, each of category ``labels[i]``) of every
        cell of ``tally`` that its breakdown shows as a number (:meth:`breakdown_counts`):
        the categories at or above the threshold, and their ``other`` when it is; named
        ``kind`` + category (:func:`cell_name`)."""
        t = max(self.threshold, 1)
        counts = tally.counts
        if not len(numbers):
            return {}
        big = np.flatnonzero(counts >= t)
        order = np.argsort(labels, kind="stable")
        grouped, numbers_by = labels[order], numbers[order]
        lo = np.searchsorted(grouped, big, side="left")
        hi = np.searchsorted(grouped, big, side="right")
        names = tally.names
        out = {
            cell_name(kind, str(names[c])): bitmap_of(numbers_by[a:b])
            for c, a, b in zip(big.tolist(), lo.tolist(), hi.tolist(), strict=True)
        }
        small = numbers[counts[labels] < t]
        if len(small) >= t:
            out[cell_name(kind, "other")] = bitmap_of(small)
        return out

    def check_result(
        self,
        user: str,
        digest: str,
        result: CountResult,
        shown: tuple[str, ...] = ("count", "excluded", "covered", "by_centre", "by_tumour_type"),
        *,
        definition: str = "",
    ) -> None:
        """:meth:`check` of every number of ``result`` an answer shows (``shown``): its
        total (``count``), its excluded count, its coverage denominator and every cell of
        its breakdowns by centre and by tumour type (``definition``: the definition's
        digest, see :meth:`check`)."""
        t = max(self.threshold, 1)
        sets = {"count": result.permitted}
        if result.excluded >= t:  # a suppressed number is not remembered
            sets["excluded"] = result.excluded_set
        covered = result.covered if "covered" in shown else None
        if covered is not None:
            sets["covered"] = covered
        idx = result.index
        if idx is None:
            raise ValueError("a count result without its index cannot be checked")
        used = [v for k, v in sets.items() if k in shown and len(v) >= t]
        numbers = self._numbers_of(idx, BitMap.union(result.permitted, *used))
        stable = {
            k: bitmap_of(numbers[slots_of(v)])
            for k, v in sets.items()
            if k in shown and len(v) >= t
        }
        if len(result.permitted) >= t and {"by_centre", "by_tumour_type"} & set(shown):
            slots = slots_of(result.permitted).astype(np.intp)
            mine = numbers[slots]
            if "by_centre" in shown:
                labels = idx.centre_of.take(slots)
                stable.update(self.cells("centre:", mine, labels, result.by_centre))
            if "by_tumour_type" in shown:
                labels = idx.basket_of.take(slots)
                stable.update(self.cells("tumour:", mine, labels, result.by_tumour_type))
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
        ``conn`` when given, else in one of its own). A query is refused when any number it
        shows counts a set that differs from one the user was shown before, on any lake
        version, by 1 to ``threshold - 1`` patients: every shown number (a total:
        ``count``, ``excluded``, ``covered``; a breakdown cell: ``centre:…``,
        ``tumour:…``, :func:`cell_name`) is compared with every remembered number,
        whatever their categories (a by-centre cell of one answer against a
        by-tumour-type cell of another: docs/discovery.md), except that a number whose
        very set the user was shown before is not compared at all: it discloses nothing
        new, and each of its pairs with a remembered number was checked when the later of
        the two was first shown (or both were shown in one answer, as the margins of one
        table). A query repeated on the same lake version, with the same total, compares
        its totals only: its cells were checked and remembered when it was first answered.

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
        totals = {k: v for k, v in shown.items() if category_of(k) is None}
        cells = {k: v for k, v in shown.items() if category_of(k) is not None}
        now = self.clock()
        since = now - self.horizon
        refusal: str | None = None
        with self.store.transaction(user, since, conn) as tx:
            n_recent, oldest = tx.queries_since(now - self.window)
            if n_recent >= self.budget:
                wait = int((oldest or now) + self.window - now) + 1
                raise QueryBudgetExceededError(
                    f"query budget used: {self.budget} count queries per {self.window} s; "
                    f"try again in {wait} s"
                )
            tx.charge(now)
            known: set[str] = set()  # names whose set is remembered as is already
            repeated = False
            found = tx.near(totals, t, since)
            for name, bm in totals.items():
                near = [
                    (r, self._difference(name, bm, r, definition, version)) for r in found[name]
                ]
                same = [r for r, d in near if d == 0]
                if same:
                    known.add(name)
                    repeated |= any(
                        (name, digest, version) == (r.name, r.digest, r.lake_version) for r in same
                    )
                elif refusal is None:
                    refusal = _first_refusal(name, near, now, t)
            if repeated and totals.get("count") is not None:
                cells = {}  # shown, checked and remembered with this answer before
            if cells:
                found = tx.near(cells, t, since)
                for name, bm in cells.items():
                    near = [
                        (r, self._difference(name, bm, r, definition, version)) for r in found[name]
                    ]
                    if any(d == 0 for _, d in near):
                        known.add(name)
                    elif refusal is None:
                        refusal = _first_refusal(name, near, now, t)
            if refusal is None:
                for name, bm in {**totals, **cells}.items():
                    if name not in known:
                        tx.remember(Remembered(now, digest, version, name, bm, definition))
        # raised after the commit: a refused query stays charged to the budget
        if refusal is not None:
            raise DifferencingRefusedError(refusal)

    @staticmethod
    def _difference(
        name: str, bm: BitMap, r: Remembered, definition: str, version: str
    ) -> int | None:
        """Patients by which ``bm`` and remembered ``r`` differ; None for the exempt pair
        (see :meth:`check`)."""
        if (
            definition
            and r.definition == definition
            and r.lake_version == version
            and name.startswith("any:") != r.name.startswith("any:")
        ):
            return None
        return int(bm.symmetric_difference_cardinality(r.patients))

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
        cohorts, request parts): ``{name: the patient ids it counts}``. The patients are
        numbered on ``conn`` too when given (in the caller's transaction: a request that
        wrote before its check must not wait for its own write lock)."""
        t = max(self.threshold, 1)
        sets = {}
        for name, ids in patients.items():
            listed = list(ids)
            if len(listed) >= t:
                sets[name] = bitmap_of(self.store.numbers(listed, conn))
        self.check(user, digest, sets, version, definition=definition, conn=conn)

    def reset(self, user: str | None = None) -> None:
        """Forget the budget and history of ``user`` (or of everyone)."""
        self.store.reset(user)


def _first_refusal(
    name: str, near: list[tuple[Remembered, int | None]], now: float, t: int
) -> str | None:
    """The refusal of the number ``name`` for the first remembered number of ``near`` (with
    its difference) that it differs from by 1 to ``t - 1`` patients; None if there is none."""
    for r, d in near:
        if d is not None and 0 < d < t:
            return _refusal(name, r, now, t)
    return None


_WHAT = {"count": "count", "excluded": "excluded-by-consent count", "covered": "denominator"}


def _what(name: str) -> str:
    if name.startswith("any:"):
        return f"{_what(name.removeprefix('any:'))} (any consent)"
    if name.startswith("centre:"):
        return f"count of centre {name.removeprefix('centre:')}"
    if name.startswith("tumour:"):
        return f"count of tumour type {name.removeprefix('tumour:')}"
    return _WHAT.get(name, name)


def _refusal(name: str, r: Remembered, now: float, t: int) -> str:
    return (
        f"refused: this query's patients ({_what(name)}) differ from those of your query "
        f"{r.digest[:12]} ({_what(r.name)}, made {int(now - r.at)} s ago on lake version "
        f"{r.lake_version}) by fewer than {t}; comparing the two answers would disclose a "
        "group smaller than the disclosure threshold. Broaden the difference or request "
        "access."
    )


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
