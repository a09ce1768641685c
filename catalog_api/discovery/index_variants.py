"""The small-variant part of the discovery index (called from
:meth:`~catalog_api.discovery.index.LakeIndex.add_batch`).

Variants are indexed as *atoms*: one bitmap per distinct (gene, protein change,
consequence, class, origin), so that the fields of one variant criterion hold for the same
variant row; plus gene and (gene, protein change) bitmaps for the common questions, and
the ``sequenced`` patients (the genome-wide denominator). This module's source is part of
the persisted index's code fingerprint (``index_store.INDEX_MODULES``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from catalog_api.discovery import index as _index

if TYPE_CHECKING:
    from catalog_api.discovery.index import LakeIndex


def add_variants(idx: LakeIndex, t: pa.Table, slot_col: Any) -> None:
    """Index the variant rows ``t``: atoms, gene and (gene, protein change) bitmaps."""
    s, ok = slot_col(t)
    if not len(s):
        return
    if not ok.all():
        t = t.filter(pa.array(ok))
    idx.sequenced |= _index.bitmap_of(s)
    # one integer per (gene, protein change, consequence, class, origin), from each
    # column's dictionary codes (cheaper than joining the strings); sorted by it, the
    # rows of one atom, of one (gene, protein change) and of one gene are each one run
    codes: list[np.ndarray] = []
    dicts: list[list[str]] = []
    for c in ("gene", "protein_change", "consequence", "variant_class", "origin"):
        col = pc.fill_null(t.column(c), "").combine_chunks()
        enc = pc.dictionary_encode(col)
        codes.append(enc.indices.to_numpy(zero_copy_only=False).astype(np.int64))
        dicts.append([str(x) for x in enc.dictionary.to_pylist()])
    sizes = [len(d) for d in dicts]
    key = codes[0]
    for k, n in zip(codes[1:], sizes[1:], strict=True):
        key = key * n + k
    order = np.argsort(key, kind="stable")
    key, ss = key[order], s[order]
    below_pc = sizes[2] * sizes[3] * sizes[4]  # key // below_pc: (gene, protein change)
    below_gene = sizes[1] * below_pc
    starts = np.flatnonzero(np.diff(key)) + 1
    starts = np.concatenate([[0], starts])
    ends = np.append(starts[1:], len(key))
    # each atom's five codes, decoded at once
    rest = key[starts]
    parts_codes = []
    for n in reversed(sizes):
        rest, pos = np.divmod(rest, n)
        parts_codes.append(pos)
    parts_codes.reverse()
    names = [np.array(d, dtype=object)[p] for d, p in zip(dicts, parts_codes, strict=True)]
    atoms = list(zip(*(x.tolist() for x in names), strict=True))
    for atom, a, b in zip(atoms, starts.tolist(), ends.tolist(), strict=True):
        bm = _index.bitmap_of(ss[a:b])
        cur = idx.atoms.get(atom)
        if cur is None:
            idx.atoms[atom] = bm
            idx.gene_atoms.setdefault(atom[0], set()).add(atom)
        else:
            cur |= bm
    # gene and (gene, protein change): runs of the same sorted rows
    genes, pcs = np.array(dicts[0], dtype=object), np.array(dicts[1], dtype=object)
    for group, named in (
        (key // below_gene, lambda g: (genes[g],)),
        (key // below_pc, lambda g: (genes[g // sizes[1]], pcs[g % sizes[1]])),
    ):
        gs = np.concatenate([[0], np.flatnonzero(np.diff(group)) + 1])
        ge = np.append(gs[1:], len(group))
        for g, a, b in zip(group[gs].tolist(), gs.tolist(), ge.tolist(), strict=True):
            parts = named(g)
            if all(parts):  # a gene (and a protein change) is named
                kind = "gene" if len(parts) == 1 else "gene_pc"
                idx._add((kind, *parts), _index.bitmap_of(ss[a:b]))
