"""Copy ratios and segments of one tumour against its matched normal, with CNVkit's
Python API (CNVkit 0.9.14; its ``batch --method wgs`` steps, run in one interpreter).

1. Bins: the assay's regions when the centre config gives them, else the reference's
   accessible sequence (``cnvkit access``), split into bins of about
   ``copy_number.bin_size`` bp (``cnvkit target --split``). No antitargets: reads are
   counted in every bin, as in CNVkit's whole-genome mode.
2. Coverage of the tumour and of the normal per bin (reads with MAPQ >=
   ``copy_number.min_mapq``).
3. Reference: the matched normal alone (``cnvkit reference normal.cnn --fasta``: GC and
   repeat-masked-fraction corrections, no edge correction -- whole-genome mode). Rules:
   never a pooled panel of normals (it would differ between centres and so would the
   calls), never a flat reference (the sample sheet guarantees a matched normal).
4. ``cnvkit fix`` (tumour / reference log2 ratios) and ``cnvkit segment`` with
   ``copy_number.segment_method`` (CBS: DNAcopy through Rscript, Debian r-bioc-dnacopy)
   at ``copy_number.segment_threshold``.

Writes the .cnr (bins) and .cns (segments) files CNVkit writes. Too few usable bins for a
segmentation (fewer than 3): an empty segment table (header only), said in the log.
"""

import logging
from pathlib import Path
from typing import Any

from cnvlib import access, coverage, fix, reference, segmentation, target
from cnvlib.cmdutil import read_cna
from skgenome import tabio


def make_bins(fasta: str, regions: str, bin_size: int, out: Path) -> None:
    """The bin BED: the regions (or the accessible reference) split into ~bin_size bp."""
    base = tabio.read_auto(regions) if regions else access.do_access(fasta)
    bins = target.do_target(base, do_split=True, avg_size=bin_size)
    tabio.write(bins, str(out), "bed4")


def main(smk: Any) -> None:
    p = smk.params.copy_number
    work = Path(smk.output.cnr).parent
    work.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(filename=smk.log[0], level=logging.INFO, force=True)
    patient = smk.wildcards.patient
    bins = work / f"{patient}.bins.bed"
    make_bins(smk.input.ref, smk.params.regions, int(p["bin_size"]), bins)
    empty = work / f"{patient}.antitarget.bed"
    empty.write_text("")
    cnn: dict[str, dict[str, Path]] = {}
    for kind in ("tumour", "normal"):
        cnn[kind] = {}
        for part, bed in (("target", bins), ("antitarget", empty)):
            arr = coverage.do_coverage(
                str(bed), smk.input[kind], min_mapq=int(p["min_mapq"]), processes=1
            )
            path = work / f"{patient}.{kind}.{part}coverage.cnn"
            tabio.write(arr, str(path))
            cnn[kind][part] = path
    ref = reference.do_reference(
        [str(cnn["normal"]["target"])],
        [str(cnn["normal"]["antitarget"])],
        fa_fname=smk.input.ref,
        do_gc=True,
        do_edge=False,
        do_rmask=True,
    )
    ref_path = work / f"{patient}.reference.cnn"
    tabio.write(ref, str(ref_path))
    cnr = fix.do_fix(
        read_cna(str(cnn["tumour"]["target"])),
        read_cna(str(cnn["tumour"]["antitarget"])),
        read_cna(str(ref_path)),
        do_gc=True,
        do_edge=False,
        do_rmask=True,
    )
    tabio.write(cnr, smk.output.cnr)
    usable = cnr[cnr["weight"] > 0] if "weight" in cnr else cnr
    if len(usable) < 3:
        segs = cnr.as_dataframe(cnr.data.iloc[0:0])
        logging.info("%d usable bins: no segmentation", len(usable))
    else:
        segs = segmentation.do_segmentation(
            cnr, p["segment_method"], threshold=float(p["segment_threshold"]), processes=1
        )
    tabio.write(segs, smk.output.cns)
    logging.info("%d bins, %d segments", len(cnr), len(segs))


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined]  # noqa: F821
