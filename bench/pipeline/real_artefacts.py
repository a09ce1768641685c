"""The two real artefacts issue 21 names, through the workflow's calling steps:

* ``.test`` (Sarek tiny): ``1:138980 G>T``, all ALT reads forward (8-oxoG pattern) -- run
  the whole workflow on .test and read the candidates VCF;
* HCC1954 vs HCC1954BL (Manta demo BAMs, GRCh37 8/11 around the t(8;11) breakpoints):
  ``11:94975750 T>C``, ALT reads reverse-strand, soft-clipped, between two breakpoints --
  the workflow's joint mpileup flags and scripts/call_somatic.py with analysis.yaml on the
  demo's own alignments (GPL data read from ../shared, never copied).

    .venv/bin/python bench/pipeline/real_artefacts.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / "workflows" / "dna_seq"
MANTA = (REPO / ".." / "shared" / "data" / "genome" / "manta-demo").resolve()
TUMOUR_BAM = MANTA / "G15512.HCC1954.1.COST16011_region.bam"
NORMAL_BAM = MANTA / "HCC1954.NORMAL.30x.compare.COST16011_region.bam"
FASTA = MANTA / "Homo_sapiens_assembly19.COST16011_region.fa.gz"


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{e['PATH']}"
    return e


def sh(cmd: str, cwd: Path) -> str:
    return subprocess.run(
        cmd, shell=True, cwd=cwd, env=env(), check=True, capture_output=True, text=True
    ).stdout


def show(vcf: Path, region: str, cwd: Path) -> str:
    return sh(
        f"bcftools view -H {vcf} | awk -v r={region} '($1\":\"$2)==r' "
        "| cut -f1,2,4,5,7,8 | cut -c1-200",
        cwd,
    ).strip()


def hcc1954(w: Path) -> None:
    sys.path.insert(0, str(WORKFLOW / "workflow" / "scripts"))
    import call_somatic

    params = yaml.safe_load((WORKFLOW / "workflow" / "analysis.yaml").read_text())["parameters"]
    p = params["pileup"]
    sh(
        f"bcftools mpileup --no-version -f {FASTA} -q {p['min_mapq']} -Q {p['min_baseq']} "
        f"-d {p['max_depth']} {p['somatic_extra']} -a {p['somatic_annotations']} "
        f"-r 8,11 -Ou {TUMOUR_BAM} {NORMAL_BAM} 2>/dev/null "
        "| bcftools view --no-version -e 'N_ALT=1 && ALT=\"<*>\"' -Ob -o pileup.bcf",
        w,
    )
    names = sh("bcftools query -l pileup.bcf", w).splitlines()
    cwd = Path.cwd()
    os.chdir(w)
    try:
        call_somatic.main(
            types.SimpleNamespace(
                input=["pileup.bcf"],
                output=types.SimpleNamespace(calls="calls.vcf.gz", candidates="cands.vcf.gz"),
                params=types.SimpleNamespace(
                    somatic=params["somatic"], pileup=p, tumour=names[0], normal=names[1]
                ),
                log=["somatic.log"],
            )
        )
    finally:
        os.chdir(cwd)
    print(f"HCC1954 ({names[0]} vs {names[1]}), Manta demo BAMs, contigs 8 and 11:")
    print("  PASS calls:", sh("bcftools view -H calls.vcf.gz | wc -l", w).strip())
    print("  11:94975750 candidate:", show(w / "cands.vcf.gz", "11:94975750", w) or "none")


def dot_test(w: Path) -> None:
    work = w / "dot_test"
    shutil.copytree(WORKFLOW / ".test", work)
    sh(
        f"snakemake --snakefile {WORKFLOW / 'workflow' / 'Snakefile'} --directory {work} "
        f"--configfile {work / 'config' / 'config.yaml'} --cores 2 -q",
        work,
    )
    calls = work / "results" / "annotated" / "bcftools_csq" / "TINY01.somatic.annotated.vcf.gz"
    cands = work / "results" / "calls" / "somatic" / "TINY01.candidates.vcf.gz"
    print(".test (Sarek tiny):")
    print("  PASS calls:", sh(f"bcftools view -H {calls} | wc -l", work).strip())
    print("  1:138980 candidate:", show(cands, "1:138980", work) or "none")


def main() -> None:
    if not MANTA.is_dir():
        sys.exit(f"{MANTA} is absent: this benchmark needs ../shared/data beside the clone")
    with tempfile.TemporaryDirectory() as tmp:
        hcc1954(Path(tmp))
        dot_test(Path(tmp))


if __name__ == "__main__":
    main()
