"""The in-memory index of one lake version: per-feature patient bitsets (Roaring bitmaps).

Every patient of a visible submission gets a *slot* (an integer); every feature the
catalogue can be asked about maps to the bitmap of the slots that have it:

* ``tumour``/code, ``sex``, ``centre``, ``dataset``, ``stage``, ``vital``, ``assay_type``,
  ``assay_name``, ``fingerprint``, ``harmonised``, ``drug``, ``line``, (``drug``, line),
  (``marker``, interpretation) and one bitmap per age at diagnosis;
* variants as *atoms*: one bitmap per distinct (gene, protein change, consequence, class,
  origin), so that the fields of one variant criterion hold for the same variant row;
  plus gene and (gene, protein change) bitmaps for the common questions;
* coverage: genome-wide patients and, per gene, the patients whose panel covers it;
* consent profiles: one bitmap per distinct (status, permissions, modifiers, diseases,
  time limit), so that a purpose is matched once per profile, not once per patient.

Updates are incremental: a new submission's rows are read (only that submission's rows,
pushed down as a ``submission_id`` filter) and OR-ed in under new slots; a replaced
submission's slots leave the ``live`` bitmap. Anything that is not an append (deletes after
consent withdrawal, compaction) triggers a full rebuild; the old index answers until the new
one is ready. The index is persisted per lake version
(:mod:`catalog_api.discovery.index_store`): a restarted server loads it, and applies only
the submissions appended since, instead of reading the lake again.

The variant atoms are built in :mod:`catalog_api.discovery.index_variants`; the genomic
criteria (fusions, copy number, MSI, TMB) are built and looked up in
:mod:`catalog_api.discovery.index_genomic`; per-gene coverage in
:mod:`catalog_api.discovery.index_qc`: each called from :meth:`LakeIndex.add_batch`.

Adding a criterion takes three steps, none of them in the persistence code:

1. read its columns: add the lake table and columns to :data:`COLUMNS` (``patient_id``
   and ``submission_id`` are always read);
2. build its bitmaps from :meth:`LakeIndex.add_batch`, in a function of its own like
   ``index_variants.add_variants``: map rows to slots with ``slot_col(table)`` and call
   ``self._group((kind,), key_column, slots)``, which ORs each slot into the feature
   ``(kind, key)`` of :attr:`LakeIndex.features` (a key may be a joined string, see
   :func:`join`, for multi-field criteria such as (gene, partner) of a fusion). Numeric
   ranges (TMB, a copy-number ratio) go in :attr:`LakeIndex.biomarker_values`-style
   sorted (value, slot) arrays, searched with ``np.searchsorted``;
3. answer it in ``engine.DiscoveryEngine._leaf`` from ``idx.feature(kind, key)``.

Features and value arrays are persisted as they are. A new *field* of :class:`LakeIndex`
must also be given its kind in ``index_store.FIELDS`` (a test fails until it is). Any
change to this module or to the builder modules changes the persisted files' code
fingerprint (``index_store.INDEX_MODULES``), so indexes saved by older code are rebuilt,
never misread.
"""

from __future__ import annotations

import array
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyroaring import BitMap

from catalog_api.discovery import index_genomic, index_qc, index_variants
from harmonise.lake import Lake, LakeVersion

if TYPE_CHECKING:
    from catalog_api.discovery.index_store import IndexStore as IndexStoreLike

log = logging.getLogger(__name__)

#: Variant rows read per batch when (re)building (bounds memory at network scale).
BATCH_VARIANT_ROWS = 2_000_000
SEP = "\x1f"


class Numbering(Protocol):
    """The disclosure store's numbering (``catalog_api.discovery.history``); a store may
    also number by key (``keys(ids)`` and ``numbers_of_keys(keys)``)."""

    def numbers(self, patient_ids: Sequence[str]) -> np.ndarray:
        """The stable numbers of ``patient_ids``."""


AtomKey = tuple[str, str, str, str, str]  # gene, protein_change, consequence, class, origin
ProfileKey = tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...], str]


def join(*cols: Any) -> Any:
    """Element-wise join of string columns with :data:`SEP` (whatever their string type)."""
    cast = [pc.cast(c, pa.large_string()) for c in cols]
    return pc.binary_join_element_wise(*cast, pa.scalar(SEP, pa.large_string()))


def bitmap_of(values: np.ndarray) -> BitMap:
    """A bitmap of the uint32 ``values`` (fast path through ``array('I')``)."""
    return BitMap(array.array("I", np.ascontiguousarray(values, dtype=np.uint32).tobytes()))


def name_ranks(names: list[str]) -> np.ndarray:
    """``rank[i]``: the position of ``names[i]`` in name order (breakdown ties go by it)."""
    rank = np.empty(len(names), dtype=np.int64)
    rank[sorted(range(len(names)), key=names.__getitem__)] = np.arange(len(names))
    return rank


def slots_of(bm: BitMap) -> np.ndarray:
    """The slots of ``bm`` as a numpy uint32 array (no copy)."""
    return np.frombuffer(bm.to_array(), dtype=np.uint32)


@dataclass
class DatasetInfo:
    """Catalogue metadata of one visible dataset (no patient data)."""

    dataset_id: str
    centre_id: str
    submission_id: str
    row: dict[str, Any]


@dataclass
class LakeIndex:
    """Bitmaps of one lake version (see the module doc). Mutated only by :class:`Indexer`."""

    version: LakeVersion | None = None
    submissions: dict[str, BitMap] = field(default_factory=dict)  # submission → its slots
    datasets: dict[str, DatasetInfo] = field(default_factory=dict)  # submission → info
    patient_ids: list[str] = field(default_factory=list)  # slot → patient id
    live: BitMap = field(default_factory=BitMap)
    centre_of: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    basket_of: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    centres: list[str] = field(default_factory=list)
    centre_no: dict[str, int] = field(default_factory=dict)
    baskets: list[str] = field(default_factory=list)
    basket_no: dict[str, int] = field(default_factory=dict)
    features: dict[tuple[Any, ...], BitMap] = field(default_factory=dict)
    atoms: dict[AtomKey, BitMap] = field(default_factory=dict)
    gene_atoms: dict[str, set[AtomKey]] = field(default_factory=dict)
    genome_wide: BitMap = field(default_factory=BitMap)
    sequenced: BitMap = field(default_factory=BitMap)
    panel_gene: dict[str, BitMap] = field(default_factory=dict)
    profiles: dict[ProfileKey, BitMap] = field(default_factory=dict)
    biomarker_values: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    #: marker → range lookups on its values (``index_genomic.ValueCuts``): TMB's made when
    #: its values change, the others' (and TMB's after a load) on first use
    value_cuts: dict[str, index_genomic.ValueCuts] = field(default_factory=dict, repr=False)
    #: gene → sorted (mean depth, slot) of the tumour specimens' per-gene coverage
    #: (:mod:`~catalog_api.discovery.index_qc`)
    gene_depths: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    generation: int = 0
    built_at: float = 0.0
    #: slot → stable patient number (see ``discovery.history``; 0: not numbered yet),
    #: filled in by :meth:`stable_slots` for the slots a disclosure check needs and, in the
    #: background, for every slot (slots are never renumbered within an index)
    stable_numbers: np.ndarray = field(
        default_factory=lambda: np.zeros(0, dtype=np.uint32), repr=False
    )
    #: slot → the patient's keyed hash in the disclosure store (``b""``: not computed yet);
    #: persisted, so that a restart numbers the index without hashing every patient again
    patient_keys: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="S32"), repr=False)
    _numbering: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: Bitmaps computed from this index (criteria, purposes), emptied when it changes.
    memo: dict[Any, BitMap] = field(default_factory=dict, repr=False)
    _values: dict[str, list[Any]] = field(default_factory=dict, repr=False)
    _labels: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    @property
    def version_id(self) -> str:
        """The lake version's id ("empty" before the first build)."""
        return self.version.id if self.version else "empty"

    def feature(self, *key: Any) -> BitMap:
        """The bitmap of a feature (empty if no patient has it)."""
        return self.features.get(key, _EMPTY)

    def values(self, kind: str) -> list[Any]:
        """The known values of a feature kind (e.g. every drug), sorted (memoised until the
        next update)."""
        cached = self._values.get(kind)
        if cached is None:
            cached = sorted({k[1] for k in self.features if k[0] == kind and len(k) == 2}, key=str)
            self._values[kind] = cached
        return cached

    def labels(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """For ``kind`` ``"centres"`` or ``"baskets"``: the names by code as a numpy object
        array, and ``rank[i]``, the position of the i-th name in name order (codes are
        numbered in arrival order). Memoised until codes are added (only ever appended):
        a breakdown gathers its cells' names from it without a Python loop."""
        names: list[str] = getattr(self, kind)
        cached = self._labels.get(kind)
        if cached is None or len(cached[0]) != len(names):
            cached = self._labels[kind] = (np.array(names, dtype=object), name_ranks(names))
        return cached

    def stable_slots(self, slots: np.ndarray, store: Numbering) -> np.ndarray:
        """The stable numbers of ``slots``; the slots not numbered yet are numbered now by
        ``store`` (the disclosure store), only those: the first count after a build numbers
        its own patients, not the whole index. With a store that numbers by key
        (``keys``/``numbers_of_keys``), the keys are kept in :attr:`patient_keys`."""
        with self._numbering:
            n = len(self.patient_ids)
            have = self.stable_numbers
            if len(have) < n:
                have = self.stable_numbers = np.concatenate(
                    [have, np.zeros(n - len(have), dtype=np.uint32)]
                )
            out = have[slots]
            missing = slots[out == 0]
            if not len(missing):
                return out
            by_key = getattr(store, "numbers_of_keys", None)
            if by_key is None:
                ids = self.patient_ids
                have[missing] = store.numbers([ids[i] for i in missing.tolist()])
                return have[slots]
            keys = self.patient_keys
            if len(keys) < n:
                keys = self.patient_keys = np.concatenate([keys, np.zeros(n - len(keys), "S32")])
            mine = keys[missing]
            todo = missing[mine == b""]
            if len(todo):
                ids = self.patient_ids
                keys[todo] = store.keys([ids[i] for i in todo.tolist()])  # type: ignore[attr-defined]
                mine = keys[missing]
            have[missing] = by_key([k.decode() for k in mine.tolist()])
            return have[slots]

    def unnumbered(self, limit: int) -> np.ndarray:
        """Up to ``limit`` slots without a stable number yet (for the background numbering)."""
        with self._numbering:
            have = self.stable_numbers
            n = len(self.patient_ids)
            missing = np.flatnonzero(have == 0).astype(np.uint32)
            if len(have) < n:
                missing = np.concatenate([missing, np.arange(len(have), n, dtype=np.uint32)])
            return missing[:limit]

    # -- building ------------------------------------------------------------------------

    def _grow(self, n: int) -> np.ndarray:
        start = len(self.patient_ids)
        need = start + n
        if len(self.centre_of) < need:
            cap = max(need, 2 * len(self.centre_of), 1024)
            self.centre_of = np.resize(self.centre_of, cap)
            self.basket_of = np.resize(self.basket_of, cap)
        return np.arange(start, need, dtype=np.uint32)

    def _add(self, key: tuple[Any, ...], bm: BitMap) -> None:
        cur = self.features.get(key)
        if cur is None:
            self.features[key] = bm
        else:
            cur |= bm

    def _code(self, table: dict[str, int], names: list[str], value: str) -> int:
        no = table.get(value)
        if no is None:
            no = table[value] = len(names)
            names.append(value)
        return no

    def _group(
        self, kind: tuple[Any, ...], keys: pa.ChunkedArray | pa.Array, slots: np.ndarray
    ) -> None:
        """OR each slot into the feature (*kind, key) of its row (nulls skipped)."""
        if len(slots) == 0:
            return
        if isinstance(keys, pa.ChunkedArray):
            keys = keys.combine_chunks()
        enc = pc.dictionary_encode(keys)
        idx = enc.indices.to_numpy(zero_copy_only=False)
        valid = ~np.isnan(idx) if idx.dtype.kind == "f" else np.ones(len(idx), dtype=bool)
        if enc.indices.null_count:
            valid = ~pc.is_null(enc.indices).to_numpy(zero_copy_only=False)
        idx = idx[valid].astype(np.int64)
        s = slots[valid]
        order = np.argsort(idx, kind="stable")
        idx, s = idx[order], s[order]
        bounds = np.flatnonzero(np.diff(idx)) + 1
        dictionary = enc.dictionary.to_pylist()
        for chunk_idx, chunk in zip(np.split(idx, bounds), np.split(s, bounds), strict=True):
            if len(chunk_idx):
                self._add((*kind, dictionary[int(chunk_idx[0])]), bitmap_of(chunk))

    def add_batch(self, tables: dict[str, pa.Table], infos: Sequence[DatasetInfo]) -> None:
        """Index the rows of a batch of submissions (``tables`` holds only their rows)."""
        self._values = {}
        pats = tables["patients"]
        pids = pats.column("patient_id").combine_chunks()
        slots = self._grow(len(pids))
        self.patient_ids.extend(pids.to_pylist())
        # slot of each patient id of this batch (ids are unique within a submission)
        lookup = pids

        def slot_col(t: pa.Table) -> tuple[np.ndarray, np.ndarray]:
            pos = pc.index_in(t.column("patient_id"), value_set=lookup)
            pos_np = pos.to_numpy(zero_copy_only=False)
            ok = ~pc.is_null(pos).to_numpy(zero_copy_only=False)
            return slots[pos_np[ok].astype(np.int64)], ok

        sub_col = pats.column("submission_id").to_numpy(zero_copy_only=False)
        for info in infos:
            mine = slots[sub_col == info.submission_id]
            self.submissions[info.submission_id] = bitmap_of(mine)
            self.datasets[info.submission_id] = info
            no = self._code(self.centre_no, self.centres, info.centre_id)
            self.centre_of[mine] = no
            self._add(("centre", info.centre_id), bitmap_of(mine))
            self._add(("dataset", info.dataset_id), bitmap_of(mine))
            fp = info.row.get("pipeline_fingerprint")
            if fp:
                self._add(("fingerprint", fp), bitmap_of(mine))
            if info.row.get("harmonised") is not None:
                self._add(("harmonised", bool(info.row["harmonised"])), bitmap_of(mine))
        self.live |= bitmap_of(slots)
        self._group(("sex",), pats.column("sex"), slots)
        deceased = pc.fill_null(pats.column("deceased"), False).to_numpy(zero_copy_only=False)
        self._add(("vital", "deceased"), bitmap_of(slots[deceased]))
        self._add(("vital", "alive"), bitmap_of(slots[~deceased]))
        self._conditions(tables["conditions"], slot_col, slots)
        self._specimens(tables["specimens"], slot_col)
        index_variants.add_variants(self, tables["variants"], slot_col)
        t = tables["biomarkers"]
        s, ok = slot_col(t)
        t = t.filter(pa.array(ok))
        marker = pc.utf8_upper(t.column("marker"))
        interp = pc.utf8_lower(t.column("interpretation"))
        key = join(marker, interp)
        self._group(("marker_interp",), key, s)
        self._group(("marker",), marker, s)
        index_genomic.add_msi(self, t, marker, interp, s)
        index_genomic.add_result_analyses(self, marker, s)
        vals = t.column("value_numeric")
        has = ~pc.is_null(vals).to_numpy(zero_copy_only=False)
        mk = marker.to_numpy(zero_copy_only=False)
        v = pc.fill_null(vals, 0.0).to_numpy(zero_copy_only=False)
        for m in set(mk[has]):
            sel = has & (mk == m)
            old_v, old_s = self.biomarker_values.get(m, (np.zeros(0), np.zeros(0, np.uint32)))
            nv = np.concatenate([old_v, v[sel]])
            ns = np.concatenate([old_s, s[sel]]).astype(np.uint32)
            order = np.argsort(nv, kind="stable")
            self.biomarker_values[m] = (nv[order], ns[order])
            self.value_cuts.pop(m, None)
            if m in index_genomic.EAGER_CUTS:  # else made by the first range question
                self.value_cuts[m] = index_genomic.ValueCuts(nv[order], ns[order])
        t = tables["treatments"]
        s, ok = slot_col(t)
        t = t.filter(pa.array(ok))
        drug = pc.utf8_lower(t.column("drug"))
        self._group(("drug",), drug, s)
        line = t.column("line_of_therapy")
        self._group(("line",), line, s)
        self._group(("drug_line",), join(drug, pc.cast(line, pa.string())), s)
        self._consents(tables["consents"], slot_col)
        index_genomic.add_genomic(self, tables, slot_col)
        index_qc.add_coverage(self, tables["gene_coverage"], slot_col)

    def _conditions(self, t: pa.Table, slot_col: Any, slots: np.ndarray) -> None:
        s, ok = slot_col(t)
        t = t.filter(pa.array(ok))
        codes = t.column("oncotree_code")
        self._group(("tumour",), codes, s)
        # a coded stage (a SNOMED CT concept id, all digits) counts by its display
        # ("Stage IV"), the TNM group a criterion names; a bare code stays as it is
        code = t.column("stage_group")
        numeric = pc.fill_null(pc.match_substring_regex(code, r"^[0-9]+$"), False)
        display = t.column("stage_group_display")
        stage = pc.coalesce(pc.if_else(numeric, display, code), code, display)
        stage = pc.utf8_upper(stage)
        stage = pc.utf8_trim_whitespace(pc.replace_substring_regex(stage, r"^STAGE\s*", ""))
        self._group(("stage",), stage, s)
        ages = t.column("age_at_diagnosis")
        self._group(("age",), ages, s)
        # basket: the first primary diagnosis (or first diagnosis) of each patient
        unknown = self._code(self.basket_no, self.baskets, "unknown")
        self.basket_of[slots] = unknown
        if not len(s):
            return
        kind = pc.fill_null(t.column("kind"), "primary").to_numpy(zero_copy_only=False)
        enc = pc.dictionary_encode(pc.fill_null(codes, "unknown")).combine_chunks()
        local = np.array(
            [self._code(self.basket_no, self.baskets, c) for c in enc.dictionary.to_pylist()],
            dtype=np.int32,
        )
        code_no = local[enc.indices.to_numpy(zero_copy_only=False)]
        rank = np.where(kind == "primary", 0, 1)
        order = np.lexsort((rank, s))
        first = np.unique(s[order], return_index=True)[1]
        self.basket_of[s[order][first]] = code_no[order][first]

    def _specimens(self, t: pa.Table, slot_col: Any) -> None:
        s, ok = slot_col(t)
        t = t.filter(pa.array(ok))
        self._group(("assay_type",), t.column("assay_type"), s)
        self._group(("assay_name",), t.column("assay_name"), s)
        index_genomic.add_analyses(self, t, s)
        cov = (
            t.column("covered_genes").combine_chunks()
            if t.num_rows
            else pa.array([], pa.list_(pa.string()))
        )
        has_assay = ~pc.is_null(t.column("assay_type")).to_numpy(zero_copy_only=False)
        no_list = pc.is_null(cov).to_numpy(zero_copy_only=False)
        self.genome_wide |= bitmap_of(s[no_list & has_assay])
        self.sequenced |= bitmap_of(s[has_assay | ~no_list])
        if t.num_rows and not no_list.all():
            flat = pc.list_flatten(cov)
            parent = pc.list_parent_indices(cov).to_numpy(zero_copy_only=False)
            before = dict(self.features)
            self.features = {}
            self._group(("covers",), flat, s[parent])
            for (_, gene), bm in self.features.items():
                cur = self.panel_gene.get(gene)
                if cur is None:
                    self.panel_gene[gene] = bm
                else:
                    cur |= bm
            self.features = before

    def _consents(self, t: pa.Table, slot_col: Any) -> None:
        s, ok = slot_col(t)
        t = t.filter(pa.array(ok))
        if not t.num_rows:
            return

        def joined(col: str) -> pa.ChunkedArray:
            col_ = pc.cast(t.column(col), pa.list_(pa.string()))
            return pc.fill_null(pc.binary_join(col_, ","), "")

        status = pc.fill_null(t.column("status"), "")
        mods = joined("modifiers")
        key = join(status, joined("permissions"), mods, joined("disease_codes"))
        limited = pc.match_substring(mods, "DUO:0000025").to_numpy(zero_copy_only=False)
        if limited.any():  # time-limited consents: the end date is part of the profile
            ends = []
            for doc in t.column("consent_json").to_numpy(zero_copy_only=False)[limited]:
                prov = json.loads(doc).get("provision", {}) if doc else {}
                ends.append((prov.get("period") or {}).get("end", ""))
            full = np.array(key.to_pylist(), dtype=object)
            full[limited] = [f"{k}{SEP}{e}" for k, e in zip(full[limited], ends, strict=True)]
            key = pa.array(full, pa.string())
        before = self.features
        self.features = {}
        self._group(("profile",), key, s)
        for (_, text), bm in self.features.items():
            parts = text.split(SEP)
            pkey: ProfileKey = (
                parts[0],
                tuple(p for p in parts[1].split(",") if p),
                tuple(p for p in parts[2].split(",") if p),
                tuple(p for p in parts[3].split(",") if p),
                parts[4] if len(parts) > 4 else "",
            )
            cur = self.profiles.get(pkey)
            if cur is None:
                self.profiles[pkey] = bm
            else:
                cur |= bm
        self.features = before

    def remove_submissions(self, ids: Iterable[str]) -> None:
        """Take replaced submissions' patients out of every answer."""
        for sid in ids:
            bm = self.submissions.pop(sid, None)
            self.datasets.pop(sid, None)
            if bm is not None:
                self.live -= bm


_EMPTY = BitMap()
_MSI_COLS = ["value_code", "value_display"]  # read for index_genomic.add_msi
#: Columns read per table (``patient_id`` and ``submission_id`` always).
COLUMNS: dict[str, list[str]] = {
    "patients": ["patient_id", "submission_id", "sex", "deceased"],
    "conditions": [
        "patient_id",
        "kind",
        "oncotree_code",
        "age_at_diagnosis",
        "stage_group",
        "stage_group_display",
    ],
    "specimens": ["patient_id", "assay_type", "assay_name", "covered_genes", "analyses"],
    "variants": ["patient_id", "gene", "protein_change", "consequence", "variant_class", "origin"],
    "biomarkers": ["patient_id", "marker", "interpretation", "value_numeric", *_MSI_COLS],
    "structural_variants": [
        "patient_id",
        "sv_type",
        "gene_a",
        "gene_b",
        "fusion",
        "fusion_genes",
        "filter",
    ],
    "copy_number_genes": ["patient_id", "gene", "call"],
    "gene_coverage": ["patient_id", "gene", "role", "mean_depth"],
    "treatments": ["patient_id", "drug", "line_of_therapy"],
    "consents": [
        "patient_id",
        "status",
        "permissions",
        "modifiers",
        "disease_codes",
        "consent_json",
    ],
}


class Indexer:
    """Keeps a :class:`LakeIndex` of the lake's current version, refreshed in the background.

    ``refresh()`` checks the lake's change token (one catalog query) and applies
    new submissions incrementally, or rebuilds when something other than appends happened.
    ``start()`` runs ``refresh`` every ``interval`` seconds in a daemon thread.
    """

    def __init__(
        self, lake: Lake, interval: float = 1.0, store: IndexStoreLike | None = None
    ) -> None:
        self.lake = lake
        self.interval = interval
        self.store = store
        self.index = LakeIndex()
        self.lock = threading.RLock()  # held by queries while they read the index
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.last_refresh_seconds = 0.0
        self._token: tuple[tuple[str, str | None], ...] | None = None
        #: what the first refresh is doing: "starting", "loading", "building", "ready"
        self.state = "starting"
        #: submissions indexed / to index in the running build (for "not ready" answers)
        self.progress = (0, 0)
        self.full_builds = 0  # full builds from the lake (for tests and metrics)
        self.loads = 0  # persisted indexes loaded
        self.copies = 0  # first indexes copied from another engine's (``siblings``)
        #: the indexers of other engines over the same lake object (another app in this
        #: process: tests), whose index a first refresh copies instead of building one
        self.siblings: Callable[[], list[Indexer]] | None = None
        #: called with each new index before it goes live (the engine marks whose
        #: numbers and persisted patient keys it holds)
        self.on_publish: Callable[[LakeIndex], None] | None = None
        self._saved_at = 0.0
        self._saved_version: str | None = None
        self._save_requested = False

    def request_save(self) -> None:
        """Save the live index at the next refresh even if its version is saved already
        (the background numbering completed its patient keys)."""
        self._save_requested = True

    def start(self) -> None:
        """Refresh now-ish and then every ``interval`` seconds, in a daemon thread."""
        if self._thread is not None:
            return
        self._stop.clear()  # (started again after a stop)
        self._thread = threading.Thread(target=self._run, name="discovery-index", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background refresh."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
                self.last_error = None
            except Exception as exc:  # keep serving the last good index; report the error
                log.exception("discovery index refresh failed")
                self.last_error = f"{type(exc).__name__}: {exc}"
            self._stop.wait(self.interval)

    def refresh(self) -> bool:
        """Bring the index to the lake's current version; True if anything changed.

        The first refresh starts from the newest persisted index when there is one
        (:meth:`_load`); a full build is saved at once, incremental updates at most every
        ``store`` save interval."""
        with self._refresh_lock:
            t0 = time.perf_counter()
            # read before the version: a commit in between only makes the next poll look
            token = self.lake.change_token()
            if self.index.version is not None and token == self._token:
                self._save_if_due()
                return False  # nothing committed since (without loading any table)
            version = self.lake.current_version()
            if self.index.version is None and (self.store is not None or self.siblings is not None):
                self._load(version)
            old = self.index
            if old.version is not None and version.id == old.version.id:
                self._token = token
                self.state = "ready"
                self._save_if_due()
                return False
            if old.version is None or not self.lake.only_appends(old.version, version):
                self.state = "building" if old.version is None else self.state
                new = self.build(version)
                self._publish(new)
                # saved only if the lake did not move meanwhile (a withdrawal's deletes
                # run table by table: a build between two of them is not kept on disk)
                if self.lake.change_token() == token:
                    self._save(new)
            else:
                self._apply(old, version)
                self._save_if_due()
            self._token = token
            self.state = "ready"
            self.last_refresh_seconds = time.perf_counter() - t0
            log.info("discovery index at %s in %.2fs", version.id, self.last_refresh_seconds)
            return True

    def _load(self, current: LakeVersion) -> None:
        """Start from the newest persisted index if it is of ``current`` or of a version
        that only appends led to (it is then brought up to date by the caller), else from
        a copy of the index of another engine over the same lake (:attr:`siblings`); else
        log why not and leave it (the caller builds and saves one)."""
        self.state = "loading"
        t0 = time.perf_counter()
        idx = self.store.latest() if self.store is not None else None
        if idx is not None and self._adopt(idx, current, "persisted"):
            self.loads += 1
            self._saved_version = idx.version_id
            self._saved_at = time.monotonic()
            log.info(
                "discovery index of %s loaded from disk in %.2fs (%d patients)",
                idx.version_id,
                time.perf_counter() - t0,
                len(idx.patient_ids),
            )
            return
        for other in self.siblings() if self.siblings is not None else []:
            from catalog_api.discovery.index_store import copy_index

            with other.lock:
                if other.index.version is None:
                    continue
                idx = copy_index(other.index)
            if self._adopt(idx, current, "another engine's"):
                self.copies += 1
                log.info(
                    "discovery index of %s copied from another engine over the lake in %.2fs",
                    idx.version_id,
                    time.perf_counter() - t0,
                )
                return

    def _adopt(self, idx: LakeIndex, current: LakeVersion, source: str) -> bool:
        """Make ``idx`` the live index if its version is ``current`` or one that only
        appends led to and it holds that version's submissions; else log why not."""
        if idx.version is None:
            return False
        try:
            usable = idx.version.id == current.id or self.lake.only_appends(idx.version, current)
            infos = self._infos(idx.version) if usable else {}
        except Exception as exc:  # its version can no longer be read (history expired)
            log.info("%s discovery index of %s not used: %s", source, idx.version.id, exc)
            return False
        if not usable:
            log.info(
                "%s discovery index of %s not used: the lake changed by more than "
                "appends since (now %s); rebuilding",
                source,
                idx.version.id,
                current.id,
            )
            return False
        if set(infos) != set(idx.submissions):
            log.warning(
                "%s discovery index of %s does not hold that version's submissions; rebuilding",
                source,
                idx.version.id,
            )
            return False
        idx.datasets = infos
        idx.built_at = time.time()
        self._publish(idx)
        return True

    def _publish(self, idx: LakeIndex) -> None:
        """Make ``idx`` the live index (after :attr:`on_publish`)."""
        if self.on_publish is not None:
            self.on_publish(idx)
        with self.lock:
            self.index = idx

    def _save(self, idx: LakeIndex) -> None:
        if self.store is None or idx.version is None:
            return
        try:
            self.store.save(idx)
        except (OSError, ValueError, TypeError) as exc:  # serving goes on without it
            log.warning("discovery index of %s not saved: %s", idx.version_id, exc)
            return
        self._saved_version = idx.version.id
        self._saved_at = time.monotonic()

    def _save_if_due(self) -> None:
        idx = self.index
        interval = getattr(self.store, "save_interval", 60.0)
        if self.store is None or idx.version is None:
            return
        if self._save_requested or (
            idx.version.id != self._saved_version and time.monotonic() - self._saved_at >= interval
        ):
            self._save_requested = False
            self._save(idx)

    def _infos(self, version: LakeVersion) -> dict[str, DatasetInfo]:
        rows = self.lake.visible_submissions(version).to_pylist()
        return {
            r["submission_id"]: DatasetInfo(r["dataset_id"], r["centre_id"], r["submission_id"], r)
            for r in rows
        }

    def build(self, version: LakeVersion) -> LakeIndex:
        """A new index of ``version`` (any readable version, not only the current one)."""
        t0 = time.perf_counter()
        idx = LakeIndex(version=version)
        self._add_submissions(idx, version, list(self._infos(version).values()))
        idx.built_at = time.time()
        self.full_builds += 1
        log.info(
            "discovery index of %s built in %.2fs (%d patients)",
            version.id,
            time.perf_counter() - t0,
            len(idx.patient_ids),
        )
        return idx

    def _apply(self, idx: LakeIndex, version: LakeVersion) -> None:
        infos = self._infos(version)
        gone = [s for s in idx.submissions if s not in infos]
        new = [i for s, i in infos.items() if s not in idx.submissions]
        # only the files added since the index's version: the change was appends only
        since = idx.version
        tables = [self._read(version, [i.submission_id for i in new], since)] if new else []
        with self.lock:
            idx.remove_submissions(gone)
            for t in tables:
                idx.add_batch(t, new)
            idx.version = version
            idx.generation += 1
            idx.memo = {}
            idx.built_at = time.time()

    def _add_submissions(
        self, idx: LakeIndex, version: LakeVersion, infos: list[DatasetInfo]
    ) -> None:
        batch: list[DatasetInfo] = []
        rows = 0
        done = 0
        self.progress = (0, len(infos))
        for info in infos:
            batch.append(info)
            try:
                rows += int(json.loads(info.row.get("row_counts_json") or "{}").get("variants", 0))
            except (ValueError, AttributeError):
                rows += 1
            if rows >= BATCH_VARIANT_ROWS:
                idx.add_batch(self._read(version, [b.submission_id for b in batch]), batch)
                done += len(batch)
                self.progress = (done, len(infos))
                batch, rows = [], 0
        if batch:
            idx.add_batch(self._read(version, [b.submission_id for b in batch]), batch)

    def _read(
        self, version: LakeVersion, submission_ids: list[str], since: LakeVersion | None = None
    ) -> dict[str, pa.Table]:
        """The rows of ``submission_ids`` at ``version``, :data:`COLUMNS` only, per table
        (with ``since``: looked for only in the files added after that version).

        Read with :meth:`Lake.read` (committed rows only, each file verified against its
        signed tags and digest, Parquet projection, the submission-id filter pushed down).
        """
        return {
            name: self.lake.read(
                name,
                version,
                columns=list(dict.fromkeys([*cols, "submission_id"])),
                submissions=submission_ids,
                since=since,
            )
            for name, cols in COLUMNS.items()
        }
