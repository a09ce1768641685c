"""Concordance of the dna_seq somatic calls with Strelka's expected somatic calls on the
Strelka demo (hg19 chr20:862001-867000 as contig ``demo20``; NA12891 as "tumour",
NA12892 as "normal"; GPL data used from ../shared, never copied).

The demo reads are single-end and the workflow takes paired units, so the workflow's
calling steps (joint mpileup with its flags, scripts/call_somatic.py with analysis.yaml,
bcftools norm) run on the demo's own alignments; trimming/alignment are not measured here.
Truth: Strelka's PASS records of somatic.snvs.vcf.gz and somatic.indels.vcf.gz.

    .venv/bin/python bench/pipeline/strelka_concordance.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / "workflows" / "dna_seq"
DEMO = (REPO / ".." / "shared" / "data" / "genome" / "strelka-demo").resolve()


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{e['PATH']}"
    return e


def sh(cmd: str, cwd: Path) -> str:
    return subprocess.run(
        cmd, shell=True, cwd=cwd, env=env(), check=True, capture_output=True, text=True
    ).stdout


def variants(vcf: Path, ref: Path, cwd: Path, pass_only: bool) -> set[tuple[str, int, str, str]]:
    filt = "-f PASS" if pass_only else ""
    out = sh(
        f"bcftools view {filt} {vcf} | bcftools norm -f {ref} -m -any 2>/dev/null "
        "| bcftools query -f '%CHROM\\t%POS\\t%REF\\t%ALT\\n'",
        cwd,
    )
    return {(c, int(p), r, a) for c, p, r, a in (ln.split("\t") for ln in out.splitlines())}


def report(name: str, calls: set, truth: set) -> None:
    tp = len(calls & truth)
    prec = tp / len(calls) if calls else float("nan")
    rec = tp / len(truth) if truth else float("nan")
    print(
        f"{name:<8} truth={len(truth):>3} calls={len(calls):>3} TP={tp:>3} "
        f"FP={len(calls - truth):>3} FN={len(truth - calls):>3} "
        f"precision={prec:.3f} recall={rec:.3f}"
    )


def main() -> None:
    if not DEMO.is_dir():
        sys.exit(f"{DEMO} is absent: this benchmark needs ../shared/data beside the clone")
    with tempfile.TemporaryDirectory() as tmp:
        w = Path(tmp)
        # The demo reads are single-end (829 per sample) and the workflow takes paired
        # units, so the workflow's calling steps run here on the demo's own alignments:
        # the same mpileup flags, the workflow's call_somatic.py and bcftools norm.
        scripts = WORKFLOW / "workflow" / "scripts"
        sys.path.insert(0, str(scripts))
        import types

        import call_somatic
        import yaml

        params = yaml.safe_load((WORKFLOW / "workflow" / "analysis.yaml").read_text())["parameters"]
        p = params["pileup"]
        (w / "results/calls/somatic").mkdir(parents=True)
        (w / "resources/reference").mkdir(parents=True)
        sh(
            f"cp {DEMO / 'data' / 'demo20.fa'} resources/reference/genome.fa"
            " && samtools faidx resources/reference/genome.fa",
            w,
        )
        for s_ in ("NA12891", "NA12892"):
            sh(f"cp {DEMO / 'data' / (s_ + '_demo20.bam')} {s_}.bam && samtools index {s_}.bam", w)
        sh(
            "bcftools mpileup --no-version -f resources/reference/genome.fa "
            f"-q {p['min_mapq']} -Q {p['min_baseq']} "
            f"-d {p['max_depth']} {p['somatic_extra']} -a {p['somatic_annotations']} "
            "-Ou NA12891.bam NA12892.bam 2>/dev/null "
            "| bcftools view --no-version -e 'N_ALT=1 && ALT=\"<*>\"' -Ob -o pileup.bcf",
            w,
        )
        os.chdir(w)
        call_somatic.main(
            types.SimpleNamespace(
                input=["pileup.bcf"],
                output=types.SimpleNamespace(
                    calls="results/calls/somatic/DEMO.somatic.vcf.gz",
                    candidates="results/calls/somatic/DEMO.candidates.vcf.gz",
                ),
                params=types.SimpleNamespace(
                    somatic=params["somatic"], pileup=p, tumour="NA12891", normal="NA12892"
                ),
                log=["somatic.log"],
            )
        )
        (w / "results/calls/normalised").mkdir(parents=True)
        sh(
            "bcftools norm --no-version -f resources/reference/genome.fa -m -any -c e -Oz "
            "-o results/calls/normalised/DEMO.somatic.norm.vcf.gz "
            "results/calls/somatic/DEMO.somatic.vcf.gz",
            w,
        )
        ref = w / "resources" / "reference" / "genome.fa"
        calls = variants(w / "results/calls/normalised/DEMO.somatic.norm.vcf.gz", ref, w, True)
        snv_t = variants(DEMO / "expectedResults/somatic.snvs.vcf.gz", ref, w, True)
        ind_t = variants(DEMO / "expectedResults/somatic.indels.vcf.gz", ref, w, True)
        is_snv = lambda v: len(v[2]) == 1 and len(v[3]) == 1  # noqa: E731
        print("dna_seq somatic calls vs Strelka expected PASS calls (Strelka demo, demo20)")
        report("SNV", {v for v in calls if is_snv(v)}, snv_t)
        report("indel", {v for v in calls if not is_snv(v)}, ind_t)
        report("all", calls, snv_t | ind_t)
        missed = sorted((snv_t | ind_t) - calls)
        for v in missed:
            line = sh(
                f"bcftools view -H -t {v[0]}:{v[1]} results/calls/somatic/DEMO.candidates.vcf.gz "
                f"| cut -f2,4,5,7,8,10,11",
                w,
            ).strip()
            print(
                "  missed",
                v,
                "->",
                line or "no tumour ALT read in the pileup",
            )
        for v in sorted(calls - snv_t - ind_t):
            print("  extra ", v)


if __name__ == "__main__":
    main()
