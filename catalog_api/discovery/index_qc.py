"""The QC part of the discovery index (issue 21): per-gene coverage of tumour specimens.

Built from ``gene_coverage`` (the pipeline's mosdepth over each gene's exons in the
assay's regions, one row per specimen and gene) into
:attr:`~catalog_api.discovery.index.LakeIndex.gene_depths`: per gene, the tumour
specimens' mean depths and their patients' slots, sorted by depth, so that "mean coverage
of BRAF ≥ 100×" is one ``np.searchsorted``. A patient with several tumour specimens is in
the answer when one of them reaches the depth. This module's source is part of the
persisted index's code fingerprint (``index_store.INDEX_MODULES``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyroaring import BitMap

from catalog_api.discovery import index as _index
from catalog_api.discovery.definition import Coverage

if TYPE_CHECKING:
    from catalog_api.discovery.index import LakeIndex

_NONE = (np.zeros(0), np.zeros(0, np.uint32))


def add_coverage(idx: LakeIndex, t: pa.Table, slot_col: Any) -> None:
    """The tumour rows of a ``gene_coverage`` batch into ``idx.gene_depths``."""
    s, ok = slot_col(t)
    t = t.filter(pa.array(ok))
    tumour = pc.fill_null(pc.equal(t.column("role"), "tumour"), False)
    depth = t.column("mean_depth")
    keep = pc.and_(tumour, pc.invert(pc.is_null(depth))).to_numpy(zero_copy_only=False)
    if not keep.any():
        return
    genes = pc.utf8_upper(t.column("gene")).to_numpy(zero_copy_only=False)[keep]
    values = pc.fill_null(depth, 0.0).to_numpy(zero_copy_only=False)[keep]
    slots = s[keep]
    for gene in np.unique(genes):
        sel = genes == gene
        old_v, old_s = idx.gene_depths.get(gene, _NONE)
        nv = np.concatenate([old_v, values[sel]])
        ns = np.concatenate([old_s, slots[sel]]).astype(np.uint32)
        order = np.argsort(nv, kind="stable")
        idx.gene_depths[str(gene)] = (nv[order], ns[order])


def coverage(idx: LakeIndex, c: Coverage) -> BitMap:
    """Patients with a tumour specimen whose mean depth over ``c.gene`` is ≥ ``c.min_depth``."""
    vals, slots = idx.gene_depths.get(c.gene.strip().upper(), _NONE)
    a = int(np.searchsorted(vals, c.min_depth, side="left"))
    return _index.bitmap_of(np.unique(slots[a:]))  # sorted, one per patient
