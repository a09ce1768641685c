"""The counting engine: definitions evaluated on the in-memory index, consent-aware.

The one cohort engine of the catalogue, for discovery and governance alike:

* ``DiscoveryEngine.count(definition, purpose)`` returns exact counts on the current lake
  version (a :class:`~catalog_api.discovery.results.CountResult`; never shown to a user as
  is: :func:`catalog_api.discovery.disclosure.disclose` applies the disclosure control);
* ``DiscoveryEngine.patients_by_centre(definition, purpose, version)`` and
  ``centre_counts(definition, version, purpose)`` answer at a given
  :class:`~harmonise.lake.LakeVersion` (saved cohorts, access requests, exports are pinned
  to one): :meth:`DiscoveryEngine.index_at` gives the index of that version, the live one
  when the version is current, else one built for it and kept in a small LRU.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pyroaring import BitMap

from catalog_api.discovery import index_genomic, index_qc
from catalog_api.discovery.definition import (
    AgeAtDiagnosis,
    And,
    Assay,
    Biomarker,
    Centre,
    CohortDefinition,
    CopyNumber,
    Coverage,
    Dataset,
    Fusion,
    Msi,
    Not,
    Or,
    Pipeline,
    Sex,
    StageGroup,
    StructuralVariant,
    Tmb,
    Treatment,
    TumourType,
    Variant,
    VitalStatus,
)
from catalog_api.discovery.errors import DefinitionError, IndexNotReadyError
from catalog_api.discovery.index import (
    SEP,
    DatasetInfo,
    Indexer,
    LakeIndex,
    Numbering,
    slots_of,
)
from catalog_api.discovery.index_store import PERSISTED_NUMBERS, IndexStore
from catalog_api.discovery.results import CountResult, Tally
from consent import oncotree
from consent.errors import ConsentError
from consent.matching import permits
from consent.purpose import ResearchPurpose
from consent.records import ConsentRecord
from harmonise.lake import Lake, LakeVersion

log = logging.getLogger(__name__)

INTERPRETATIONS = frozenset(
    {
        "positive",
        "negative",
        "high",
        "low",
        "equivocal",
        "intermediate",
        "stable",
        "unstable",
        "indeterminate",
    }
)
#: Indexes of non-current lake versions kept (saved cohorts, requests, exports pin one).
PINNED_INDEXES = 3
#: Patients numbered per step of the background numbering (a count waits at most one step).
NUMBER_CHUNK = 5_000
SUBSTAGE_RE = re.compile(r"[A-C][0-9]?|IS")
STAGE_RE = re.compile(r"^(0|0A|0IS|IS|I|II|III|IV)([A-C][0-9]?)?$")


@dataclass
class _Compiled:
    """A definition checked against the index: unknown names collected, not raised."""

    problems: list[str] = field(default_factory=list)
    genes: list[str] = field(default_factory=list)


class DiscoveryEngine:
    """Counts on the index of the lake's current version (see the module doc)."""

    def __init__(
        self,
        lake: Lake,
        refresh_interval: float = 1.0,
        pinned_indexes: int = PINNED_INDEXES,
        *,
        store: IndexStore | None = None,
    ) -> None:
        self.lake = lake
        self.indexer = Indexer(lake, interval=refresh_interval, store=store)
        self.pinned_indexes = pinned_indexes
        self._pinned: OrderedDict[str, LakeIndex] = OrderedDict()  # version id → index
        self._pinned_lock = threading.Lock()  # one pinned build at a time
        self.pinned_builds = 0  # indexes built for non-current versions (for tests, metrics)
        self._start_lock = threading.Lock()
        self._numbers: Numbering | None = None
        self._numberer: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Build the index in the background and keep it current (once; later calls do
        nothing)."""
        with self._start_lock:
            self.indexer.start()
            if self._numbers is not None and self._numberer is None:
                self._numberer = threading.Thread(
                    target=self._number_all, name="discovery-numbers", daemon=True
                )
                self._numberer.start()

    def number_patients_with(self, numbers: Numbering) -> None:
        """Give every patient of the live index its stable number (``numbers``: the
        disclosure store's) in the background, once the index is ready and as patients are
        added, so that no count waits for the numbering of patients it does not count (a
        count numbers its own patients first if they are not yet: see
        :meth:`LakeIndex.stable_slots`). The first call wins; started by :meth:`start`."""
        if self._numbers is None:
            self._numbers = numbers
            self.indexer.on_publish = self._mark_numbered

    def _mark_numbered(self, idx: LakeIndex) -> None:
        """Mark ``idx`` as numbered by the app's disclosure store (before it goes live): its
        control then keeps the numbers and the persisted patient keys (keyed by the same
        secret as the file's MAC) instead of starting the numbering again
        (``DisclosureControl._own``)."""
        if getattr(idx, "_numbered_by", None) is None:
            object.__setattr__(idx, "_numbered_by", self._numbers)
        saved = idx.__dict__.pop(PERSISTED_NUMBERS, None)
        if saved is not None and self._numbers is not None:
            try:
                if self._numbers_hold(idx, saved):
                    idx.stable_numbers = saved
            except Exception:  # the database is busy or gone: numbered as after a build
                log.exception("checking the persisted patient numbers failed")

    def _numbers_hold(self, idx: LakeIndex, saved: np.ndarray) -> bool:
        """True if the application database gives the numbers ``saved`` with a loaded
        index file: the keys of the highest number and of up to 64 other numbered slots at
        random map to the same numbers (numbers are never changed or reused; a database
        emptied or restored from before the file fails the check). The file is MAC'd by
        the app's secret, which also keys the patient keys."""
        numbered = np.flatnonzero(saved)
        keys = idx.patient_keys
        if not len(numbered) or len(keys) < len(saved) or (keys[numbered] == b"").any():
            return False
        rng = np.random.default_rng()
        pick = rng.choice(numbered, size=min(64, len(numbered)), replace=False)
        pick = np.union1d(pick, [numbered[int(np.argmax(saved[numbered]))]])
        by_key = getattr(self._numbers, "numbers_of_keys", None)
        if by_key is None:
            return False
        got = by_key([k.decode() for k in keys[pick].tolist()])
        held = bool(np.array_equal(np.asarray(got, dtype=np.uint32), saved[pick]))
        if not held:
            log.warning("the persisted patient numbers are not the database's: numbering again")
        return held

    def _number_all(self) -> None:
        numbers = self._numbers
        assert numbers is not None
        stop = self.indexer._stop
        preload = getattr(numbers, "preload", None)
        pass_had_new_keys = False
        while not stop.is_set():
            idx = self.indexer.index
            todo = idx.unnumbered(NUMBER_CHUNK) if idx.version is not None else None
            if todo is None or not len(todo):
                if pass_had_new_keys:  # keep the keys with the index (a restart reuses them)
                    self.indexer.request_save()
                    pass_had_new_keys = False
                stop.wait(0.5)
                continue
            if preload is not None and len(todo) >= NUMBER_CHUNK:
                # many to number (a build): every number the database gave, in one query
                try:
                    preload()
                except Exception:
                    log.exception("reading the known patient numbers failed; by chunks")
                preload = None
            if idx.version is not None:
                self._mark_numbered(idx)  # (an index published before the numbering began)
            try:
                if (
                    len(idx.patient_keys) < len(idx.patient_ids)
                    or (idx.patient_keys[todo] == b"").any()
                ):
                    pass_had_new_keys = True
                idx.stable_slots(todo, numbers)
            except Exception:  # the database is busy or gone: try again shortly
                log.exception("numbering the indexed patients failed; retrying")
                stop.wait(5)
            else:
                time.sleep(0.002)  # let requests have the GIL between steps

    @property
    def ready(self) -> bool:
        """True once the first index is built (counts can be answered)."""
        return self.indexer.index.version is not None

    def wait_ready(self, timeout: float) -> None:
        """Start the engine if it is not yet and wait (up to ``timeout`` s) for its first
        index; :class:`IndexNotReadyError` with the reason when the build failed or is not
        done in time."""
        self.start()
        deadline = time.monotonic() + timeout
        while not self.ready:
            if self.indexer.last_error or time.monotonic() > deadline:
                _ = self.index  # raises IndexNotReadyError with the reason
            time.sleep(0.05)

    @contextmanager
    def current(self) -> Iterator[LakeIndex]:
        """The current index, held steady while in use (nothing updates it meanwhile);
        :class:`IndexNotReadyError` before the first build."""
        with self.indexer.lock:
            yield self.index

    def datasets(self) -> list[DatasetInfo]:
        """The visible datasets of the current index (catalogue metadata, no patient data)."""
        with self.current() as idx:
            return list(idx.datasets.values())

    def stop(self) -> None:
        """Stop the background refresh and numbering (the app's shutdown: nothing of it
        runs on against a database or lake that may be gone); :meth:`start` starts them
        again."""
        with self._start_lock:
            self.indexer.stop()
            if self._numberer is not None:
                self._numberer.join(timeout=10)
                self._numberer = None

    def refresh(self) -> bool:
        """Bring the index to the lake's current version now (True if it changed)."""
        return self.indexer.refresh()

    @property
    def index(self) -> LakeIndex:
        """The current index (raises :class:`IndexNotReadyError` before the first build)."""
        idx = self.indexer.index
        if idx.version is None:
            raise IndexNotReadyError(self.not_ready_reason())
        return idx

    def not_ready_reason(self) -> str:
        """One line saying why counts cannot be answered yet (the 503's detail)."""
        ix = self.indexer
        if ix.last_error:
            return f"the discovery index could not be built: {ix.last_error}; retrying"
        if ix.state == "loading":
            return "the discovery index is being loaded from disk; retry in a few seconds"
        done, total = ix.progress
        if ix.state == "building" and total:
            return (
                f"the discovery index is being built ({done} of {total} submissions read); "
                "retry in a few seconds"
            )
        return "the discovery index is being built; retry in a few seconds"

    def status(self) -> dict[str, Any]:
        """What the readiness endpoint shows: ready or not and why, the lake version and
        the number of patients indexed (no count of any cohort)."""
        ix = self.indexer
        idx = ix.index
        out: dict[str, Any] = {"ready": idx.version is not None, "state": ix.state}
        if idx.version is None:
            out["detail"] = self.not_ready_reason()
        else:
            out["lake_version"] = idx.version_id
            out["index_age_seconds"] = round(time.time() - idx.built_at, 1)
            # stable numbers given so far (the background numbering: counts never wait
            # for it, but the first ones after a cold build number their own patients)
            out["patients"] = len(idx.patient_ids)
            out["patients_numbered"] = int(np.count_nonzero(idx.stable_numbers))
        if ix.last_error:
            out["last_error"] = ix.last_error
        return out

    def index_at(self, version: LakeVersion) -> LakeIndex:
        """The index of ``version``: the live index when it is at that version (brought up to
        date first if ``version`` is the lake's current one), else an index built for it,
        kept in an LRU of :attr:`pinned_indexes` versions.

        The live index changes in place when the lake moves on: read it only under
        ``self.indexer.lock`` and check its ``version_id`` there (:meth:`_at` does both).
        Raises the lake's error (a ``HarmoniseError``) when the version can no longer be
        read (its snapshots expired).
        """
        live = self.indexer.index
        if live.version_id == version.id:
            return live
        with self._pinned_lock:
            idx = self._pinned.get(version.id)
            if idx is not None:
                self._pinned.move_to_end(version.id)
                return idx
            if self.lake.current_version().id == version.id:
                self.indexer.refresh()
                live = self.indexer.index
                if live.version_id == version.id:
                    return live
            idx = self.indexer.build(version)
            self.pinned_builds += 1
            self._pinned[version.id] = idx
            while len(self._pinned) > max(self.pinned_indexes, 1):
                self._pinned.popitem(last=False)
            return idx

    @contextmanager
    def _at(self, version: LakeVersion) -> Iterator[LakeIndex]:
        """The index of ``version``, held steady (under the indexer's lock) while in use."""
        for _ in range(3):
            idx = self.index_at(version)
            with self.indexer.lock:
                if idx.version_id == version.id:  # the live index may have moved on
                    yield idx
                    return
        raise IndexNotReadyError(
            f"the lake changes too fast to read version {version.id}; retry in a moment"
        )

    @staticmethod
    def _cached(idx: LakeIndex, key: Any, make: Callable[[], BitMap]) -> BitMap:
        bm = idx.memo.get(key)
        if bm is None:
            bm = idx.memo[key] = make()
        return bm

    # -- purpose --------------------------------------------------------------------------

    def permitted_by(self, idx: LakeIndex, purpose: ResearchPurpose) -> BitMap:
        """Patients whose consent permits ``purpose`` (matched once per consent profile)."""
        key = ("purpose", purpose.model_dump_json())
        return self._cached(idx, key, lambda: self._match_profiles(idx, purpose))

    @staticmethod
    def _match_profiles(idx: LakeIndex, purpose: ResearchPurpose) -> BitMap:
        ok: list[BitMap] = []
        today = dt.date.today()
        for (status, perms, mods, diseases, until), bm in idx.profiles.items():
            try:
                record = ConsentRecord(
                    patient_id="profile",
                    consent_id="profile",
                    status=status,
                    form_version="profile",
                    scope=("genomic", "clinical"),
                    permissions=perms,
                    modifiers=mods,
                    disease_codes=diseases,
                    valid_until=dt.date.fromisoformat(until) if until else None,
                )
            except (ValueError, ConsentError) as exc:
                log.warning("consent profile %s cannot be read (%s): not counted", perms, exc)
                continue
            if permits(record, purpose, today=today).permitted:
                ok.append(bm)
        return BitMap.union(*ok) if ok else BitMap()

    # -- evaluation -----------------------------------------------------------------------

    def check(self, definition: CohortDefinition) -> list[str]:
        """Every unknown field value of ``definition`` (empty if it can be evaluated)."""
        idx = self.index
        comp = _Compiled()
        for leaf in definition.leaves():
            self._check_leaf(idx, leaf, comp)
        return comp.problems

    def evaluate(
        self, idx: LakeIndex, definition: CohortDefinition, coverage: bool = False
    ) -> BitMap:
        """Live patients matching ``definition``; with ``coverage`` each variant criterion is
        replaced by "the assay covered its gene" and each fusion, structural-variant,
        copy-number, TMB and MSI criterion by "the patient was analysed for it"
        (``index_genomic.analysed``): the coverage-aware denominator."""
        if definition.criteria is None:
            return idx.live
        return self._eval(idx, definition.criteria, coverage) & idx.live

    def _eval(self, idx: LakeIndex, c: Any, coverage: bool) -> BitMap:
        if isinstance(c, And):
            parts = sorted((self._eval(idx, x, coverage) for x in c.criteria), key=len)
            out = parts[0].copy() if len(parts) > 1 else parts[0]
            for p in parts[1:]:
                out &= p
            return out
        if isinstance(c, Or):
            return BitMap.union(*(self._eval(idx, x, coverage) for x in c.criteria))
        if isinstance(c, Not):
            return idx.live - self._eval(idx, c.criterion, coverage)
        if coverage:
            if isinstance(c, Variant):
                return self._covered(idx, c)
            analysed = index_genomic.analysed(idx, c)  # fusion, SV, copy number, TMB, MSI
            if analysed is not None:
                return analysed
        key = c.model_dump_json()
        return self._cached(idx, key, lambda: self._leaf(idx, c))

    def _covered(self, idx: LakeIndex, v: Variant) -> BitMap:
        gene = v.target.gene
        if gene is None:
            return idx.sequenced
        return self._cached(
            idx,
            ("covered", gene),
            lambda: BitMap.union(
                idx.genome_wide, idx.panel_gene.get(gene, BitMap()), idx.feature("gene", gene)
            ),
        )

    def _leaf(self, idx: LakeIndex, c: Any) -> BitMap:
        f = idx.feature
        if isinstance(c, TumourType):
            codes: set[str] = set()
            for code in c.codes:
                code = code.strip().upper()
                codes.add(code)
                if c.descendants and oncotree.is_code(code):
                    codes |= oncotree.descendants(code)
            return BitMap.union(*(f("tumour", x) for x in codes))
        if isinstance(c, Variant):
            return self._variant(idx, c)
        if isinstance(c, Fusion):
            return index_genomic.fusion(idx, c)
        if isinstance(c, StructuralVariant):
            return index_genomic.structural_variant(idx, c)
        if isinstance(c, CopyNumber):
            return index_genomic.copy_number(idx, c)
        if isinstance(c, Coverage):
            return index_qc.coverage(idx, c)
        if isinstance(c, Tmb):  # FHIR-reported and pipeline TMB rows alike
            return index_genomic.value_range(idx, "TMB", c.min, c.max)
        if isinstance(c, Msi):
            return index_genomic.msi(idx, c)
        if isinstance(c, Biomarker):
            m = c.marker.upper()
            sets: list[BitMap] = []
            if c.interpretation:
                sets.append(
                    BitMap.union(
                        *(f("marker_interp", f"{m}{SEP}{i.lower()}") for i in c.interpretation)
                    )
                )
            if c.min is not None or c.max is not None:
                sets.append(index_genomic.value_range(idx, m, c.min, c.max))
            if not sets:
                return f("marker", m)
            return BitMap.intersection(*sets) if len(sets) > 1 else sets[0]
        if isinstance(c, StageGroup):
            wanted = [_stage(v) for v in c.values]
            keys = [k for k in idx.values("stage") if any(_substage(str(k), w) for w in wanted)]
            return BitMap.union(*(f("stage", k) for k in keys)) if keys else BitMap()
        if isinstance(c, Treatment):
            if c.drug is not None and c.line_of_therapy is not None:
                return f("drug_line", f"{c.drug.lower()}{SEP}{c.line_of_therapy}")
            if c.drug is not None:
                return f("drug", c.drug.lower())
            return f("line", c.line_of_therapy)
        if isinstance(c, AgeAtDiagnosis):
            lo, hi = c.min or 0, 130 if c.max is None else c.max
            ages = [a for a in idx.values("age") if lo <= a <= hi]
            return BitMap.union(*(f("age", a) for a in ages)) if ages else BitMap()
        if isinstance(c, Sex):
            return BitMap.union(*(f("sex", v) for v in c.values))
        if isinstance(c, Centre):
            return BitMap.union(*(f("centre", v) for v in c.values))
        if isinstance(c, Dataset):
            return BitMap.union(*(f("dataset", v) for v in c.values))
        if isinstance(c, Assay):
            sets = []
            if c.assay_type:
                sets.append(BitMap.union(*(f("assay_type", v) for v in c.assay_type)))
            if c.assay_name:
                sets.append(BitMap.union(*(f("assay_name", v) for v in c.assay_name)))
            return BitMap.intersection(*sets) if len(sets) > 1 else sets[0]
        if isinstance(c, Pipeline):
            sets = []
            if c.fingerprints:
                sets.append(BitMap.union(*(f("fingerprint", v) for v in c.fingerprints)))
            if c.harmonised is not None:
                sets.append(f("harmonised", c.harmonised))
            return BitMap.intersection(*sets) if len(sets) > 1 else sets[0]
        if isinstance(c, VitalStatus):
            return f("vital", c.value)
        raise DefinitionError(f"criterion type {getattr(c, 'type', c)!r} is not supported")

    def _variant(self, idx: LakeIndex, v: Variant) -> BitMap:
        t = v.target
        gene, change, prefix = t.gene, t.change, t.prefix
        if gene and t.only_gene:
            if change is None:
                return idx.feature("gene", gene)
            if not prefix:
                return idx.feature("gene_pc", gene, change)
        atoms = idx.gene_atoms.get(gene, set()) if gene else idx.atoms.keys()
        cons, classes = t.consequences, t.classes
        hits = [
            idx.atoms[a]
            for a in atoms
            if (change is None or (a[1].startswith(change) if prefix else a[1] == change))
            and (not cons or a[2] in cons)
            and (not classes or a[3] in classes)
            and (t.origin is None or a[4] == t.origin)
        ]
        return BitMap.union(*hits) if hits else BitMap()

    def _check_leaf(self, idx: LakeIndex, c: Any, comp: _Compiled) -> None:
        p = comp.problems
        known = idx.features
        if isinstance(c, TumourType):
            for code in c.codes:
                if not oncotree.is_code(code.strip().upper()):
                    p.append(
                        f"tumour_type: unknown OncoTree code {code!r} "
                        f"(release {oncotree.ONCOTREE_RELEASE})"
                    )
        elif isinstance(c, Variant):
            # the protein change and the vocabulary were read when the model was built
            p.extend(f"variant: {x}" for x in c.problems)
            given = c.gene.upper() if c.gene else None
            gene = given if c.problems else c.target.gene
            if gene and gene not in idx.gene_atoms and gene not in idx.panel_gene:
                p.append(
                    f"variant: unknown gene {gene!r} (no variant and no assay of the lake "
                    "mentions it; see GET /api/v1/filtering-terms)"
                )
        elif isinstance(c, Biomarker):
            if ("marker", c.marker.upper()) not in known:
                p.append(
                    f"biomarker: unknown marker {c.marker!r}; known: "
                    f"{', '.join(idx.values('marker'))}"
                )
            for x in c.interpretation or ():
                if x.lower() not in INTERPRETATIONS:
                    p.append(
                        f"biomarker: unknown interpretation {x!r}; known: "
                        f"{', '.join(sorted(INTERPRETATIONS))}"
                    )
        elif isinstance(c, StageGroup):
            for x in c.values:
                if not STAGE_RE.match(_stage(x)):
                    p.append(f"stage_group: unknown stage group {x!r} (e.g. I, IIA, III, IVB)")
        elif isinstance(c, Treatment):
            if c.drug is not None and ("drug", c.drug.lower()) not in known:
                p.append(f"treatment: unknown drug {c.drug!r}")
        elif isinstance(c, Centre | Dataset):
            kind = "centre" if isinstance(c, Centre) else "dataset"
            for x in c.values:
                if (kind, x) not in known:
                    p.append(f"{kind}: unknown {kind} {x!r} (see GET /api/v1/datasets)")
        elif isinstance(c, Assay):
            for kind, vals in (("assay_type", c.assay_type), ("assay_name", c.assay_name)):
                for x in vals or ():
                    if (kind, x) not in known:
                        p.append(
                            f"assay: unknown {kind} {x!r}; known: "
                            f"{', '.join(map(str, idx.values(kind)))}"
                        )
        elif isinstance(c, Pipeline):
            for x in c.fingerprints or ():
                if ("fingerprint", x) not in known:
                    p.append(f"pipeline: unknown pipeline fingerprint {x!r}")

    # -- answers --------------------------------------------------------------------------

    def count(self, definition: CohortDefinition, purpose: ResearchPurpose) -> CountResult:
        """Exact counts of ``definition`` for ``purpose`` on the current index.

        Raises :class:`DefinitionError` naming every unknown value.
        """
        problems = self.check(definition)
        if problems:
            raise DefinitionError("; ".join(problems))
        with self.indexer.lock:
            idx = self.index
            matched = self.evaluate(idx, definition)
            permitted = matched & self.permitted_by(idx, purpose)
            # by centre: a slot never changes centre, so each centre's patients are one
            # bitmap and its count an intersection's cardinality, which costs per bitmap
            # container rather than per patient of the answer (a gather does)
            by_c = np.fromiter(
                (permitted.intersection_cardinality(idx.feature("centre", c)) for c in idx.centres),
                dtype=np.int64,
                count=len(idx.centres),
            )
            # by tumour type (a patient's first primary diagnosis, no bitmap of its own): one
            # conversion to numpy's index type for the gather (fancy indexing with uint32
            # converts on every use)
            slots = slots_of(permitted).astype(np.intp)
            by_t = np.bincount(idx.basket_of.take(slots), minlength=len(idx.baskets))
            genes = tuple(sorted({g for leaf in definition.leaves() for g in _genes_of(leaf)}))
            has_coverage = any(
                isinstance(x, Variant) or type(x) in index_genomic.ANALYSIS_OF
                for x in definition.leaves()
            )
            denominator = None
            covered = None
            allowed = self.permitted_by(idx, purpose)
            if has_coverage:
                covered = self.evaluate(idx, definition, coverage=True)
                denominator = covered.intersection_cardinality(allowed)
            return CountResult(
                version_id=idx.version_id,
                matched=len(matched),
                permitted=permitted,
                excluded=len(matched) - len(permitted),
                by_tumour_type=Tally(*idx.labels("baskets"), by_t),
                by_centre=Tally(*idx.labels("centres"), by_c),
                denominator=denominator,
                genes=genes,
                index=idx,
                # the live bitmap (no criteria) changes in place: kept as a copy
                matched_set=matched.copy() if matched is idx.live else matched,
                covered_all=covered,
                purpose_set=allowed,
            )

    def patients(
        self, definition: CohortDefinition, purpose: ResearchPurpose
    ) -> tuple[str, dict[str, list[str]]]:
        """``(lake version id, {centre id: sorted patient ids})`` on the current index of the
        patients matching ``definition`` whose consent permits ``purpose`` (never shown to a
        researcher). Raises :class:`DefinitionError` naming every unknown value."""
        problems = self.check(definition)
        if problems:
            raise DefinitionError("; ".join(problems))
        with self.indexer.lock:
            idx = self.index
            return idx.version_id, self._by_centre(idx, self._matching(idx, definition, purpose))

    def patients_by_centre(
        self, definition: CohortDefinition, purpose: ResearchPurpose | None, version: LakeVersion
    ) -> dict[str, list[str]]:
        """``{centre id: sorted patient ids}`` at ``version`` of the patients matching
        ``definition`` whose consent permits ``purpose`` (every matching patient when
        ``purpose`` is None). For governance (access requests, exports); never shown to a
        researcher. Values the lake does not know match nobody."""
        with self._at(version) as idx:
            return self._by_centre(idx, self._matching(idx, definition, purpose))

    def centre_counts(
        self,
        definition: CohortDefinition,
        version: LakeVersion,
        purpose: ResearchPurpose | None = None,
    ) -> dict[str, int]:
        """Exact patients per centre at ``version`` matching ``definition`` (and permitted by
        ``purpose`` when given); centres without any are left out."""
        with self._at(version) as idx:
            slots = slots_of(self._matching(idx, definition, purpose))
            by_c = np.bincount(idx.centre_of[slots], minlength=len(idx.centres))
            return {idx.centres[i]: int(n) for i, n in sorted(enumerate(by_c)) if n}

    def _matching(
        self, idx: LakeIndex, definition: CohortDefinition, purpose: ResearchPurpose | None
    ) -> BitMap:
        matched = self.evaluate(idx, definition)
        return matched if purpose is None else matched & self.permitted_by(idx, purpose)

    @staticmethod
    def _by_centre(idx: LakeIndex, patients: BitMap) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for slot in patients:
            out.setdefault(idx.centres[idx.centre_of[slot]], []).append(idx.patient_ids[slot])
        return {c: sorted(p) for c, p in sorted(out.items())}


def _genes_of(leaf: Any) -> tuple[str, ...]:
    """The genes a leaf asks about (the denominator's ``genes``)."""
    if isinstance(leaf, Variant):
        return (leaf.target.gene,) if leaf.target.gene else ()
    if isinstance(leaf, Fusion):
        gene, names = leaf.keys()
        return (gene,) if gene else tuple(names[0].split("::"))
    if isinstance(leaf, StructuralVariant | CopyNumber):
        return (leaf.gene.strip().upper(),)
    return ()


def _substage(stage: str, wanted: str) -> bool:
    """True if ``stage`` is ``wanted`` or one of its substages (IIIB within III, never IV
    within I: only A–C with an optional digit, or "IS" for 0IS, may follow)."""
    return stage == wanted or (
        stage.startswith(wanted) and SUBSTAGE_RE.fullmatch(stage[len(wanted) :]) is not None
    )


def _stage(value: str) -> str:
    v = value.strip().upper()
    return re.sub(r"^STAGE\s*", "", v)


_ENGINES: weakref.WeakKeyDictionary[Lake, weakref.WeakSet[DiscoveryEngine]] = (
    weakref.WeakKeyDictionary()
)
_ENGINES_LOCK = threading.Lock()


def engine_for(lake: Lake, store: IndexStore | None = None) -> DiscoveryEngine:
    """A new discovery engine of ``lake`` (not started), owned by its caller (an app stops
    it with itself). ``store``: where its index is persisted
    (:mod:`catalog_api.discovery.index_store`). Another engine over the same
    :class:`~harmonise.lake.Lake` object in this process (another app: tests) lends its
    index for the first refresh when no persisted one is usable: a copy is taken instead
    of a build (:attr:`Indexer.siblings`)."""
    eng = DiscoveryEngine(lake, store=store)
    with _ENGINES_LOCK:
        others = _ENGINES.setdefault(lake, weakref.WeakSet())
        others.add(eng)
    me = weakref.ref(eng)

    def siblings() -> list[Indexer]:
        with _ENGINES_LOCK:
            return [e.indexer for e in list(others) if e is not me() and e.ready]

    eng.indexer.siblings = siblings
    return eng
