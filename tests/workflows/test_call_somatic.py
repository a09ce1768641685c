"""scripts/call_somatic.py: the MuTect-style LODs and the false-positive filter, on
counts written from the published rules, with the workflow's own thresholds."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import pytest
import yaml

from tests.workflows.conftest import WORKFLOW

SCRIPT = WORKFLOW / "workflow" / "scripts" / "call_somatic.py"
_spec = importlib.util.spec_from_file_location("dna_seq_call_somatic", SCRIPT)
assert _spec is not None and _spec.loader is not None
cs = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = cs
_spec.loader.exec_module(cs)

_ANALYSIS = yaml.safe_load((WORKFLOW / "workflow" / "analysis.yaml").read_text())["parameters"]
PARAMS: dict[str, Any] = {**_ANALYSIS["somatic"], **_ANALYSIS["pileup"]}


def ev(**kw: Any) -> Any:
    """Evidence with balanced strands unless given, base quality 35."""
    t_alt, t_ref = kw["t_alt"], kw["t_ref"]
    base = {
        "t_alt_fwd": t_alt - t_alt // 2,
        "t_alt_rev": t_alt // 2,
        "t_ref_fwd": t_ref - t_ref // 2,
        "t_ref_rev": t_ref // 2,
        "t_ref_q": 35.0,
        "t_alt_q": 35.0,
        "n_ref_q": 35.0,
        "n_alt_q": 35.0,
        "n_alt_qsum": 35 * kw.get("n_alt", 0),
    }
    return cs.Evidence(**{**base, **kw})


def failed(e: Any) -> list[str]:
    return cs.evaluate(e, PARAMS)[0]


def test_filter_removes_a_strand_biased_artefact_and_keeps_a_balanced_call() -> None:
    # The .test artefact 1:138980 G>T: 7 ALT reads all forward, REF reads on both strands.
    artefact = ev(t_alt=7, t_ref=26, t_alt_fwd=7, t_alt_rev=0, n_alt=1, n_ref=29)
    assert failed(artefact) == ["strand_bias"]
    balanced = ev(t_alt=7, t_ref=26, t_alt_fwd=4, t_alt_rev=3, n_alt=1, n_ref=29)
    assert failed(balanced) == []
    # A one-strand assay (REF reads one-sided too) is not filtered for strand.
    amplicon = ev(t_alt=7, t_ref=26, t_alt_fwd=7, t_alt_rev=0, t_ref_fwd=26, t_ref_rev=0,
                  n_alt=0, n_ref=30)  # fmt: skip
    assert "strand_bias" not in failed(amplicon)


def test_filter_reads_position_soft_clip_and_mapping_quality_bias() -> None:
    good = dict(t_alt=18, t_ref=40, n_alt=0, n_ref=30)
    assert failed(ev(**good)) == []
    assert failed(ev(**good, rpbz=-6.0)) == ["read_position"]
    assert failed(ev(**good, scbz=7.5)) == ["soft_clip"]
    assert failed(ev(**good, mqbz=-5.5)) == ["mapq_bias"]
    assert failed(ev(**good, mq0f=0.5)) == ["mapq_bias"]


def test_tumour_lod_is_not_capped_by_the_normal_depth() -> None:
    # VAF 0.10 in a 200x tumour against a clean 30x normal: the Fisher test this replaces
    # found it 44 % of the time; MuTect's LOD depends on the tumour's reads only.
    e = ev(t_alt=20, t_ref=180, n_alt=0, n_ref=30)
    assert cs.tumour_lod(e) > 6.3 and failed(e) == []
    # The same tumour reads beside a 12x normal: still a call.
    assert failed(ev(t_alt=20, t_ref=180, n_alt=0, n_ref=12)) == []
    # Too little evidence: 3 ALT reads of 150 at Q20.
    weak = ev(t_alt=3, t_ref=147, t_alt_q=20.0, n_alt=0, n_ref=50)
    assert cs.tumour_lod(weak) < 6.3 and "tumour_lod" in failed(weak)


def test_germline_het_in_the_normal_is_refused_even_at_low_normal_depth() -> None:
    assert "normal_lod" in failed(ev(t_alt=50, t_ref=50, n_alt=3, n_ref=3))
    assert "normal_lod" in failed(ev(t_alt=50, t_ref=50, n_alt=25, n_ref=25))
    # 6 reference reads cannot tell a clean normal from a het (MuTect needs LOD_N 2.2).
    assert "normal_lod" in failed(ev(t_alt=50, t_ref=50, n_alt=0, n_ref=6))


@pytest.mark.parametrize("n_alt", [1, 2, 3, 4])
def test_tumour_in_the_normal_does_not_remove_a_clonal_variant(n_alt: int) -> None:
    # 5 % tumour in a 50x normal: a clonal VAF-0.45 variant gives the normal ~1-4 ALT reads.
    assert failed(ev(t_alt=65, t_ref=80, n_alt=n_alt, n_ref=55 - n_alt)) == []


def test_alt_in_the_normal_beyond_contamination_is_refused() -> None:
    # A VAF-0.10 "variant" with 10 % ALT in the normal too: not what tumour in the normal
    # explains (expected 0.01); a shared artefact or mosaic, refused.
    e = ev(t_alt=20, t_ref=180, n_alt=5, n_ref=45)
    assert "alt_in_normal" in failed(e)


def test_binomial_tail_matches_the_definition() -> None:
    assert cs.binomial_tail(0, 10, 0.3) == 1.0
    assert cs.binomial_tail(1, 2, 0.5) == pytest.approx(0.75)
    assert cs.binomial_tail(3, 3, 0.5) == pytest.approx(0.125)


def _allele(start: int, ref: str, alt: str, t_lod: float, contig: str = "1") -> Any:
    e = ev(t_alt=10, t_ref=100, n_alt=0, n_ref=50)
    return cs.Allele(contig, start, ref, alt, e, [], t_lod, 10.0)


def _run_clusters(alleles: list[Any]) -> list[Any]:
    clusters = cs.IndelClusters(PARAMS)
    out = []
    for a in alleles:
        out += clusters.add(a)
    return out + clusters.flush()


def test_only_the_strongest_of_clustered_indels_passes() -> None:
    # Seed 2 of the truth set: a clonal 3-bp deletion in CCCCC at 79256 (TLOD 215) and
    # 3 reverse reads of the same reads proposing C>CT at 79258 (TLOD 6.6).
    gap = PARAMS["indel_gap"]
    real = _allele(79255, "GCCCCC", "GCC", 215.4)
    ghost = _allele(79257, "C", "CT", 6.6)
    snv = _allele(79257, "C", "A", 50.0)  # SNVs are not clustered
    far = _allele(79255 + 6 + gap + 1, "A", "AT", 7.0)  # just beyond the gap
    weak = _allele(79250, "AG", "A", 2.0)  # below min_tumour_lod: does not compete
    out = _run_clusters([weak, real, ghost, snv, far])
    assert [a.start for a in out] == [79250, 79255, 79257, 79257, 79255 + 6 + gap + 1]
    assert {(a.start, a.alt): a.failed for a in out} == {
        (79250, "A"): ["indel_cluster"],
        (79255, "GCC"): [],
        (79257, "CT"): ["indel_cluster"],
        (79257, "A"): [],
        (79255 + 6 + gap + 1, "AT"): [],
    }
    # The same positions on two contigs do not meet.
    other = _run_clusters([real, _allele(79257, "C", "CT", 6.6, contig="2")])
    assert [a.failed for a in other] == [[], []]
