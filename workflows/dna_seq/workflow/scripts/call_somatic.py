"""Somatic SNV/indel calls from the joint tumour/normal pileup: MuTect-style likelihood
tests and a VarScan2-style false-positive filter on the evidence mpileup computes.

Per ALT allele seen in the tumour, from ``bcftools mpileup -a AD,ADF,ADR,QS,SP,SCR``
(reads passing the MAPQ / base-quality thresholds, duplicates excluded). Every threshold
is in ``workflow/analysis.yaml`` (``somatic``):

* depth and evidence: tumour depth >= ``min_tumour_depth``, normal depth >=
  ``min_normal_depth``, >= ``min_tumour_alt_reads`` ALT reads, VAF >= ``min_tumour_vaf``;
* tumour LOD (MuTect, Cibulskis et al. 2013, Nat Biotechnol 31:213): log10 of the
  likelihood of the reads under "ALT at the observed fraction f" over "no ALT (f = 0)",
  each read's base correct with probability 1 - e and any other base with e/3;
  >= ``min_tumour_lod`` (MuTect's 6.3). Not capped by the normal's depth.
* normal LOD (MuTect): log10 of the normal's likelihood at the ALT fraction a little
  tumour in the normal explains (``tumour_in_normal`` x the tumour VAF) over f = 0.5 (a
  het germline site), >= ``min_normal_lod`` (MuTect's 2.2 for sites not in dbSNP).
  MuTect's null is f = 0, which refuses a clonal variant whenever 2-3 of the normal's
  reads carry it, as 5 % tumour in a 50x normal does;
* ALT in the normal (MuTect's ``alt_allele_in_normal``, with the same allowance): refused
  when the normal has more than ``max_normal_alt_reads`` ALT reads, their quality sum
  exceeds ``max_normal_alt_qsum`` (MuTect's 2 and 20) and that many ALT reads are
  unlikely from tumour in the normal: binomial P(X >= ALT | normal depth,
  ``tumour_in_normal`` x tumour VAF) < ``max_normal_alt_p``;
* strand (VarScan2 ``fpfilter``): with >= ``min_strand_reads`` ALT reads, fewer than
  ``min_strandedness`` of them on one strand while the REF reads are on both strands;
* read position, soft-clip, mapping quality (mpileup's Mann-Whitney z of ALT vs REF
  reads: INFO/RPBZ, SCBZ, MQBZ): ``|z| > max_bias_z``; MQ0F > ``max_mq0_fraction``.

The read error e comes from the allele's mean base quality (FORMAT/QS / AD, clamped to
[``min_baseq``, ``max_baseq``]): MuTect uses each read's quality, which the pileup sums
per allele; the mean of the allele's reads is the count-level equivalent.

Every allele with tumour ALT support is written to the candidates VCF with the filters it
fails; the alleles passing all filters go to the calls VCF (tumour 0/1, normal 0/0). The
LODs are rounded to 4 decimals before they are compared, so the last bits of the
platform's log10 cannot change a call.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pysam

FILTERS = {
    "depth_tumour": "Tumour depth below min_tumour_depth",
    "depth_normal": "Normal depth below min_normal_depth",
    "alt_reads_tumour": "Fewer ALT reads in the tumour than min_tumour_alt_reads",
    "vaf_tumour": "Tumour VAF below min_tumour_vaf",
    "tumour_lod": "Tumour LOD (MuTect) below min_tumour_lod",
    "normal_lod": "Normal LOD (MuTect) below min_normal_lod: the normal may be het",
    "alt_in_normal": "More ALT reads in the normal than tumour in the normal explains",
    "strand_bias": "ALT reads on one strand only (VarScan2 fpfilter strandedness)",
    "read_position": "ALT reads at other read positions than REF reads (|RPBZ| > max_bias_z)",
    "soft_clip": "ALT reads more soft-clipped than REF reads (|SCBZ| > max_bias_z)",
    "mapq_bias": "ALT reads of lower mapping quality (|MQBZ| > max_bias_z or MQ0F high)",
    "indel_cluster": "A stronger indel within indel_gap bp (vcfutils varFilter -W)",
}


@dataclass(frozen=True)
class Evidence:
    """The counts of one ALT allele in the tumour and the normal, and the site's biases."""

    t_ref: int
    t_alt: int
    n_ref: int
    n_alt: int
    t_ref_q: float = 30.0  # mean base quality of the tumour's REF reads
    t_alt_q: float = 30.0
    n_ref_q: float = 30.0
    n_alt_q: float = 30.0
    n_alt_qsum: int = 0
    t_alt_fwd: int = 0
    t_alt_rev: int = 0
    t_ref_fwd: int = 0
    t_ref_rev: int = 0
    rpbz: float = 0.0
    scbz: float = 0.0
    mqbz: float = 0.0
    mq0f: float = 0.0


def _error(q: float) -> float:
    return 10 ** (-q / 10)


def log_likelihood(alt: int, ref: int, f: float, e_alt: float, e_ref: float) -> float:
    """log10 P(reads | ALT fraction f): an ALT read is ALT with 1 - e, another base e/3."""
    total = 0.0
    if alt:
        total += alt * math.log10(f * (1 - e_alt) + (1 - f) * e_alt / 3)
    if ref:
        total += ref * math.log10(f * e_ref / 3 + (1 - f) * (1 - e_ref))
    return total


def tumour_lod(ev: Evidence) -> float:
    """MuTect's LOD_T: ALT at the observed fraction vs no ALT."""
    depth = ev.t_alt + ev.t_ref
    if depth == 0 or ev.t_alt == 0:
        return 0.0
    f = ev.t_alt / depth
    e_a, e_r = _error(ev.t_alt_q), _error(ev.t_ref_q)
    lod = log_likelihood(ev.t_alt, ev.t_ref, f, e_a, e_r) - log_likelihood(
        ev.t_alt, ev.t_ref, 0.0, e_a, e_r
    )
    return round(lod, 4)


def tumour_vaf(ev: Evidence) -> float:
    depth = ev.t_alt + ev.t_ref
    return ev.t_alt / depth if depth else 0.0


def normal_lod(ev: Evidence, tumour_in_normal: float) -> float:
    """MuTect's LOD_N with tumour in the normal allowed: the normal's ALT fraction is what
    ``tumour_in_normal`` of tumour cells explain, vs a het germline site (f = 0.5)."""
    e_a, e_r = _error(ev.n_alt_q), _error(ev.n_ref_q)
    f0 = tumour_in_normal * tumour_vaf(ev)
    lod = log_likelihood(ev.n_alt, ev.n_ref, f0, e_a, e_r) - log_likelihood(
        ev.n_alt, ev.n_ref, 0.5, e_a, e_r
    )
    return round(lod, 4)


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    below = sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k))
    return max(0.0, 1.0 - below)


def evaluate(ev: Evidence, p: Mapping[str, Any]) -> tuple[list[str], float, float]:
    """The filters one allele fails (empty = somatic call), its tumour and normal LOD."""
    t_dp, n_dp = ev.t_alt + ev.t_ref, ev.n_alt + ev.n_ref
    tin = p["tumour_in_normal"]
    t_lod, n_lod = tumour_lod(ev), normal_lod(ev, tin)
    failed = []
    if t_dp < p["min_tumour_depth"]:
        failed.append("depth_tumour")
    if n_dp < p["min_normal_depth"]:
        failed.append("depth_normal")
    if ev.t_alt < p["min_tumour_alt_reads"]:
        failed.append("alt_reads_tumour")
    if t_dp == 0 or ev.t_alt / t_dp < p["min_tumour_vaf"]:
        failed.append("vaf_tumour")
    if t_lod < p["min_tumour_lod"]:
        failed.append("tumour_lod")
    if n_lod < p["min_normal_lod"]:
        failed.append("normal_lod")
    if (
        ev.n_alt > p["max_normal_alt_reads"]
        and ev.n_alt_qsum > p["max_normal_alt_qsum"]
        and binomial_tail(ev.n_alt, n_dp, tin * tumour_vaf(ev)) < p["max_normal_alt_p"]
    ):
        failed.append("alt_in_normal")
    if strand_biased(ev, p):
        failed.append("strand_bias")
    z = p["max_bias_z"]
    if abs(ev.rpbz) > z:
        failed.append("read_position")
    if abs(ev.scbz) > z:
        failed.append("soft_clip")
    if abs(ev.mqbz) > z or ev.mq0f > p["max_mq0_fraction"]:
        failed.append("mapq_bias")
    return failed, t_lod, n_lod


def strand_biased(ev: Evidence, p: Mapping[str, Any]) -> bool:
    """VarScan2 fpfilter's strandedness test: with enough ALT reads, the share of them on
    the forward strand is below ``min_strandedness`` or above 1 - it; applied only when
    the REF reads are on both strands (so a one-strand assay is not filtered wholesale)."""
    alt = ev.t_alt_fwd + ev.t_alt_rev
    if alt < p["min_strand_reads"]:
        return False
    low = p["min_strandedness"]
    share = ev.t_alt_fwd / alt
    ref = ev.t_ref_fwd + ev.t_ref_rev
    ref_balanced = ref > 0 and low <= ev.t_ref_fwd / ref <= 1 - low
    return ref_balanced and (share < low or share > 1 - low)


def make_header(template: pysam.VariantHeader, tumour: str, normal: str) -> pysam.VariantHeader:
    header = pysam.VariantHeader()
    for rec in template.records:
        if rec.type == "CONTIG" or rec.key == "reference":
            header.add_record(rec)
    for name, desc in FILTERS.items():
        header.filters.add(name, None, None, desc)
    header.info.add("SOMATIC", 0, "Flag", "Somatic call (tumour vs matched normal)")
    header.info.add("TLOD", 1, "Float", "Tumour LOD: ALT at the observed fraction vs none")
    header.info.add("NLOD", 1, "Float", "Normal LOD: reference vs het germline")
    header.info.add("TVAF", 1, "Float", "Tumour ALT allele fraction")
    header.info.add("NVAF", 1, "Float", "Normal ALT allele fraction")
    header.info.add("TSB", 2, "Integer", "Tumour ALT reads on the forward, reverse strand")
    header.formats.add("GT", 1, "String", "Genotype")
    header.formats.add("DP", 1, "Integer", "Read depth (reads counted in AD)")
    header.formats.add("AD", "R", "Integer", "Read depth per allele (REF, ALT)")
    header.formats.add("AF", "A", "Float", "ALT allele fraction")
    header.add_sample(tumour)
    header.add_sample(normal)
    return header


def _mean_q(
    qs: Sequence[int | None] | None, ad: Sequence[int], i: int, p: Mapping[str, Any]
) -> float:
    """The mean base quality of allele i (QS / AD), clamped to [min_baseq, max_baseq]."""
    lo, hi = float(p["min_baseq"]), float(p["max_baseq"])
    if qs is None or qs[i] is None or not ad[i]:
        return lo
    return min(hi, max(lo, qs[i] / ad[i]))  # type: ignore[operator]


def _info_float(rec: Any, key: str) -> float:
    value = rec.info.get(key)
    return float(value) if value is not None else 0.0


def evidence(rec: Any, tumour: str, normal: str, i: int, p: Mapping[str, Any]) -> Evidence:
    """The Evidence of ALT allele i of one pileup record."""
    t, n = rec.samples[tumour], rec.samples[normal]
    t_ad, n_ad = t["AD"], n["AD"]
    t_adf, t_adr = t.get("ADF"), t.get("ADR")
    fwd = t_adf if t_adf is not None and None not in t_adf else (0,) * len(t_ad)
    rev = t_adr if t_adr is not None and None not in t_adr else (0,) * len(t_ad)
    n_qs = n.get("QS")
    return Evidence(
        t_ref=t_ad[0],
        t_alt=t_ad[i],
        n_ref=n_ad[0],
        n_alt=n_ad[i],
        t_ref_q=_mean_q(t.get("QS"), t_ad, 0, p),
        t_alt_q=_mean_q(t.get("QS"), t_ad, i, p),
        n_ref_q=_mean_q(n_qs, n_ad, 0, p),
        n_alt_q=_mean_q(n_qs, n_ad, i, p),
        n_alt_qsum=int(n_qs[i] or 0) if n_qs is not None else 0,
        t_alt_fwd=fwd[i],
        t_alt_rev=rev[i],
        t_ref_fwd=fwd[0],
        t_ref_rev=rev[0],
        rpbz=_info_float(rec, "RPBZ"),
        scbz=_info_float(rec, "SCBZ"),
        mqbz=_info_float(rec, "MQBZ"),
        mq0f=_info_float(rec, "MQ0F"),
    )


@dataclass
class Allele:
    """One ALT allele of the pileup with its evidence and the filters it fails."""

    contig: str
    start: int  # 0-based
    ref: str
    alt: str
    ev: Evidence
    failed: list[str]
    t_lod: float
    n_lod: float

    @property
    def end(self) -> int:
        return self.start + len(self.ref)

    @property
    def is_indel(self) -> bool:
        return len(self.ref) != len(self.alt)


def _gap(a: Allele, b: Allele) -> int:
    """Reference bases between the spans of two alleles (0 if they touch or overlap)."""
    return max(0, max(a.start, b.start) - min(a.end, b.end))


def outranks(b: Allele, a: Allele) -> bool:
    """Whether indel b wins over indel a in a cluster: higher tumour LOD, ties to the
    earlier one (a fixed order, so that the same pileup always gives the same calls)."""
    return (b.t_lod, -b.start, b.alt) > (a.t_lod, -a.start, a.alt)


class IndelClusters:
    """samtools ``vcfutils.pl varFilter -W`` (bcftools ``filter --IndelGap``): of indels
    whose spans are at most ``indel_gap`` bp apart only the best (highest tumour LOD)
    passes. Reads of a real indel aligned with the gap shifted or split (homopolymers,
    read ends) propose a second, weaker indel beside it; a germline indel does too.
    Only indels with tumour LOD >= ``min_tumour_lod`` compete.

    Streams: alleles come in pileup order and leave once no later allele can come within
    ``indel_gap`` of them, so memory holds a window, not a genome."""

    def __init__(self, p: Mapping[str, Any]) -> None:
        self.gap = int(p["indel_gap"])
        self.min_lod = float(p["min_tumour_lod"])
        self.pending: list[Allele] = []
        self.indels: list[Allele] = []  # competing indels near the pending alleles

    def add(self, allele: Allele) -> list[Allele]:
        """Take one allele; returns the alleles now final, in input order."""
        done = []
        if self.pending and self.pending[0].contig != allele.contig:
            done = self.flush()
        self.pending.append(allele)
        if allele.is_indel and allele.t_lod >= self.min_lod:
            self.indels.append(allele)
        return done + self._release(allele.start)

    def flush(self) -> list[Allele]:
        return self._release(None)

    def _release(self, upto: int | None) -> list[Allele]:
        done = []
        while self.pending and (upto is None or self.pending[0].end + self.gap < upto):
            a = self.pending.pop(0)
            if a.is_indel and any(
                b is not a and _gap(a, b) <= self.gap and outranks(b, a) for b in self.indels
            ):
                a.failed.append("indel_cluster")
            done.append(a)
        horizon = self.pending[0].start if self.pending else None
        self.indels = [
            b for b in self.indels if horizon is not None and b.end + self.gap >= horizon
        ]
        return done


def write_allele(out: Any, a: Allele, tumour: str, normal: str) -> None:
    ev = a.ev
    t_dp, n_dp = ev.t_alt + ev.t_ref, ev.n_alt + ev.n_ref
    t_vaf = round(ev.t_alt / t_dp, 4)
    n_vaf = round(ev.n_alt / n_dp, 4) if n_dp else 0.0
    new = out.new_record(
        contig=a.contig,
        start=a.start,
        alleles=(a.ref, a.alt),
        qual=round(min(999.0, max(0.0, 10 * a.t_lod)), 2),
        filter=a.failed or ["PASS"],
    )
    new.info["SOMATIC"] = True
    new.info["TLOD"] = a.t_lod
    new.info["NLOD"] = a.n_lod
    new.info["TVAF"] = t_vaf
    new.info["NVAF"] = n_vaf
    new.info["TSB"] = (ev.t_alt_fwd, ev.t_alt_rev)
    gt_t = (1, 1) if t_vaf >= 0.9 else (0, 1)
    for sample, gt, ad, dp, vaf in (
        (tumour, gt_t, (ev.t_ref, ev.t_alt), t_dp, t_vaf),
        (normal, (0, 0), (ev.n_ref, ev.n_alt), n_dp, n_vaf),
    ):
        new.samples[sample]["GT"] = gt
        new.samples[sample]["DP"] = dp
        new.samples[sample]["AD"] = ad
        new.samples[sample]["AF"] = (vaf,)
    out.write(new)


def alleles_of(pile: Any, tumour: str, normal: str, params: Mapping[str, Any]) -> Any:
    """Every ALT allele the tumour shows, evaluated, in pileup order."""
    for rec in pile:
        t_ad = rec.samples[tumour]["AD"]
        n_ad = rec.samples[normal]["AD"]
        if t_ad is None or n_ad is None or None in t_ad or None in n_ad:
            continue
        for i, alt in enumerate(rec.alts or (), start=1):
            if alt == "<*>" or t_ad[i] == 0:
                continue
            ev = evidence(rec, tumour, normal, i, params)
            failed, t_lod, n_lod = evaluate(ev, params)
            yield Allele(rec.contig, rec.start, rec.ref, alt, ev, failed, t_lod, n_lod)


def main(snakemake: Any) -> None:
    pysam.set_verbosity(0)  # the pileup BCF has no index; do not warn about it
    params = {**snakemake.params.somatic, **snakemake.params.pileup}
    tumour, normal = snakemake.params.tumour, snakemake.params.normal
    calls_n = cands_n = 0
    with pysam.VariantFile(snakemake.input[0]) as pile:
        names = list(pile.header.samples)
        if names != [tumour, normal]:
            raise ValueError(f"pileup samples {names} are not [{tumour}, {normal}]")
        header = make_header(pile.header, tumour, normal)
        with (
            pysam.VariantFile(snakemake.output.calls, "wz", header=header) as calls,
            pysam.VariantFile(snakemake.output.candidates, "wz", header=header) as cands,
        ):
            clusters = IndelClusters(params)

            def write(done: list[Allele]) -> None:
                nonlocal calls_n, cands_n
                for a in done:
                    write_allele(cands, a, tumour, normal)
                    cands_n += 1
                    if not a.failed:
                        write_allele(calls, a, tumour, normal)
                        calls_n += 1

            for allele in alleles_of(pile, tumour, normal, params):
                write(clusters.add(allele))
            write(clusters.flush())
    with open(snakemake.log[0], "w") as log:
        log.write(f"call_somatic: {cands_n} candidate alleles, {calls_n} calls\n")


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined]  # noqa: F821
