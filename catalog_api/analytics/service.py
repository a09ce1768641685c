"""Analytics questions answered as counts are: consent-aware, disclosure-checked, audited.

Every cohort of a question (the cohort of a treatment-patterns question and each of its
breakdown groups within it; each group of a survival question) is evaluated by the
discovery engine (``DiscoveryEngine.count``: matching patients whose consent permits the
purpose, on the current index), charged to the user's query budget and checked for
differencing by the app's :class:`DisclosureControl` exactly as a count is (so a curve
whose cohort differs from a recent answer's by fewer than the threshold is refused), and
the question is audited, answered or refused, before its answer is sent.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from pyroaring import BitMap
from sqlalchemy.orm import Session

from catalog_api import audit
from catalog_api.analytics.disclosure import INTERVAL_DAYS, step_unit
from catalog_api.analytics.journeys import (
    PERSISTED,
    SEXES,
    STAGES,
    IndexState,
    Journeys,
    JourneyStore,
)
from catalog_api.analytics.outcomes import Group, split_cohort, survival_answer
from catalog_api.analytics.patterns import (
    Breakdown,
    group_breakdown,
    slot_breakdown,
    treatment_patterns,
    year_breakdown,
)
from catalog_api.discovery.audit_writer import AuditWriter
from catalog_api.discovery.definition import CohortDefinition
from catalog_api.discovery.disclosure import DisclosureControl
from catalog_api.discovery.engine import DiscoveryEngine
from catalog_api.discovery.errors import DiscoveryError, IndexNotReadyError
from catalog_api.discovery.index import bitmap_of, slots_of
from catalog_api.discovery.index_store import Extension
from catalog_api.discovery.results import CountResult
from catalog_api.discovery.service import PendingCount
from catalog_api.models import User
from consent.purpose import ResearchPurpose
from consent.tags import canonical_json
from harmonise.lake import Lake

log = logging.getLogger(__name__)

_LOCK = threading.Lock()
#: Breakdowns of the regimen table.
BREAKDOWNS = ("tumour_type", "centre", "country", "start_year", "stage", "sex", "groups")
#: How long a question waits for the journeys of a new index (read in the background)
#: before answering 503 "not ready" with ``Retry-After``, as a count waits for its index.
JOURNEYS_WAIT = 5.0
_BY_ENGINE: weakref.WeakKeyDictionary[DiscoveryEngine, JourneyStore] = weakref.WeakKeyDictionary()
_BY_LAKE: weakref.WeakKeyDictionary[Lake, JourneyStore] = weakref.WeakKeyDictionary()


def store_for(lake: Lake) -> JourneyStore:
    """The journey store of ``lake``: the one of the latest engine over it
    (:func:`journeys_for`), else one of its own."""
    with _LOCK:
        store = _BY_LAKE.get(lake)
        if store is None:
            store = _BY_LAKE[lake] = JourneyStore(lake)
        return store


def journeys_for(engine: DiscoveryEngine) -> JourneyStore:
    """The journey store of ``engine`` (one per engine, made on first use): kept in step
    with its index in the background once :class:`JourneySync` runs, and persisted with
    the index file when the engine's index store has the journeys extension."""
    with _LOCK:
        store = _BY_ENGINE.get(engine)
        if store is None:
            store = _BY_ENGINE[engine] = JourneyStore(engine.lake)
            _BY_LAKE[engine.lake] = store
        return store


def journeys_code() -> str:
    """Fingerprint of the code that makes the journeys (their module and the stage terms
    it reads): journeys persisted by other code are read again, never misread."""
    from catalog_api.analytics import journeys as journeys_module
    from catalog_api.discovery import terms

    src = b"".join(Path(m.__file__ or "").read_bytes() for m in (journeys_module, terms))
    return hashlib.sha256(src).hexdigest()[:16]


def journeys_extension(store: JourneyStore) -> Extension:
    """The index store extension that keeps ``store``'s journeys in the index file (a
    restarted server takes them from there instead of reading the lake again)."""
    return Extension("journeys", journeys_code(), PERSISTED, store.persisted)


class JourneySync:
    """Keeps ``store`` at the state of ``engine``'s index, in a daemon thread: a new index
    (a build or a load) is read in the background, never in a request (minutes at a
    million patients), and an appended submission within a poll of its indexing.

    After reading a whole index (not taken from its file), asks the indexer to save its
    file again, so that a restart finds the journeys with it."""

    def __init__(self, engine: DiscoveryEngine, store: JourneyStore, interval: float = 0.2):
        self.engine = engine
        self.store = store
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    @property
    def running(self) -> bool:
        """True while the background thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="journeys", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread (the app's shutdown)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
                self.last_error = None
            except Exception as exc:  # keep the last journeys; report and retry
                log.exception("reading the journeys failed")
                self.last_error = f"{type(exc).__name__}: {exc}"
                self._stop.wait(5)
            self._stop.wait(self.interval)

    def step(self) -> bool:
        """Bring the store to the index's state now; True if it read anything."""
        ix = self.engine.indexer
        with ix.lock:
            idx = ix.index
            if idx.version is None or self.store.get(idx) is not None:
                return False
            state = IndexState.of(idx)
            whole = not self.store.holds(idx)
        adopted = self.store.adopted
        self.store.sync(state)
        if whole and self.store.adopted == adopted:
            ix.request_save()  # keep the journeys with the index file
        return True


_SYNCS: weakref.WeakKeyDictionary[JourneyStore, JourneySync] = weakref.WeakKeyDictionary()


def start_journeys(engine: DiscoveryEngine) -> JourneySync:
    """Start keeping ``engine``'s journey store current in the background (see
    :class:`JourneySync`); the running one if started already."""
    store = journeys_for(engine)
    with _LOCK:
        sync = _SYNCS.get(store)
        if sync is None:
            sync = _SYNCS[store] = JourneySync(engine, store)
    sync.start()
    return sync


def not_ready_reason(store: JourneyStore) -> str:
    """Why a question cannot be answered yet (the 503's detail)."""
    done, total = store.progress
    if total:
        return (
            f"the treatment journeys are being read ({done} of {total} submissions); "
            "retry in a few seconds"
        )
    return "the treatment journeys are being read; retry in a few seconds"


@dataclass(frozen=True)
class Snapshot:
    """Cohorts evaluated on one index state, with the journeys of that state."""

    journeys: Journeys
    results: list[CountResult]
    basket: np.ndarray  # slot → tumour-type code (the index's basket of each patient)
    baskets: list[str]
    version_id: str


def evaluate(
    engine: DiscoveryEngine,
    store: JourneyStore,
    definitions: Sequence[CohortDefinition],
    purpose: ResearchPurpose,
    attempts: int = 5,
    wait: float | None = None,
) -> Snapshot:
    """Each definition's consenting patients and the journeys, on one index state.

    The store is brought to the index's state here, outside the index lock, when that
    costs only appended submissions (or nothing keeps it); a new index (a build or a
    load) is left to :class:`JourneySync` when it runs, and waited for up to ``wait`` s
    (default :data:`JOURNEYS_WAIT`; then :class:`IndexNotReadyError`: 503 with
    ``Retry-After``)."""
    sync = _SYNCS.get(store)
    deadline = time.monotonic() + (JOURNEYS_WAIT if wait is None else wait)
    for _ in range(attempts):
        while True:
            with engine.indexer.lock:
                idx = engine.index
                j = store.get(idx)
                if j is not None:
                    results = [engine.count(d, purpose) for d in definitions]
                    basket = np.asarray(idx.basket_of[: j.n_slots]).copy()
                    return Snapshot(j, results, basket, list(idx.baskets), idx.version_id)
                state = IndexState.of(idx)
                cheap = store.holds(idx)  # only appended submissions to read
            if cheap or sync is None or not sync.running:
                break
            if time.monotonic() > deadline:
                raise IndexNotReadyError(not_ready_reason(store))
            time.sleep(0.02)
        store.sync(state)
    raise IndexNotReadyError("the lake changes too fast to answer this question; retry")


def digest_of(**parts: Any) -> str:
    """The digest a question's cohort is remembered under (a count of the same definition
    and purpose has the same digest: asking both is a repeat, not a difference)."""
    return hashlib.sha256(canonical_json(parts)).hexdigest()


def _audit(
    session: Session,
    user: User,
    action: str,
    version: str,
    details: dict[str, Any],
    writer: AuditWriter | None,
) -> Future[None] | None:
    if writer is not None:
        return writer.submit(
            actor=user.username, action=action, subject=f"lake:{version}", details=details
        )
    audit.record(session, actor=user, action=action, subject=f"lake:{version}", details=details)
    session.commit()
    return None


def _answer(
    session: Session,
    *,
    user: User,
    engine: DiscoveryEngine,
    control: DisclosureControl,
    audit_writer: AuditWriter | None,
    action: str,
    query: dict[str, Any],
    compute: Callable[[], dict[str, Any]],
) -> PendingCount:
    """Run ``compute`` (which charges and checks the cohorts) and audit the outcome."""
    try:
        answer = compute()
    except DiscoveryError as exc:
        version = engine.indexer.index.version_id
        fut = _audit(
            session,
            user,
            f"{action}_refused",
            version,
            {**query, "status": exc.status_code, "reason": str(exc)},
            audit_writer,
        )
        return PendingCount(None, None, exc, fut)
    answer["disclosure"] = disclosure_terms(control, query.get("interval_days", INTERVAL_DAYS))
    body = orjson.dumps(answer)
    fut = _audit(
        session,
        user,
        action,
        str(answer["lake_version"]),
        {**query, "answer": orjson.Fragment(body)},
        audit_writer,
    )
    return PendingCount(answer, body, None, fut)


def disclosure_terms(control: DisclosureControl, interval: int) -> dict[str, Any]:
    """The disclosure rules applied to the answer, stated in it."""
    return {
        "threshold": control.threshold,
        "rounding": control.rounding,
        "suppressed_as": control.suppressed,
        "survival_interval_days": interval,
        "survival_count_unit": step_unit(control),
        "rule": (
            "counts below the threshold are shown as '<threshold' and merged into 'other' "
            "in tables and pathways; other counts are rounded; survival curves are "
            "computed from event and censoring counts per interval rounded to the count "
            "unit, and stop before the risk set falls below the threshold"
        ),
    }


def _mask(j: Journeys, bm: BitMap) -> np.ndarray:
    slots = slots_of(bm).astype(np.intp)
    return j.cohort_mask(slots[slots < j.n_slots])


def treatment_patterns_query(
    session: Session,
    *,
    user: User,
    engine: DiscoveryEngine,
    store: JourneyStore,
    control: DisclosureControl,
    definition: CohortDefinition,
    purpose: ResearchPurpose,
    max_lines: int = 3,
    interval: int = INTERVAL_DAYS,
    breakdown: str | None = None,
    groups: dict[str, CohortDefinition] | None = None,
    audit_writer: AuditWriter | None = None,
) -> PendingCount:
    """The disclosed treatment patterns of ``definition`` for ``purpose`` (pending its
    audit entry; see the module doc)."""
    groups = dict(groups or {})
    dump_p = purpose.model_dump(mode="json", exclude_defaults=True)
    dump_d = definition.model_dump(mode="json", exclude_none=True)
    query: dict[str, Any] = {
        "definition": dump_d,
        "purpose": dump_p,
        "max_lines": max_lines,
        "interval_days": interval,
        "breakdown": breakdown,
        "groups": {k: g.model_dump(mode="json", exclude_none=True) for k, g in groups.items()},
    }

    def compute() -> dict[str, Any]:
        snap = evaluate(engine, store, [definition, *groups.values()], purpose)
        first = snap.results[0]
        cohort = first.permitted
        control.check_result(
            user.username, digest_of(definition=dump_d, purpose=dump_p), first, shown=("count",)
        )
        j = snap.journeys
        masks: dict[str, np.ndarray] = {}
        for (name, g), res in zip(groups.items(), snap.results[1:], strict=True):
            within = cohort & res.permitted
            gd = g.model_dump(mode="json", exclude_none=True)
            # the breakdown cells of this group count the cohort's patients within it
            assert first.index is not None
            stable = control.stable(first.index, within)
            control.check(
                user.username,
                digest_of(definition=dump_d, within=gd, purpose=dump_p),
                {"count": stable},
                snap.version_id,
            )
            masks[name] = _mask(j, within)
        mask = _mask(j, cohort)
        by = _breakdown(snap, breakdown, masks)
        out = treatment_patterns(
            j, mask, control, max_lines=max_lines, interval=interval, breakdown=by
        )
        return {
            "lake_version": snap.version_id,
            "count": control.cell(len(cohort)),
            "parameters": {
                "max_lines": max_lines,
                "interval_days": interval,
                "breakdown": breakdown,
                "regimen": "lines_of_therapy.regimen_name, else its drugs joined with ' + '",
            },
            **out,
        }

    return _answer(
        session,
        user=user,
        engine=engine,
        control=control,
        audit_writer=audit_writer,
        action="analytics.treatment_patterns",
        query=query,
        compute=compute,
    )


def _breakdown(snap: Snapshot, kind: str | None, groups: dict[str, np.ndarray]) -> Breakdown | None:
    j = snap.journeys
    if kind is None:
        return None
    if kind == "tumour_type":
        return slot_breakdown(j, kind, snap.basket.astype(np.int64), snap.baskets)
    if kind == "centre":
        return slot_breakdown(j, kind, j.centre.astype(np.int64), j.centres)
    if kind == "country":
        return slot_breakdown(j, kind, j.country.astype(np.int64), j.countries)
    if kind == "stage":
        return slot_breakdown(j, kind, j.stage.astype(np.int64), STAGES)
    if kind == "sex":
        return slot_breakdown(j, kind, j.sex.astype(np.int64), SEXES)
    if kind == "start_year":
        return year_breakdown(j)
    return group_breakdown(j, groups)


def survival_query(
    session: Session,
    *,
    user: User,
    engine: DiscoveryEngine,
    store: JourneyStore,
    control: DisclosureControl,
    groups: Sequence[tuple[str, CohortDefinition]],
    purpose: ResearchPurpose,
    endpoint: str,
    line: int | None = None,
    interval: int = INTERVAL_DAYS,
    adjust: Sequence[str] = (),
    at_risk_every: int = 180,
    group_by: str | None = None,
    audit_writer: AuditWriter | None = None,
) -> PendingCount:
    """The disclosed survival answer of ``groups`` (each a cohort definition) for
    ``purpose``, or of one cohort split ``group_by`` (:func:`.outcomes.split_cohort`;
    every group's patients checked as a count's are), pending its audit entry (see the
    module doc)."""
    if group_by is not None and len(groups) != 1:
        raise ValueError("group_by splits one cohort: give one definition")
    dump_p = purpose.model_dump(mode="json", exclude_defaults=True)
    dumps = [(n, d.model_dump(mode="json", exclude_none=True)) for n, d in groups]
    query: dict[str, Any] = {
        "groups": [{"name": n, "definition": d} for n, d in dumps],
        "purpose": dump_p,
        "endpoint": endpoint,
        "line": line,
        "interval_days": interval,
        "adjust_for": list(adjust),
    }
    if group_by is not None:
        query["group_by"] = group_by

    def split(snap: Snapshot) -> tuple[list[Group], dict[str, Any]]:
        j, res = snap.journeys, snap.results[0]
        slots = slots_of(res.permitted).astype(np.intp)
        assert group_by is not None and res.index is not None
        from_line = None if endpoint == "os_from_diagnosis" else line
        parts, terms = split_cohort(j, slots[slots < j.n_slots], control, group_by, from_line)
        shown = {
            f"survival group {i + 1}": control.stable(res.index, bitmap_of(part))
            for i, (_, part) in enumerate(parts)
        }
        digest = digest_of(definition=dumps[0][1], purpose=dump_p, group_by=group_by)
        control.check(user.username, digest, shown, snap.version_id)
        return [Group(name, j.cohort_mask(part), len(part)) for name, part in parts], terms

    def compute() -> dict[str, Any]:
        snap = evaluate(engine, store, [d for _, d in groups], purpose)
        j = snap.journeys
        gs: list[Group] = []
        terms = None
        if group_by is not None:
            gs, terms = split(snap)
        else:
            for (name, dump), res in zip(dumps, snap.results, strict=True):
                control.check_result(
                    user.username,
                    digest_of(definition=dump, purpose=dump_p),
                    res,
                    shown=("count",),
                )
                gs.append(Group(name, _mask(j, res.permitted), len(res.permitted)))
        out = survival_answer(
            j,
            gs,
            control,
            kind=endpoint,
            line=line,
            interval=interval,
            adjust=adjust,
            at_risk_every=at_risk_every,
        )
        return {
            "lake_version": snap.version_id,
            "parameters": {
                "endpoint": endpoint,
                "line": line,
                "interval_days": interval,
                "adjust_for": list(adjust),
                "confidence": 0.95,
                "band": "log-log (R survfit conf.type = 'log-log')",
                "group_by": group_by,
            },
            **({"grouping": terms} if terms is not None else {}),
            **out,
        }

    return _answer(
        session,
        user=user,
        engine=engine,
        control=control,
        audit_writer=audit_writer,
        action="analytics.survival",
        query=query,
        compute=compute,
    )
