"""What a germline panel (the dbSNP 138 / 1000G phase 1 / Mills subsets in ../shared/data)
would change on the truth sets: MuTect's rule, a normal LOD of 5.5 instead of 2.2 at
sites whose allele is in the panel (Cibulskis et al. 2013, ``dbsnp_normal_lod``).

Per seed (alignments of a bench/pipeline/truth.py run in ``--out``/seed<N>): how many
truth germline / somatic alleles and PASS calls are panel alleles, and how many PASS
calls the rule would remove. Then the same with the normal downsampled (``samtools view
-s``) to about 10x and 6x, where a germline het is most likely to pass the normal LOD:
the workflow's pileup flags and scripts/call_somatic.py with analysis.yaml re-run on
the seed-1 tumour and the thinned normal.

    .venv/bin/python bench/pipeline/germline_panel.py --out /tmp/oncolake-truth
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import subprocess
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / "workflows" / "dna_seq"
SHARED = (REPO / ".." / "shared" / "data" / "genome" / "sarek-data" / "reference").resolve()
PANEL = [
    "dbsnp_138.b37.small.vcf.gz",
    "1000G_phase1.indels.b37.small.vcf.gz",
    "Mills_and_1000G_gold_standard.indels.b37.small.vcf.gz",
]
PANEL_NORMAL_LOD = 5.5  # MuTect dbsnp_normal_lod
Key = tuple[str, int, str, str]


def _load(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


score = _load(WORKFLOW / "truth" / "score.py", "dna_seq_truth_score")
call_somatic = _load(WORKFLOW / "workflow" / "scripts" / "call_somatic.py", "dna_seq_cs")
ANALYSIS = yaml.safe_load((WORKFLOW / "workflow" / "analysis.yaml").read_text())["parameters"]


def panel_alleles() -> set[Key]:
    """Every (chrom, pos, ref, alt) of the panel files (multi-allelic records split)."""
    keys: set[Key] = set()
    for name in PANEL:
        with gzip.open(SHARED / name, "rt") as fh:
            for line in fh:
                if line.startswith("#"):
                    continue
                chrom, pos, _id, ref, alts = line.split("\t", 5)[:5]
                keys |= {(chrom, int(pos), ref, a) for a in alts.split(",")}
    return keys


def region_count(start: int, end: int) -> dict[str, int]:
    out = {}
    for name in PANEL:
        with gzip.open(SHARED / name, "rt") as fh:
            out[name] = sum(
                1
                for ln in fh
                if not ln.startswith("#")
                and ln.split("\t", 2)[0] == "1"
                and start < int(ln.split("\t", 2)[1]) <= end
            )
    return out


def keys_of(vcf: Path, pass_only: bool) -> dict[Key, str]:
    """(chrom, pos, ref, alt) -> NLOD (or '') of a VCF, without normalising (the panel
    files are not normalised either: exact alleles)."""
    view = "bcftools view -f PASS,." if pass_only else "bcftools view"
    nlod = "%INFO/NLOD" if pass_only else "."  # the truth VCFs have no NLOD
    out = subprocess.run(
        f"{view} {vcf} | bcftools norm -m -any | "
        f"bcftools query -f '%CHROM\\t%POS\\t%REF\\t%ALT\\t{nlod}\\n'",
        shell=True,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [ln.split("\t") for ln in out.splitlines()]
    return {(c, int(p), r, a): nlod for c, p, r, a, nlod in rows}


def call(inst: Path, normal_bam: Path, work: Path) -> Path:
    """The workflow's pileup and call_somatic on the instance's tumour and ``normal_bam``."""
    meta = json.loads((inst / "truth" / "truth.json").read_text())
    t, n = meta["samples"]["tumour"], meta["samples"]["normal"]
    ref = inst / "resources" / "reference" / "genome.fa"
    tumour_bam = inst / "results" / "alignments" / "samtools" / f"{t}.bam"
    p = ANALYSIS["pileup"]
    pile = work / "pileup.bcf"
    subprocess.run(
        f"bcftools mpileup --no-version -f {ref} -q {p['min_mapq']} -Q {p['min_baseq']} "
        f"-d {p['max_depth']} {p['somatic_extra']} -a {p['somatic_annotations']} -Ou "
        f"{tumour_bam} {normal_bam} 2>/dev/null | bcftools view --no-version "
        f"-e 'N_ALT=1 && ALT=\"<*>\"' -Ob -o {pile}",
        shell=True,
        check=True,
    )
    sm = types.SimpleNamespace(
        input=[str(pile)],
        output=types.SimpleNamespace(
            calls=str(work / "calls.vcf.gz"), candidates=str(work / "cands.vcf.gz")
        ),
        params=types.SimpleNamespace(
            somatic=ANALYSIS["somatic"], pileup=ANALYSIS["pileup"], tumour=t, normal=n
        ),
        log=[str(work / "call.log")],
    )
    call_somatic.main(sm)
    return work / "calls.vcf.gz"


def report(label: str, inst: Path, calls: Path, panel: set[Key]) -> str:
    ref = inst / "resources" / "reference" / "genome.fa"
    s = score.score(inst / "truth", calls, ref)
    passed = keys_of(calls, pass_only=True)
    at_panel = {k: v for k, v in passed.items() if k in panel}
    removed = [k for k, v in at_panel.items() if float(v) < PANEL_NORMAL_LOD]
    truth = set(keys_of(inst / "truth" / "somatic.vcf.gz", False))
    removed_true = [k for k in removed if k in truth]
    return (
        f"| {label} | {s.by_bin['0.05']['recall']:.3f} | {s.by_bin['>=0.10']['recall']:.3f} | "
        f"{s.precision:.3f} | {s.germline_called} | {len(passed)} | {len(at_panel)} | "
        f"{len(removed)} ({len(removed_true)} true) |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--out", type=Path, default=Path("/tmp/oncolake-truth"))
    ap.add_argument("--thin", type=float, nargs="+", default=[0.2, 0.12])
    args = ap.parse_args()
    panel = panel_alleles()
    first = args.out / f"seed{args.seeds[0]}"
    region = json.loads((first / "truth" / "truth.json").read_text())["region"]
    print(f"panel records in 1:{region['start'] + 1}-{region['end']}:")
    for name, n in region_count(region["start"], region["end"]).items():
        print(f"  {name}: {n}")
    for seed in args.seeds:
        inst = args.out / f"seed{seed}"
        somatic = set(keys_of(inst / "truth" / "somatic.vcf.gz", False))
        germ = set(keys_of(inst / "truth" / "germline.vcf.gz", False))
        print(
            f"seed {seed}: truth somatic alleles in the panel {len(somatic & panel)}/"
            f"{len(somatic)}, germline {len(germ & panel)}/{len(germ)}"
        )
    print(
        "| instance | recall 0.05 | recall >= 0.10 | precision | germline called | PASS | "
        "PASS at a panel allele | removed by NLOD >= 5.5 there |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        inst = args.out / f"seed{seed}"
        meta = json.loads((inst / "truth" / "truth.json").read_text())
        vcf = inst / "results" / "calls" / "somatic" / f"{meta['patient']}.somatic.vcf.gz"
        print(report(f"seed {seed}, normal ~50x", inst, vcf, panel), flush=True)
    inst = first
    meta = json.loads((inst / "truth" / "truth.json").read_text())
    normal = inst / "results" / "alignments" / "samtools" / f"{meta['samples']['normal']}.bam"
    for frac in args.thin:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            thin = work / "normal.bam"
            subprocess.run(
                ["samtools", "view", "-b", "-s", f"{7 + frac}", "-o", str(thin), str(normal)],
                check=True,
            )
            subprocess.run(["samtools", "index", str(thin)], check=True)
            calls = call(inst, thin, work)
            label = f"seed {args.seeds[0]}, normal ~{50 * frac:.0f}x"
            print(report(label, inst, calls, panel), flush=True)


if __name__ == "__main__":
    main()
