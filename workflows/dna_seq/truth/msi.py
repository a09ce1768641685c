"""Microsatellite-instability spikes for the truth generator (simulate.py ``--msi S``):
an MSI-like tumour whose every tumour cell carries a repeat-length change at a share
``S`` of the microsatellites of the region.

Loci: homopolymers of >= 8 bp and 2-4 bp units repeated >= 5 times (at most 40 bp) in the
reference region -- the loci scripts/msi.py scans for --, 50 bp from every other variant
of the instance and 150 bp from the copy-number spikes.
At a seeded share ``S`` of them, one homolog of every tumour subclone (clonal) loses one
unit (60 %), two units (25 %) or gains one (15 %) -- mismatch-repair deficiency's mostly
deletion slippage. Written as ``truth/msi.vcf.gz`` (KIND=msi, left-anchored at the base
before the run), apart from ``truth/somatic.vcf.gz`` so that the small-variant scorer's
figures stay those of the spiked SNVs and indels; the TMB truth counts both.

A stable tumour is an instance without ``--msi`` (its somatic homopolymer indels of
issue 21 still touch a few loci, as in a real MSS tumour).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

MIN_HOMOPOLYMER = 8
MIN_REPEAT_UNITS = 5
MAX_LENGTH = 40
GAP = 50


def loci(seq: str, lo: int, hi: int) -> list[tuple[int, int, int]]:
    """(0-based run start, run length, unit length) of the microsatellites in [lo, hi)."""
    out = []
    for m in re.finditer(rf"([ACGT])\1{{{MIN_HOMOPOLYMER - 1},}}", seq[lo:hi]):
        out.append((lo + m.start(), m.end() - m.start(), 1))
    for m in re.finditer(rf"([ACGT]{{2,4}})\1{{{MIN_REPEAT_UNITS - 1},}}", seq[lo:hi]):
        if len(set(m.group(1))) > 1:
            out.append((lo + m.start(), m.end() - m.start(), len(m.group(1))))
    return sorted(r for r in out if r[1] <= MAX_LENGTH)


def spikes(seq: str, opt: Any, variants: list[Any], avoid: Any, make: Any) -> list[Any]:
    """The MSI spikes of an instance (``make`` builds simulate.Variant records)."""
    share = float(getattr(opt, "msi", 0.0))
    if share <= 0:
        return []
    rng = np.random.default_rng(opt.seed * 7919 + 17)  # own stream: other draws unchanged
    lo, hi = opt.start - 1 + 500, opt.end - 500
    taken = [v.pos for v in variants]
    out = []
    for run0, length, unit in loci(seq, lo, hi):
        anchor = run0 - 1
        if any(abs(anchor + 1 - t) < GAP for t in taken):
            continue
        if any(s.start - 150 <= run0 < s.end + 150 for s in avoid):
            continue
        if rng.random() >= share:
            continue
        draw = rng.random()
        homolog = (str(rng.choice(["A", "B"])),)
        if draw < 0.6:
            change = -unit
        elif draw < 0.85:
            change = -2 * unit
        else:
            change = unit
        base = seq[anchor]
        if change < 0:
            ref, alt = seq[anchor : anchor + 1 - change], base
        else:
            ref, alt = base, base + seq[run0 : run0 + unit]
        info = {"TYPE": "INDEL", "HOMOPOLYMER": "1" if unit == 1 else "0",
                "REPEAT": f"{length}x{unit}", "CHANGE": str(change)}  # fmt: skip
        out.append(make(anchor + 1, ref, alt, "msi", round(opt.purity / 2, 4), homolog,
                        "clonal", info))  # fmt: skip
        taken.append(anchor + 1)
    return out
