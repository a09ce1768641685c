"""Score somatic calls against a truth instance of simulate.py: recall per VAF bin,
precision, F1, false positives per Mb, artefact and germline sites called.

Both sides are normalised with ``bcftools norm -f REF -m -any`` (left-aligned, split),
then matched on (CHROM, POS, REF, ALT). Calls count when FILTER is PASS (or ``.``).

    # after `snakemake --directory DIR --configfile DIR/config/config.yaml`:
    .venv/bin/python workflows/dna_seq/truth/score.py DIR
    .venv/bin/python workflows/dna_seq/truth/score.py DIR --calls other.vcf.gz --json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

Key = tuple[str, int, str, str]
BIN_ORDER = ("0.05", "0.10", "0.20", "0.40", "clonal")


def normalised(vcf: Path, reference: Path, pass_only: bool) -> dict[Key, dict[str, str]]:
    """The records of ``vcf`` after bcftools norm, keyed by (chrom, pos, ref, alt), with
    their INFO as a dict."""
    view = ["bcftools", "view", "-f", "PASS,."] if pass_only else ["bcftools", "view"]
    norm = ["bcftools", "norm", "-f", str(reference), "-m", "-any", "-c", "w"]
    query = ["bcftools", "query", "-f", "%CHROM\t%POS\t%REF\t%ALT\t%INFO\n"]
    p1 = subprocess.Popen([*view, str(vcf)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p2 = subprocess.Popen(
        [*norm, "-"], stdin=p1.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert p1.stdout is not None
    p1.stdout.close()
    out = subprocess.run(query, stdin=p2.stdout, capture_output=True, text=True, check=False)
    p2.wait()
    p1.wait()
    if p1.returncode or p2.returncode or out.returncode:
        err = (p1.stderr.read() if p1.stderr else b"").decode() + (
            p2.stderr.read() if p2.stderr else b""
        ).decode()
        raise RuntimeError(f"bcftools could not read {vcf}: {err.strip() or out.stderr.strip()}")
    records: dict[Key, dict[str, str]] = {}
    for line in out.stdout.splitlines():
        chrom, pos, ref, alt, info = line.split("\t")
        fields = dict(kv.split("=", 1) if "=" in kv else (kv, "1") for kv in info.split(";"))
        records[(chrom, int(pos), ref, alt)] = fields
    return records


@dataclass
class Score:
    """The figures of one call set against one truth instance."""

    truth: int
    calls: int
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    fp_per_mb: float
    region_bp: int
    artefacts: int
    artefacts_called: int
    germline_called: int
    by_bin: dict[str, dict[str, float]] = field(default_factory=dict)
    by_type: dict[str, dict[str, float]] = field(default_factory=dict)
    false_positives: list[str] = field(default_factory=list)
    false_negatives: list[str] = field(default_factory=list)


def _ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else float("nan")


def score(truth_dir: Path, calls: Path, reference: Path, region_bp: int | None = None) -> Score:
    """Score ``calls`` against ``truth_dir`` (somatic.vcf.gz, germline.vcf.gz,
    artefacts.vcf.gz, truth.json); ``region_bp`` defaults to truth.json's region."""
    truth = normalised(truth_dir / "somatic.vcf.gz", reference, pass_only=False)
    if (truth_dir / "msi.vcf.gz").exists():  # issue 23: MSI spikes are somatic indels too
        truth.update(normalised(truth_dir / "msi.vcf.gz", reference, pass_only=False))
    germ = normalised(truth_dir / "germline.vcf.gz", reference, pass_only=False)
    arte = normalised(truth_dir / "artefacts.vcf.gz", reference, pass_only=False)
    called = normalised(calls, reference, pass_only=True)
    if region_bp is None:
        meta = json.loads((truth_dir / "truth.json").read_text())
        region_bp = int(meta["region"]["end"]) - int(meta["region"]["start"])
    tp_keys = set(truth) & set(called)
    fp_keys = set(called) - set(truth)
    fn_keys = set(truth) - set(called)
    by_bin: dict[str, dict[str, float]] = {}
    for label in [b for b in BIN_ORDER if any(v.get("BIN") == b for v in truth.values())]:
        keys = {k for k, v in truth.items() if v.get("BIN") == label}
        hit = len(keys & tp_keys)
        by_bin[label] = {"truth": len(keys), "tp": hit, "recall": _ratio(hit, len(keys))}
    above = {k for k, v in truth.items() if v.get("BIN") != "0.05"}
    by_bin[">=0.10"] = {
        "truth": len(above),
        "tp": len(above & tp_keys),
        "recall": _ratio(len(above & tp_keys), len(above)),
    }
    by_type: dict[str, dict[str, float]] = {}
    for kind in ("SNV", "INDEL"):
        keys = {k for k, v in truth.items() if v.get("TYPE") == kind}
        if keys:
            hit = len(keys & tp_keys)
            by_type[kind] = {"truth": len(keys), "tp": hit, "recall": _ratio(hit, len(keys))}
    tp, fp, fn = len(tp_keys), len(fp_keys), len(fn_keys)
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, len(truth))
    f1 = round(2 * precision * recall / (precision + recall), 4) if tp else 0.0
    arte_called = {(c, p, a) for c, p, _r, a in arte} & {(c, p, a) for c, p, _r, a in fp_keys}

    def show(keys: set[Key], source: dict[Key, dict[str, str]]) -> list[str]:
        return [
            f"{c}:{p} {r}>{a} {source.get((c, p, r, a), {}).get('BIN', '')}".strip()
            for c, p, r, a in sorted(keys, key=lambda k: (k[0], k[1]))
        ]

    return Score(
        truth=len(truth),
        calls=len(called),
        tp=tp,
        fp=fp,
        fn=fn,
        precision=precision,
        recall=recall,
        f1=f1,
        fp_per_mb=round(fp / region_bp * 1e6, 2),
        region_bp=region_bp,
        artefacts=len(arte),
        artefacts_called=len(arte_called),
        germline_called=len(fp_keys & set(germ)),
        by_bin=by_bin,
        by_type=by_type,
        false_positives=show(fp_keys, called),
        false_negatives=show(fn_keys, truth),
    )


def format_score(s: Score) -> str:
    lines = [
        f"truth {s.truth}  calls {s.calls}  TP {s.tp}  FP {s.fp}  FN {s.fn}",
        f"precision {s.precision:.3f}  recall {s.recall:.3f}  F1 {s.f1:.3f}  "
        f"FP/Mb {s.fp_per_mb:.1f}  artefacts called {s.artefacts_called}/{s.artefacts}  "
        f"germline called {s.germline_called}",
    ]
    for label, row in s.by_bin.items():
        lines.append(f"  VAF {label:<7} recall {row['recall']:.3f} ({row['tp']}/{row['truth']})")
    for label, row in s.by_type.items():
        lines.append(f"  {label:<11} recall {row['recall']:.3f} ({row['tp']}/{row['truth']})")
    if s.false_positives:
        lines.append("  FP: " + ", ".join(s.false_positives))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("instance", type=Path, help="the simulate.py directory (= workdir)")
    parser.add_argument("--calls", type=Path, help="default: the workflow's somatic VCF")
    parser.add_argument("--reference", type=Path, help="default: resources/reference/genome.fa")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    inst: Path = args.instance
    meta = json.loads((inst / "truth" / "truth.json").read_text())
    calls = args.calls or (
        inst
        / "results"
        / "annotated"
        / "bcftools_csq"
        / f"{meta['patient']}.somatic.annotated.vcf.gz"
    )
    reference = args.reference or inst / "resources" / "reference" / "genome.fa"
    for path in (calls, reference):
        if not path.exists():
            print(f"score: {path} does not exist (run the workflow first)", file=sys.stderr)
            return 2
    result = score(inst / "truth", calls, reference)
    print(json.dumps(asdict(result), indent=2) if args.json else format_score(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
