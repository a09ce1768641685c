"""Somatic SNV/indel calls from the joint tumour/normal pileup (VarScan2-style).

For every ALT allele seen in the tumour, with read counts from ``bcftools mpileup -a AD``
(reads passing the MAPQ / base-quality thresholds, duplicates excluded):

* depth: tumour depth >= ``min_tumour_depth`` and normal depth >= ``min_normal_depth``;
* evidence: at least ``min_tumour_alt_reads`` ALT reads and VAF >= ``min_tumour_vaf``
  in the tumour;
* normal contamination: normal VAF <= ``max_normal_vaf`` and at most
  ``max_normal_alt_reads`` ALT reads in the normal (a germline variant is not somatic);
* somatic p-value: one-sided Fisher exact test that the ALT fraction is higher in the
  tumour than in the normal, p <= ``max_somatic_p`` (VarScan2's somatic p-value).

Every allele with tumour ALT support is written to the candidates VCF with the filters
it fails; the alleles passing all filters go to the calls VCF (tumour 0/1, normal 0/0).
The p-value is computed with exact integer arithmetic so results do not depend on the
machine's floating-point library.
"""

import math
from fractions import Fraction
from typing import Any

import pysam

FILTERS = {
    "depth_tumour": "Tumour depth below min_tumour_depth",
    "depth_normal": "Normal depth below min_normal_depth",
    "alt_reads_tumour": "Fewer ALT reads in the tumour than min_tumour_alt_reads",
    "vaf_tumour": "Tumour VAF below min_tumour_vaf",
    "normal_evidence": "Normal VAF above max_normal_vaf or ALT reads above max_normal_alt_reads",
    "somatic_p": "Fisher somatic p-value above max_somatic_p",
}


def fisher_greater(t_alt: int, t_ref: int, n_alt: int, n_ref: int) -> Fraction:
    """One-sided Fisher exact p-value that the tumour ALT fraction exceeds the normal's."""
    alt = t_alt + n_alt
    tumour = t_alt + t_ref
    total = tumour + n_alt + n_ref
    denom = math.comb(total, tumour)
    top = min(alt, tumour)
    num = sum(math.comb(alt, k) * math.comb(total - alt, tumour - k) for k in range(t_alt, top + 1))
    return Fraction(num, denom)


def evaluate(counts: dict[str, int], p: dict[str, Any]) -> tuple[list[str], Fraction]:
    """The filters one allele fails (empty = somatic call) and its somatic p-value."""
    t_alt, t_dp = counts["t_alt"], counts["t_dp"]
    n_alt, n_dp = counts["n_alt"], counts["n_dp"]
    pval = fisher_greater(t_alt, t_dp - t_alt, n_alt, n_dp - n_alt)
    failed = []
    if t_dp < p["min_tumour_depth"]:
        failed.append("depth_tumour")
    if n_dp < p["min_normal_depth"]:
        failed.append("depth_normal")
    if t_alt < p["min_tumour_alt_reads"]:
        failed.append("alt_reads_tumour")
    if t_dp == 0 or Fraction(t_alt, t_dp) < Fraction(str(p["min_tumour_vaf"])):
        failed.append("vaf_tumour")
    n_vaf = Fraction(n_alt, n_dp) if n_dp else Fraction(0)
    if n_vaf > Fraction(str(p["max_normal_vaf"])) or n_alt > p["max_normal_alt_reads"]:
        failed.append("normal_evidence")
    if pval > Fraction(str(p["max_somatic_p"])):
        failed.append("somatic_p")
    return failed, pval


def make_header(template: pysam.VariantHeader, tumour: str, normal: str) -> pysam.VariantHeader:
    header = pysam.VariantHeader()
    for rec in template.records:
        if rec.type == "CONTIG" or rec.key == "reference":
            header.add_record(rec)
    for name, desc in FILTERS.items():
        header.filters.add(name, None, None, desc)
    header.info.add("SOMATIC", 0, "Flag", "Somatic call (tumour vs matched normal)")
    header.info.add("SPV", 1, "Float", "One-sided Fisher exact somatic p-value")
    header.info.add("TVAF", 1, "Float", "Tumour ALT allele fraction")
    header.info.add("NVAF", 1, "Float", "Normal ALT allele fraction")
    header.formats.add("GT", 1, "String", "Genotype")
    header.formats.add("DP", 1, "Integer", "Read depth (reads counted in AD)")
    header.formats.add("AD", "R", "Integer", "Read depth per allele (REF, ALT)")
    header.formats.add("AF", "A", "Float", "ALT allele fraction")
    header.add_sample(tumour)
    header.add_sample(normal)
    return header


def main(snakemake: Any) -> None:
    pysam.set_verbosity(0)  # the pileup BCF has no index; do not warn about it
    params = snakemake.params.somatic
    tumour, normal = snakemake.params.tumour, snakemake.params.normal
    with pysam.VariantFile(snakemake.input[0]) as pile:
        names = list(pile.header.samples)
        if names != [tumour, normal]:
            raise ValueError(f"pileup samples {names} are not [{tumour}, {normal}]")
        header = make_header(pile.header, tumour, normal)
        with (
            pysam.VariantFile(snakemake.output.calls, "wz", header=header) as calls,
            pysam.VariantFile(snakemake.output.candidates, "wz", header=header) as cands,
        ):
            for rec in pile:
                t_ad = rec.samples[tumour]["AD"]
                n_ad = rec.samples[normal]["AD"]
                if t_ad is None or n_ad is None or None in t_ad or None in n_ad:
                    continue
                t_dp, n_dp = sum(t_ad), sum(n_ad)
                for i, alt in enumerate(rec.alts or (), start=1):
                    if alt == "<*>" or t_ad[i] == 0:
                        continue
                    counts = {"t_alt": t_ad[i], "t_dp": t_dp, "n_alt": n_ad[i], "n_dp": n_dp}
                    failed, pval = evaluate(counts, params)
                    t_vaf = round(t_ad[i] / t_dp, 4)
                    n_vaf = round(n_ad[i] / n_dp, 4) if n_dp else 0.0
                    for out, keep in ((cands, True), (calls, not failed)):
                        if not keep:
                            continue
                        new = out.new_record(
                            contig=rec.contig,
                            start=rec.start,
                            alleles=(rec.ref, alt),
                            qual=round(min(999.0, -10 * math.log10(max(float(pval), 1e-100))), 2),
                            filter=failed or ["PASS"],
                        )
                        new.info["SOMATIC"] = True
                        new.info["SPV"] = float(f"{float(pval):.4g}")
                        new.info["TVAF"] = t_vaf
                        new.info["NVAF"] = n_vaf
                        gt_t = (1, 1) if t_vaf >= 0.9 else (0, 1)
                        for sample, gt, ad, dp, vaf in (
                            (tumour, gt_t, (t_ad[0], t_ad[i]), t_dp, t_vaf),
                            (normal, (0, 0), (n_ad[0], n_ad[i]), n_dp, n_vaf),
                        ):
                            new.samples[sample]["GT"] = gt
                            new.samples[sample]["DP"] = dp
                            new.samples[sample]["AD"] = ad
                            new.samples[sample]["AF"] = (vaf,)
                        out.write(new)
    with open(snakemake.log[0], "w") as log:
        log.write("call_somatic: done\n")


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined]  # noqa: F821
