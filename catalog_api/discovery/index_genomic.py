"""The genomic part of the discovery index: fusions, gene copy number, MSI status, TMB.

Built from the pipeline's tables (``structural_variants``, ``copy_number_genes``) and from
``biomarkers`` rows (FHIR-reported and ``source=pipeline`` alike), into the same
:attr:`~catalog_api.discovery.index.LakeIndex.features` as every other criterion:

* ``("fusion", "A::B")`` and ``("fusion_gene", gene)``: the fusions called with FILTER
  PASS or none, and each of their genes (any partner);
* ``("cn", gene␟call)``: a gene's copy-number call (amplification, gain, …);
* ``("msi", status)``: MSI-H / MSI-L / MSS from an MSI biomarker's code, display or
  interpretation (:data:`~catalog_api.discovery.definition.MSI_STATUS`, the later the
  stronger);
* TMB: the ``biomarker_values`` sorted (value, slot) arrays of marker ``TMB``.

:func:`add_genomic` and :func:`add_msi` are called by
:meth:`~catalog_api.discovery.index.LakeIndex.add_batch`; the engine answers these
criteria with the lookups at the end (:func:`fusion`, :func:`copy_number`, :func:`msi`,
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
from catalog_api.discovery.definition import MSI_STATUS, CopyNumber, Fusion, Msi

if TYPE_CHECKING:
    from catalog_api.discovery.index import LakeIndex


# -- building ------------------------------------------------------------------------


def add_genomic(idx: LakeIndex, tables: dict[str, pa.Table], slot_col: Any) -> None:
    """Fusions ``A::B`` and their genes (FILTER PASS or none), gene copy-number calls."""
    t = tables["structural_variants"]
    t = t.filter(pc.is_in(t["filter"], pa.array(["PASS", ".", None])))  # null: no filter
    s, ok = slot_col(t)
    t = t.filter(pa.array(ok))
    idx._group(("fusion",), pc.utf8_upper(t.column("fusion")), s)
    genes = t.column("fusion_genes").combine_chunks()
    parent = pc.list_parent_indices(genes).to_numpy(zero_copy_only=False)
    idx._group(("fusion_gene",), pc.utf8_upper(pc.list_flatten(genes)), s[parent])
    t = tables["copy_number_genes"]
    s, ok = slot_col(t)
    t = t.filter(pa.array(ok))
    idx._group(("cn",), _index.join(pc.utf8_upper(t.column("gene")), t.column("call")), s)


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


def fusion(idx: LakeIndex, c: Fusion) -> BitMap:
    """Patients with the fusion(s) of ``c`` (a gene with any partner, or ``A::B`` names)."""
    gene, names = c.keys()
    if gene is not None:
        return idx.feature("fusion_gene", gene)
    return BitMap.union(*(idx.feature("fusion", x) for x in names))


def copy_number(idx: LakeIndex, c: CopyNumber) -> BitMap:
    """Patients with one of ``c.calls`` for ``c.gene``."""
    gene = c.gene.strip().upper()
    return BitMap.union(*(idx.feature("cn", f"{gene}{_index.SEP}{x}") for x in c.calls))


def msi(idx: LakeIndex, c: Msi) -> BitMap:
    """Patients with one of ``c.status``."""
    return BitMap.union(*(idx.feature("msi", x) for x in c.status))


def value_range(idx: LakeIndex, marker: str, lo: float | None, hi: float | None) -> BitMap:
    """Patients with a value of ``marker`` (upper case) in [``lo``, ``hi``] (None: open)."""
    vals, slots = idx.biomarker_values.get(marker, (np.zeros(0), np.zeros(0, np.uint32)))
    a = 0 if lo is None else int(np.searchsorted(vals, lo, side="left"))
    b = len(vals) if hi is None else int(np.searchsorted(vals, hi, "right"))
    return _index.bitmap_of(np.sort(slots[a:b]))  # roaring builds from sorted slots
