"""The genomic part of the discovery index: fusions, gene copy number, MSI status, TMB.

Built from the pipeline's tables (``structural_variants``, ``copy_number_genes``) and from
``biomarkers`` rows (FHIR-reported and ``source=pipeline`` alike), into the same
:attr:`~catalog_api.discovery.index.LakeIndex.features` as every other criterion:

* ``("fusion", "A::B")`` and ``("fusion_gene", gene)``: the fusions called with FILTER
  PASS or none, and each of their genes (any partner);
* ``("sv_gene", gene)`` and ``("sv_gene_type", gene␟type)``: the structural variants (FILTER
  PASS or none) with a breakpoint in a gene (``gene_a`` or ``gene_b``), by SV type;
* ``("cn", gene␟call)``: a gene's copy-number call (amplification, gain, …);
* ``("msi", status)``: MSI-H / MSI-L / MSS from an MSI biomarker's code, display or
  interpretation (:data:`~catalog_api.discovery.definition.MSI_STATUS`, the later the
  stronger);
* TMB: the ``biomarker_values`` sorted (value, slot) arrays of marker ``TMB``, looked up
  through :class:`ValueCuts`;
* ``("analysed", kind)``: the patients analysed for structural variants, copy number,
  TMB or MSI (a specimen's ``analyses`` lists it, or the patient has a result row of it):
  the coverage-aware denominator of those criteria (:func:`analysed`).

:func:`add_genomic` (with :func:`add_sv_genes`) and :func:`add_msi` are called by
:meth:`~catalog_api.discovery.index.LakeIndex.add_batch`; the engine answers these
criteria with the lookups at the end (:func:`fusion`, :func:`structural_variant`,
:func:`copy_number`, :func:`msi`,
:func:`value_range`). This module's source is part of the persisted index's code
fingerprint (``index_store.code_fingerprint``), as ``index.py``'s is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyroaring import BitMap

from catalog_api.discovery import index as _index
from catalog_api.discovery.definition import (
    MSI_STATUS,
    CopyNumber,
    Fusion,
    Msi,
    StructuralVariant,
    Tmb,
)

if TYPE_CHECKING:
    from catalog_api.discovery.index import LakeIndex


# -- building ------------------------------------------------------------------------


def add_genomic(idx: LakeIndex, tables: dict[str, pa.Table], slot_col: Any) -> None:
    """Fusions ``A::B`` and their genes (FILTER PASS or none), gene copy-number calls; a
    patient with any row of a table was analysed for it (``("analysed", kind)``)."""
    t = tables["structural_variants"]
    s, _ = slot_col(t)
    idx._add(("analysed", "structural_variants"), _index.bitmap_of(np.unique(s)))
    t = t.filter(pc.is_in(t["filter"], pa.array(["PASS", ".", None])))  # null: no filter
    s, ok = slot_col(t)
    t = t.filter(pa.array(ok))
    idx._group(("fusion",), pc.utf8_upper(t.column("fusion")), s)
    genes = t.column("fusion_genes").combine_chunks()
    parent = pc.list_parent_indices(genes).to_numpy(zero_copy_only=False)
    idx._group(("fusion_gene",), pc.utf8_upper(pc.list_flatten(genes)), s[parent])
    add_sv_genes(idx, t, s)
    t = tables["copy_number_genes"]
    s, ok = slot_col(t)
    t = t.filter(pa.array(ok))
    idx._add(("analysed", "copy_number"), _index.bitmap_of(np.unique(s)))
    idx._group(("cn",), _index.join(pc.utf8_upper(t.column("gene")), t.column("call")), s)


#: The analysis (``specimens.analyses``) whose results a criterion reads: a patient not
#: analysed so is not in that criterion's coverage-aware denominator.
ANALYSIS_OF: dict[type, str] = {
    Fusion: "structural_variants",
    StructuralVariant: "structural_variants",
    CopyNumber: "copy_number",
    Tmb: "tmb",
    Msi: "msi",
}
#: Biomarker rows that are the result of an analysis (FHIR-reported ones included).
_RESULT_MARKERS = {"TMB": "tmb", "MSI": "msi"}


def add_analyses(idx: LakeIndex, t: pa.Table, s: np.ndarray) -> None:
    """``("analysed", kind)``: the patients with a specimen whose ``analyses`` list the
    kind (the pipeline ran it, even when it called nothing); ``t`` holds this batch's
    specimens of the patients ``s``."""
    if "analyses" not in t.column_names or not t.num_rows:
        return
    kinds = t.column("analyses").combine_chunks()
    parent = pc.list_parent_indices(kinds).to_numpy(zero_copy_only=False)
    idx._group(("analysed",), pc.list_flatten(kinds), s[parent])


def add_result_analyses(idx: LakeIndex, marker: Any, s: np.ndarray) -> None:
    """``("analysed", "tmb"/"msi")`` of the patients with a TMB / MSI result row (a
    FHIR-reported one says the analysis was made, whatever the specimen lists)."""
    mk = pc.fill_null(marker, "").to_numpy(zero_copy_only=False)
    for m, kind in _RESULT_MARKERS.items():
        sel = s[mk == m]
        if len(sel):
            idx._add(("analysed", kind), _index.bitmap_of(np.unique(sel)))


def analysed(idx: LakeIndex, c: Any) -> BitMap | None:
    """The coverage-aware denominator of a genomic criterion ``c``: the patients analysed
    for what it reads (None: ``c`` is not one of :data:`ANALYSIS_OF`)."""
    kind = ANALYSIS_OF.get(type(c))
    return None if kind is None else idx.feature("analysed", kind)


def add_sv_genes(idx: LakeIndex, t: pa.Table, s: np.ndarray) -> None:
    """``("sv_gene", gene)`` and ``("sv_gene_type", gene␟type)`` of the structural variants
    ``t`` (already filtered: PASS or no filter, this batch's patients ``s``): a gene at
    either breakpoint (``gene_a``, ``gene_b``)."""
    kinds = pc.utf8_upper(t.column("sv_type")).combine_chunks()
    for col in ("gene_a", "gene_b"):
        genes = t.column(col).combine_chunks()
        parent = pc.list_parent_indices(genes)
        flat = pc.utf8_upper(pc.list_flatten(genes))
        rows = parent.to_numpy(zero_copy_only=False)
        idx._group(("sv_gene",), flat, s[rows])
        idx._group(("sv_gene_type",), _index.join(flat, pc.take(kinds, parent)), s[rows])


def add_msi(idx: LakeIndex, t: pa.Table, marker: Any, interp: Any, s: np.ndarray) -> None:
    """``("msi", status)`` of the MSI rows of a biomarkers batch (``t``, already filtered
    to this batch's patients, with its upper-cased ``marker`` and lower-cased ``interp``)."""
    code, is_msi = t.column("value_code"), pc.fill_null(pc.equal(marker, "MSI"), False)
    disp = pc.utf8_upper(pc.utf8_trim_whitespace(t.column("value_display")))
    status = pa.scalar(None, pa.string())
    for name, c, d, i in MSI_STATUS:  # the later the stronger
        hit = pc.or_kleene(pc.or_kleene(pc.equal(code, c), pc.is_in(disp, pa.array(d))),
                           pc.equal(interp, i))  # fmt: skip
        status = pc.if_else(pc.and_(pc.fill_null(hit, False), is_msi), name, status)
    idx._group(("msi",), status, s)


# -- lookups -------------------------------------------------------------------------


def _union(bitmaps: list[BitMap]) -> BitMap:
    """The union; one bitmap is returned as it is (answers are never changed in place)."""
    return bitmaps[0] if len(bitmaps) == 1 else BitMap.union(*bitmaps)


def fusion(idx: LakeIndex, c: Fusion) -> BitMap:
    """Patients with the fusion(s) of ``c`` (a gene with any partner, or ``A::B`` names)."""
    gene, names = c.keys()
    if gene is not None:
        return idx.feature("fusion_gene", gene)
    return _union([idx.feature("fusion", x) for x in names])


def structural_variant(idx: LakeIndex, c: StructuralVariant) -> BitMap:
    """Patients with a structural variant with a breakpoint in ``c.gene`` (of ``c.sv_types``)."""
    gene = c.gene.strip().upper()
    if c.sv_types is None:
        return idx.feature("sv_gene", gene)
    return _union([idx.feature("sv_gene_type", f"{gene}{_index.SEP}{k}") for k in c.sv_types])


def copy_number(idx: LakeIndex, c: CopyNumber) -> BitMap:
    """Patients with one of ``c.calls`` for ``c.gene``."""
    gene = c.gene.strip().upper()
    return _union([idx.feature("cn", f"{gene}{_index.SEP}{x}") for x in c.calls])


def msi(idx: LakeIndex, c: Msi) -> BitMap:
    """Patients with one of ``c.status``."""
    return _union([idx.feature("msi", x) for x in c.status])


#: Markers whose :class:`ValueCuts` are made as soon as their values change (off the
#: query path); other markers' on their first range question.
EAGER_CUTS = frozenset({"TMB"})


def value_range(idx: LakeIndex, marker: str, lo: float | None, hi: float | None) -> BitMap:
    """Patients with a value of ``marker`` (upper case) in [``lo``, ``hi``] (None: open),
    from the marker's :class:`ValueCuts` (made on first use after a load)."""
    cuts = idx.value_cuts.get(marker)
    if cuts is None:
        vals, slots = idx.biomarker_values.get(marker, (np.zeros(0), np.zeros(0, np.uint32)))
        cuts = idx.value_cuts[marker] = ValueCuts(vals, slots)
    return cuts.between(lo, hi)


def _sorted_bitmap(slots: np.ndarray) -> BitMap:
    return _index.bitmap_of(np.sort(slots))  # roaring builds fastest from sorted slots


class ValueCuts:
    """Range lookups on one marker's values (TMB ≥ 10 …) without building a bitmap of
    every matching row per question.

    ``vals``/``slots`` are the marker's rows sorted by value (``biomarker_values``). At a
    few row positions, the *cuts*, the bitmap of the slots of every row from that position
    on is kept (:attr:`above`). The cuts are every position where an integer threshold
    falls (``value ≥ t`` and ``value ≤ t`` for the first :data:`GRID` integers from the
    lowest value: TMB ≥ 10 is a kept bitmap, returned as it is) and every
    ``n / BUCKETS``-th position, so that any other threshold needs the kept bitmap of the
    next cut OR-ed with at most ``n / BUCKETS`` rows. "At most" uses the bitmap of the rows
    *before* a cut, made when first asked (:meth:`_below`). A range with both ends is the
    two one-sided answers intersected when every patient has one value of the marker;
    otherwise (a patient with a FHIR and a pipeline TMB) its rows are sliced exactly.

    Memory: one bitmap per cut (at most ``GRID`` + ``BUCKETS`` + 1, each at most one bit
    a patient); made in one pass from the top value down.
    """

    GRID = 128
    BUCKETS = 64

    def __init__(self, vals: np.ndarray, slots: np.ndarray) -> None:
        self.vals, self.slots = vals, slots
        n = len(vals)
        cuts = {0, n, *range(0, n, max(1, -(-n // self.BUCKETS)))}
        if n:
            grid = np.arange(np.ceil(vals[0]), np.ceil(vals[0]) + self.GRID)
            grid = grid[grid <= vals[-1]]
            cuts |= set(np.searchsorted(vals, grid, "left").tolist())
            cuts |= set(np.searchsorted(vals, grid, "right").tolist())
        self.cuts = np.array(sorted(cuts), dtype=np.int64)
        above: list[BitMap] = [BitMap()]
        for a, b in zip(self.cuts[-2::-1], self.cuts[:0:-1], strict=True):
            above.append(above[-1] | _sorted_bitmap(slots[a:b]))
        above.reverse()
        self.above = above
        self._below_at: dict[int, BitMap] = {}
        self.single = len(np.unique(slots)) == n

    def _below(self, k: int) -> BitMap:
        """Slots of the rows before cut ``k`` (made on first use, then kept)."""
        got = self._below_at.get(k)
        if got is None:
            got = self._below_at[k] = _sorted_bitmap(self.slots[: self.cuts[k]])
        return got

    def at_least(self, x: float) -> BitMap:
        """Slots with a value ≥ ``x``."""
        p = int(np.searchsorted(self.vals, x, "left"))
        k = int(np.searchsorted(self.cuts, p, "left"))  # the first cut at or after p
        q = int(self.cuts[k])
        return self.above[k] if q == p else self.above[k] | _sorted_bitmap(self.slots[p:q])

    def at_most(self, x: float) -> BitMap:
        """Slots with a value ≤ ``x``."""
        p = int(np.searchsorted(self.vals, x, "right"))
        k = int(np.searchsorted(self.cuts, p, "right")) - 1  # the last cut at or before p
        q = int(self.cuts[k])
        below = self._below(k)
        return below if q == p else below | _sorted_bitmap(self.slots[q:p])

    def between(self, lo: float | None, hi: float | None) -> BitMap:
        """Slots with a value in [``lo``, ``hi``] (None: that side open)."""
        if hi is None:
            return self.above[0] if lo is None else self.at_least(lo)
        if lo is None:
            return self.at_most(hi)
        a = int(np.searchsorted(self.vals, lo, "left"))
        b = int(np.searchsorted(self.vals, hi, "right"))
        if not self.single or b - a <= len(self.vals) // self.BUCKETS:
            return _sorted_bitmap(self.slots[a:b])
        return self.at_least(lo) & self.at_most(hi)
