"""FreeBayes 1.3.6 (Debian) as a second somatic caller on the truth sets: alone, and as a
consensus (both callers) or union (either) with the workflow's calls.

Per seed, on the alignments of a workflow run over the default truth instance (run
bench/pipeline/truth.py first; it leaves ``--out``/seed<N>):

* ``freebayes`` tumour + normal, the options bcbio-nextgen uses for a tumour/normal pair
  (``--pooled-discrete --pooled-continuous --report-genotype-likelihood-max
  --allele-balance-priors-off``, ``--genotype-qualities``), ``-F`` 0.03 (below the lowest
  truth bin), ``-C 2``, and the workflow's own MAPQ and base-quality floors (20, 20);
  ``--haplotype-length -1`` so that the records are alleles, not clumped haplotypes;
* split, atomised and left-aligned with ``bcftools norm``;
* bcbio-nextgen's somatic rule for FreeBayes (``bcbio.variation.freebayes.call_somatic``,
  tuned on the DREAM synthetic set 3): tumour LOD = max over non-reference genotypes of
  GL - GL(0/0) >= 3.5, normal LOD = min over them of GL(0/0) - GL >= 3.5, and the tumour
  ALT fraction > 2.7 x the normal's.

Scored with workflows/dna_seq/truth/score.py (recall per VAF bin, precision, FP/Mb,
artefacts called). Prints one table, and how many of the workflow's misses are among
FreeBayes' unfiltered records (the most any filter of its output could add).

    .venv/bin/python bench/pipeline/freebayes_truth.py --seeds 1 2 3 --out /tmp/oncolake-truth
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TRUTH = REPO / "workflows" / "dna_seq" / "truth"
LOD, FREQ_RATIO = 3.5, 2.7  # bcbio-nextgen call_somatic
Key = tuple[str, int, str, str]

FREEBAYES = [
    "freebayes", "--pooled-discrete", "--pooled-continuous", "--genotype-qualities",
    "--report-genotype-likelihood-max", "--allele-balance-priors-off",
    "--min-alternate-fraction", "0.03", "--min-alternate-count", "2",
    "--min-mapping-quality", "20", "--min-base-quality", "20", "--haplotype-length", "-1",
]  # fmt: skip


def _score_module() -> Any:
    spec = importlib.util.spec_from_file_location("dna_seq_truth_score", TRUTH / "score.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


score = _score_module()


def somatic(gl_t: list[float], gl_n: list[float], af_t: float, af_n: float) -> bool:
    """bcbio-nextgen's FreeBayes somatic rule on one biallelic record's GLs (log10)."""
    if len(gl_t) < 2 or len(gl_n) < 2:
        return False
    tumour_lod = max(g - gl_t[0] for g in gl_t[1:])
    normal_lod = min(gl_n[0] - g for g in gl_n[1:])
    return tumour_lod >= LOD and normal_lod >= LOD and af_n * FREQ_RATIO < af_t


def run_freebayes(inst: Path, out: Path) -> tuple[Path, float]:
    """FreeBayes on the instance's alignments, normalised; returns (VCF, seconds)."""
    meta = json.loads((inst / "truth" / "truth.json").read_text())
    ref = inst / "resources" / "reference" / "genome.fa"
    bams = [
        inst / "results" / "alignments" / "samtools" / f"{meta['samples'][k]}.bam"
        for k in ("tumour", "normal")
    ]
    raw = out / "freebayes.vcf"
    start = time.monotonic()
    with open(raw, "w") as fh:
        subprocess.run([*FREEBAYES, "-f", str(ref), *map(str, bams)], stdout=fh, check=True)
    seconds = time.monotonic() - start
    norm = out / "freebayes.norm.vcf"
    subprocess.run(
        f"bcftools norm -f {ref} -m -any {raw} | bcftools norm -a | "
        f"bcftools norm -f {ref} -m -any | bcftools norm -d exact -o {norm}",
        shell=True,
        check=True,
        stderr=subprocess.DEVNULL,
    )
    return norm, seconds


def filter_somatic(norm: Path, tumour: str, normal: str, dest: Path) -> set[Key]:
    """Write ``dest`` (PASS = somatic by the rule above); returns the PASS keys."""
    fmt = "%CHROM\t%POS\t%REF\t%ALT\t[%SAMPLE=%GL=%AO=%DP\t]\n"
    rows = subprocess.run(
        ["bcftools", "query", "-f", fmt, str(norm)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    keys = set()
    for row in rows:
        chrom, pos, ref, alt, *samples = row.rstrip("\t").split("\t")
        if alt in ("*", "."):
            continue
        per = {}
        for s in samples:
            name, gl, ao, dp = s.split("=")
            gls = [float(x) for x in gl.split(",") if x not in (".", "")]
            ao_n = sum(int(x) for x in ao.split(",") if x not in (".", ""))
            dp_n = int(dp) if dp not in (".", "") else 0
            per[name] = (gls, ao_n / dp_n if dp_n else 0.0)
        if (
            tumour in per
            and normal in per
            and somatic(per[tumour][0], per[normal][0], per[tumour][1], per[normal][1])
        ):
            keys.add((chrom, int(pos), ref, alt))
    write_keys(dest, keys, norm)
    return keys


def write_keys(dest: Path, keys: set[Key], like: Path) -> Path:
    """A sites-only VCF of ``keys`` with the contigs of ``like``."""
    head = subprocess.run(
        ["bcftools", "view", "-h", str(like)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    contigs = [h for h in head if h.startswith("##contig")]
    lines = ["##fileformat=VCFv4.2", *contigs, "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    for c, p, r, a in sorted(keys, key=lambda k: (k[0], k[1], k[2], k[3])):
        lines.append(f"{c}\t{p}\t.\t{r}\t{a}\t.\tPASS\t.")
    dest.write_text("\n".join(lines) + "\n")
    return dest


def ours(inst: Path, reference: Path) -> set[Key]:
    meta = json.loads((inst / "truth" / "truth.json").read_text())
    calls = inst / "results" / "annotated" / "bcftools_csq"
    vcf = calls / f"{meta['patient']}.somatic.annotated.vcf.gz"
    return set(score.normalised(vcf, reference, pass_only=True))


def row(label: str, s: Any) -> str:
    b = s.by_bin
    cells = [f"{b[k]['recall']:.3f}" for k in ("0.05", "0.10", "0.20", "0.40", "clonal", ">=0.10")]
    return (
        f"| {label} | " + " | ".join(cells) + f" | {s.precision:.3f} ({s.tp}/{s.calls}) | "
        f"{s.fp_per_mb:.1f} | {s.artefacts_called}/{s.artefacts} | {s.germline_called} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--out", type=Path, default=Path("/tmp/oncolake-truth"))
    args = ap.parse_args()
    print(
        "| seed / calls | recall 0.05 | 0.10 | 0.20 | 0.40 | clonal | >= 0.10 | precision | "
        "FP/Mb | artefacts called | germline called |"
    )
    print("|" + "---|" * 11)
    notes = []
    for seed in args.seeds:
        inst = args.out / f"seed{seed}"
        meta = json.loads((inst / "truth" / "truth.json").read_text())
        ref = inst / "resources" / "reference" / "genome.fa"
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            norm, seconds = run_freebayes(inst, work)
            t, n = meta["samples"]["tumour"], meta["samples"]["normal"]
            fb = filter_somatic(norm, t, n, work / "fb.vcf")
            mine = ours(inst, ref)
            sets = {
                "ours": mine,
                "FreeBayes": fb,
                "consensus (both)": mine & fb,
                "union (either)": mine | fb,
            }
            for label, keys in sets.items():
                vcf = write_keys(work / f"{len(label)}.vcf", keys, norm)
                print(row(f"{seed} {label}", score.score(inst / "truth", vcf, ref)), flush=True)
            # Could any FreeBayes filter rescue our misses? Only if its raw records hold them.
            raw = set(score.normalised(norm, ref, pass_only=False))
            truth = set(score.normalised(inst / "truth" / "somatic.vcf.gz", ref, False))
            missed = truth - mine
            notes.append(
                f"seed {seed}: freebayes {seconds:.1f} s on the 100-kb instance; of our "
                f"{len(missed)} misses {len(missed & raw)} are among its unfiltered records"
            )
    print("\n".join(notes))


if __name__ == "__main__":
    main()
