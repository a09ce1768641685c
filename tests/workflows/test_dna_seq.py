"""workflows/dna_seq on real tiny reads: contract, provenance, identity, fingerprint, lock,
config refusal, EGFR annotation, the oncolake command and the SLURM profile."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from metadata.provenance import parse_provenance
from tests.workflows.conftest import (
    DOT_TEST,
    SHARED_DATA,
    VENV_BIN,
    WORKFLOW,
    Run,
    SlurmCluster,
    copy_dot_test,
    snakemake,
    tool_env,
    vcf_records,
    write_config,
)

pytestmark = pytest.mark.pipeline

TEST_CONFIG = yaml.safe_load((DOT_TEST / "config" / "config.yaml").read_text())
FINGERPRINT_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


def header(path: Path) -> list[str]:
    out = subprocess.run(["bcftools", "view", "-h", str(path)], capture_output=True, text=True)
    return out.stdout.splitlines()


def query(path: Path, fmt: str) -> list[str]:
    out = subprocess.run(
        ["bcftools", "query", "-f", fmt, str(path)], capture_output=True, text=True, check=True
    )
    return out.stdout.splitlines()


# ---- lint ----------------------------------------------------------------------------


def test_workflow_is_lint_and_snakefmt_clean(tmp_path: Path) -> None:
    workdir = copy_dot_test(tmp_path / "lint")
    lint = snakemake(workdir, "--lint", check=False)
    assert lint.returncode == 0, lint.stdout
    fmt = subprocess.run(
        [str(VENV_BIN / "snakefmt"), "--check", str(WORKFLOW / "workflow")],
        capture_output=True,
        text=True,
    )
    assert fmt.returncode == 0, fmt.stderr


# ---- the .test run: outputs and their contract -----------------------------------------


def test_somatic_vcf_meets_the_harmonise_contract(local_run: Run) -> None:
    vcf = local_run.vcf()
    assert vcf.exists() and Path(f"{vcf}.tbi").exists()
    with open(vcf, "rb") as fh:
        assert fh.read(4) == b"\x1f\x8b\x08\x04"  # BGZF
    lines = header(vcf)
    assert lines[-1].split("\t")[9:] == ["tiny_T", "tiny_N"]
    fp = next(ln for ln in lines if ln.startswith("##oncolake_pipeline_fingerprint="))
    assert FINGERPRINT_RE.match(fp.split("=", 1)[1])
    assert "##oncolake_harmonised=true" in lines
    assert any(ln.startswith("##oncolake_tool_versions=") and "bwa:" in ln for ln in lines)
    assert any(ln.startswith("##INFO=<ID=BCSQ") for ln in lines)
    records = query(vcf, "%CHROM\t%POS\t%REF\t%ALT\t%INFO/BCSQ[\t%GT:%DP:%AD]\n")
    assert records, "the tiny pair should give at least one somatic call"
    for rec in records:
        fields = rec.split("\t")
        assert "," not in fields[3], "multi-allelic record left after norm -m-any"
        assert fields[4] != ".", "record without BCSQ"
        for sample in fields[5:]:
            gt, dp, ad = sample.split(":")
            assert gt in {"0/1", "1/1", "0/0"} and dp != "." and "," in ad


def test_the_test_pairs_oxidation_artefact_is_filtered_for_strand_bias(local_run: Run) -> None:
    """1:138980 G>T in .test: all 7 ALT reads forward, REF reads on both strands (the
    8-oxoG pattern). A candidate failing strand_bias, not a call."""
    calls = query(local_run.vcf(), "%CHROM:%POS %REF>%ALT\n")
    assert "1:138980 G>T" not in calls
    cands = local_run.results / "calls" / "somatic" / "TINY01.candidates.vcf.gz"
    rows = query(cands, "%CHROM:%POS %REF>%ALT\t%FILTER\t%INFO/TSB\n")
    (row,) = [r for r in rows if r.startswith("1:138980 G>T")]
    assert row.split("\t")[1:] == ["strand_bias", "7,0"]


def test_germline_vcf_is_annotated_with_fingerprint(local_run: Run) -> None:
    vcf = local_run.vcf(kind="germline")
    lines = header(vcf)
    assert lines[-1].split("\t")[9:] == ["tiny_N"]
    assert any(ln.startswith("##oncolake_pipeline_fingerprint=sha256:") for ln in lines)
    assert len(vcf_records(vcf)) > 5


def test_provenance_json_is_complete_and_readable_by_metadata(local_run: Run) -> None:
    prov = json.loads((local_run.results / "provenance" / "provenance.json").read_text())
    parse_provenance(prov)  # the submission manifest's reader accepts it
    assert prov["pipeline_id"] == "oncolake/dna_seq"
    assert FINGERPRINT_RE.match(prov["fingerprint"])
    # The Sarek tiny tumour and normal are two people: .test allows the identity mismatch,
    # which marks the run not harmonised (the VCF header's flag is the tool lock's).
    assert prov["harmonised"] is False
    (pair,) = prov["qc"]["pairs"]  # in the order of prov["samples"]; no names in "qc"
    identity = pair["identity"]
    assert identity["status"] == "mismatch" and identity["allowed"] is True
    assert identity["discordance"] > identity["max_discordance"] == 0.3
    assert "tiny_T" not in json.dumps(prov["qc"]) and "TINY01" not in json.dumps(prov["qc"])
    for row in (pair["tumour"], pair["normal"]):
        assert 0 <= row["duplication_rate"] < 0.2 and row["mapped_rate"] > 0.95
        assert 200 < row["insert_size_mean"] < 500 and row["mean_coverage"] > 5
        # per gene: the GFF3 genes whose exons lie in .test's regions (1:132700-134000,
        # 1:136000-139738)
        genes = {g["gene"]: g for g in row["genes"]}
        assert set(genes) == {"CICP27", "RP11-34P13.7", "AL627309.1", "RP11-34P13.16"}
        assert genes["CICP27"]["bp"] == 1300  # its exons clipped to 132700-134000
        for g in genes.values():
            assert 5 < g["mean_depth"] < 60
            fractions = [g["fraction_at_depth"][d] for d in ("20", "50", "100")]
            assert fractions == sorted(fractions, reverse=True) and 0 < fractions[0] <= 1
    # too few somatic SNVs in the tiny pair for a tumour-in-normal estimate
    assert pair["contamination"]["status"] == "insufficient"
    assert pair["contamination"]["tumour_in_normal"] is None
    report = local_run.workdir / prov["qc"]["report"]["path"]
    assert prov["qc"]["report"]["sha256"] == hashlib.sha256(report.read_bytes()).hexdigest()
    ref = prov["reference"]
    assert ref["build"] == "GRCh37" and ref["contig_naming"] == "ensembl"
    assert ref["contigs"] == ["1"]
    assert ref["path"] == "data/reference/genome.fa.gz"
    assert (
        ref["sha256"] == hashlib.sha256((local_run.workdir / ref["path"]).read_bytes()).hexdigest()
    )
    assert prov["gff3"]["path"] == "data/reference/annotation.gff3"
    assert len(prov["inputs"]) == 8
    first = prov["inputs"][0]
    assert (
        first["sha256"]
        == hashlib.sha256((local_run.workdir / first["path"]).read_bytes()).hexdigest()
    )
    assert {s["tool"] for s in prov["steps"]} >= {
        "fastp",
        "bwa",
        "samtools",
        "bcftools",
        "mosdepth",
        "multiqc",
    }
    assert all(s["version"] == prov["tool_versions"][s["tool"]] for s in prov["steps"])
    assert prov["parameters"]["somatic"]["min_tumour_lod"] == 6.3
    (sample,) = prov["samples"]
    assert sample == {
        "patient": "TINY01",
        "tumour": "tiny_T",
        "normal": "tiny_N",
        "vcf": "results/annotated/bcftools_csq/TINY01.somatic.annotated.vcf.gz",
        "germline_vcf": "results/annotated/bcftools_csq/TINY01.germline.annotated.vcf.gz",
    }
    assert (local_run.workdir / sample["vcf"]).exists()
    versions = yaml.safe_load(
        (local_run.results / "provenance" / "software_versions.yaml").read_text()
    )
    assert versions["steps"] == prov["steps"]


def test_multiqc_report_has_every_qc_and_the_versions(local_run: Run) -> None:
    html = (local_run.results / "qc" / "multiqc" / "multiqc_report.html").read_text()
    for section in ("fastp", "Samtools", "mosdepth", "Bcftools", "Software Versions"):
        assert section in html, section
    assert "0.7.17-r1188" in html
    data = local_run.results / "qc" / "multiqc" / "multiqc_report_data"
    # markdup statistics are shown (MultiQC's own pattern never finds them: see the config)
    markdup = (data / "multiqc_samtools_markdup.txt").read_text().splitlines()
    assert sorted(ln.split("\t")[0] for ln in markdup[1:]) == ["tiny_N", "tiny_T"]
    # one row per sample: coverage, alignment and duplicate columns share the sample's
    # row (extra_fn_clean_exts keeps MultiQC's built-in name cleaning)
    stats = (data / "multiqc_general_stats.txt").read_text().splitlines()
    names = {ln.split("\t")[0] for ln in stats[1:]}
    assert {"tiny_T", "tiny_N"} <= names
    assert not [n for n in names if "mosdepth" in n or n.endswith((".stats", ".markdup"))]
    header_cols = stats[0].split("\t")
    line_t = next(ln for ln in stats[1:] if ln.startswith("tiny_T\t"))
    row_t = dict(zip(header_cols, line_t.split("\t"), strict=True))
    assert any("mosdepth" in k and v for k, v in row_t.items())
    assert any("markdup" in k and v for k, v in row_t.items())
    # the pair checks and the per-gene coverage, as the provenance records them
    prov = json.loads((local_run.results / "provenance" / "provenance.json").read_text())
    (pair,) = prov["qc"]["pairs"]
    pair_rows = (data / "multiqc_oncolake_pair_qc_table.txt").read_text().splitlines()
    row = dict(zip(pair_rows[0].split("\t"), pair_rows[1].split("\t"), strict=True))
    assert (row["Sample"], row["Identity"]) == ("TINY01", "mismatch")
    assert float(row["Discordance"]) == pair["identity"]["discordance"]
    gene_rows = (data / "multiqc_oncolake_gene_coverage_table.txt").read_text().splitlines()
    by_sample = {ln.split("\t")[0]: ln.split("\t") for ln in gene_rows[1:]}
    assert set(by_sample) == {"tiny_T", "tiny_N"}
    assert int(float(by_sample["tiny_T"][1])) == len(pair["tumour"]["genes"]) > 0


# ---- identity across centres, and the fingerprint ----------------------------------------


def test_two_centre_configs_give_identical_records_and_fingerprint(
    local_run: Run, tmp_path: Path
) -> None:
    """Centre B: other paths (absolute), a bgzipped copy of the reference, 1 thread and
    1 core instead of 2, another working directory, run through ``oncolake pipeline run``."""
    inputs = tmp_path / "centre_b" / "incoming"
    shutil.copytree(DOT_TEST / "data" / "reads", inputs / "fastq")
    refdir = tmp_path / "centre_b" / "refs"
    refdir.mkdir()
    fasta = refdir / "GRCh37_small.fa.gz"
    with open(fasta, "wb") as out:
        zcat = subprocess.Popen(
            ["gzip", "-cd", str(DOT_TEST / "data/reference/genome.fa.gz")], stdout=subprocess.PIPE
        )
        subprocess.run(["bgzip", "-c"], stdin=zcat.stdout, stdout=out, check=True)
        zcat.wait()
    shutil.copy(DOT_TEST / "data/reference/annotation.gff3", refdir / "genes.gff3")
    units = (DOT_TEST / "config" / "units.tsv").read_text()
    (tmp_path / "centre_b" / "units.tsv").write_text(
        units.replace("data/reads/", f"{inputs / 'fastq'}/")
    )
    shutil.copy(DOT_TEST / "config" / "samples.tsv", tmp_path / "centre_b" / "samples.tsv")
    config = write_config(
        tmp_path / "centre_b" / "centre_b.yaml",
        {
            "samples": str(tmp_path / "centre_b" / "samples.tsv"),
            "units": str(tmp_path / "centre_b" / "units.tsv"),
            "reference": {
                "fasta": str(fasta),
                "gff3": str(refdir / "genes.gff3"),
                "build": "GRCh37",
            },
            "threads": 1,
            "memory_mb": 2000,
            "allow_identity_mismatch": True,  # as in .test: the tiny pair is two people
        },
    )
    workdir = tmp_path / "elsewhere" / "work"
    proc = subprocess.run(
        [
            str(VENV_BIN / "oncolake"),
            "pipeline",
            "run",
            "--config",
            str(config),
            "--cores",
            "1",
            "--directory",
            str(workdir),
        ],
        capture_output=True,
        text=True,
        env=tool_env(),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    b = Run(workdir)
    for kind in ("somatic", "germline"):
        assert vcf_records(b.vcf(kind=kind)) == vcf_records(local_run.vcf(kind=kind))
    prov_a = json.loads((local_run.results / "provenance/provenance.json").read_text())
    prov_b = json.loads((b.results / "provenance/provenance.json").read_text())
    assert prov_a["fingerprint"] == prov_b["fingerprint"]
    assert prov_a["reference"]["sha256"] != prov_b["reference"]["sha256"]  # other file bytes
    assert prov_a["reference"]["sequence_sha256"] == prov_b["reference"]["sequence_sha256"]
    assert [i["sha256"] for i in prov_a["inputs"]] == [i["sha256"] for i in prov_b["inputs"]]


def _fingerprint(workflow_dir: Path, workdir: Path, *extra: str) -> dict[str, object]:
    snakemake(
        workdir,
        *extra,
        "--cores",
        "1",
        "results/provenance/fingerprint.json",
        "results/provenance/vcf_header.txt",
        snakefile=workflow_dir / "Snakefile",
    )
    data: dict[str, object] = json.loads(
        (workdir / "results/provenance/fingerprint.json").read_text()
    )
    return data


def test_changed_analysis_parameter_changes_the_fingerprint(
    local_run: Run, workflow_copy: Path, tmp_path: Path
) -> None:
    same = _fingerprint(workflow_copy, copy_dot_test(tmp_path / "same"))
    prov = json.loads((local_run.results / "provenance/provenance.json").read_text())
    assert same["fingerprint"] == prov["fingerprint"]  # an identical copy: same fingerprint
    analysis = workflow_copy / "analysis.yaml"
    analysis.write_text(
        analysis.read_text().replace("min_tumour_vaf: 0.02", "min_tumour_vaf: 0.03")
    )
    changed = _fingerprint(workflow_copy, copy_dot_test(tmp_path / "changed"))
    assert changed["fingerprint"] != same["fingerprint"]
    assert changed["parameters"]["somatic"]["min_tumour_vaf"] == 0.03  # type: ignore[index]


# ---- the centre config may not set analysis parameters -------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"somatic": {"min_tumour_vaf": 0.01}}, "config key 'somatic' is an analysis parameter"),
        ({"min_tumour_vaf": 0.01}, "config key 'min_tumour_vaf' is an analysis parameter"),
        ({"bwa_extra": "-k 15"}, "config key 'bwa_extra' is not allowed in a centre config"),
    ],
)
def test_centre_config_refuses_analysis_parameters(
    tmp_path: Path, extra: dict[str, object], message: str
) -> None:
    workdir = copy_dot_test(tmp_path / "w")
    config = write_config(tmp_path / "centre.yaml", {**TEST_CONFIG, **extra})
    proc = snakemake(workdir, "-n", configfile=config, check=False)
    assert proc.returncode != 0
    assert message in proc.stdout
    assert "Allowed keys: " in proc.stdout or "allowed keys: " in proc.stdout


def test_reference_build_must_be_known(tmp_path: Path) -> None:
    workdir = copy_dot_test(tmp_path / "w")
    bad = {**TEST_CONFIG, "reference": {**TEST_CONFIG["reference"], "build": "hg19"}}
    proc = snakemake(workdir, "-n", configfile=write_config(tmp_path / "c.yaml", bad), check=False)
    assert proc.returncode != 0 and "'hg19' is not one of ['GRCh37', 'GRCh38']" in proc.stdout


@pytest.mark.parametrize(
    ("samples", "message"),
    [
        (
            "sample_name\tpatient\ttype\ntiny_T\tTINY01\ttumor\ntiny_N\tTINY01\tnormal\n",
            "'tumor' is not one of ['tumour', 'normal']",
        ),
        (
            "sample_name\tpatient\ttype\ntiny_T\tTINY01\ttumour\ntiny_N\tTINY01\ttumour\n",
            "samples.tsv column type: patient 'TINY01' needs exactly one tumour and one normal",
        ),
        (
            "sample_name\tpatient\ttype\ntiny T\tTINY01\ttumour\ntiny_N\tTINY01\tnormal\n",
            "does not match",
        ),
    ],
)
def test_bad_sample_sheet_is_refused_with_the_column_named(
    tmp_path: Path, samples: str, message: str
) -> None:
    workdir = copy_dot_test(tmp_path / "w")
    (workdir / "config" / "samples.tsv").write_text(samples)
    proc = snakemake(workdir, "-n", check=False)
    assert proc.returncode != 0
    assert message in proc.stdout


# ---- tool versions vs the lock ---------------------------------------------------------


def test_tool_version_mismatch_stops_unless_overridden_then_not_harmonised(
    workflow_copy: Path, tmp_path: Path
) -> None:
    lock = workflow_copy / "tools.lock.yaml"
    lock.write_text(lock.read_text().replace("bwa: 0.7.17-r1188", "bwa: 0.7.99-r9999"))
    workdir = copy_dot_test(tmp_path / "w")
    proc = snakemake(workdir, "-n", snakefile=workflow_copy / "Snakefile", check=False)
    assert proc.returncode != 0
    assert "bwa 0.7.17-r1188 (lock: 0.7.99-r9999)" in proc.stdout
    assert "allow_tool_version_mismatch=true" in proc.stdout
    fp = _fingerprint(workflow_copy, workdir, "--config", "allow_tool_version_mismatch=true")
    assert fp["harmonised"] is False
    assert fp["tool_version_mismatches"] == ["bwa 0.7.17-r1188 (lock: 0.7.99-r9999)"]
    assert (
        "##oncolake_harmonised=false" in (workdir / "results/provenance/vcf_header.txt").read_text()
    )


# ---- annotation: EGFR hotspots on the real EGFR region ------------------------------------

EGFR = SHARED_DATA / "annotation" / "egfr-grch37"


@pytest.mark.skipif(not EGFR.is_dir(), reason=f"{EGFR} absent (shared data not beside the clone)")
def test_annotation_step_names_the_egfr_protein_changes(tmp_path: Path) -> None:
    """Runs the workflow's own reference and annotate_consequences rules on the real
    GRCh37 EGFR region (N-masked chr7) and ClinVar hotspots, as a tumour/normal VCF."""
    workdir = tmp_path / "egfr"
    (workdir / "config").mkdir(parents=True)
    # Two patients: the exon-19 deletion and L858R are mutually exclusive in practice, and
    # csq --phase a treats a patient's unphased calls as one haplotype (an in-frame deletion
    # would renumber the codons after it).
    patients = {"EGFR01": lambda pos: pos != "55242464", "EGFR02": lambda pos: pos == "55242464"}
    (workdir / "config/samples.tsv").write_text(
        "sample_name\tpatient\ttype\n"
        + "".join(f"{p}_T\t{p}\ttumour\n{p}_N\t{p}\tnormal\n" for p in patients)
    )
    (workdir / "config/units.tsv").write_text(
        "sample_name\tunit_name\tplatform\tfq1\tfq2\n"
        + "".join(
            f"{p}_{t}\tL1\tILLUMINA\tnone_1.fq.gz\tnone_2.fq.gz\n" for p in patients for t in "TN"
        )
    )
    write_config(
        workdir / "config/config.yaml",
        {
            "samples": "config/samples.tsv",
            "units": "config/units.tsv",
            "reference": {
                "fasta": str(EGFR / "EGFR_exons.GRCh37.chr7.fa.gz"),
                "gff3": str(EGFR / "EGFR_region.GRCh37.87.gff3"),
                "build": "GRCh37",
            },
        },
    )
    lines = (EGFR / "egfr_hotspots.vcf").read_text().splitlines()
    targets = []
    for patient, keep in patients.items():
        body = [ln for ln in lines if ln.startswith("##")]
        body.append('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">')
        body.append(lines[len(body) - 1] + f"\tFORMAT\t{patient}_T\t{patient}_N")
        body += [
            ln + "\tGT\t0/1\t0/0"
            for ln in lines
            if not ln.startswith("#") and keep(ln.split("\t")[1])
        ]
        plain = workdir / f"{patient}.vcf"
        plain.write_text("\n".join(body) + "\n")
        norm = workdir / f"results/calls/normalised/{patient}.somatic.norm.vcf.gz"
        norm.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["bcftools", "view", "-Oz", "-o", str(norm), str(plain)], check=True)
        targets.append(f"results/annotated/bcftools_csq/{patient}.somatic.annotated.vcf.gz")
    snakemake(
        workdir,
        "--cores",
        "2",
        "--allowed-rules",
        "annotate_consequences",
        "prepare_reference",
        "index_reference_faidx",
        "prepare_annotation",
        "compute_fingerprint",
        "--",
        *targets,
    )
    by_hgvs = {}
    for target in targets:
        for row in query(workdir / target, "%INFO/EXPECT_P\t%INFO/BCSQ\n"):
            hgvs, bcsq = row.split("\t")
            by_hgvs[hgvs] = bcsq.split(",")
    expected = {
        "p.Leu858Arg": "missense|EGFR|ENST00000275493|protein_coding|+|858L>858R|55259515T>G",
        "p.Thr790Met": "missense|EGFR|ENST00000275493|protein_coding|+|790T>790M|55249071C>T",
        "p.Gly719Ser": "missense|EGFR|ENST00000275493|protein_coding|+|719G>719S|55241707G>A",
        "p.Glu746_Ala750del": "inframe_deletion|EGFR|ENST00000275493|protein_coding|+"
        "|745KELREA>745K|55242464AGGAATTAAGAGAAGC>A",
    }
    for hgvs, bcsq in expected.items():
        assert bcsq in by_hgvs[hgvs], (hgvs, by_hgvs[hgvs])
    target = targets[0]
    assert any(
        ln.startswith("##oncolake_pipeline_fingerprint=sha256:") for ln in header(workdir / target)
    )


# ---- the oncolake command ---------------------------------------------------------------


def test_oncolake_pipeline_check_reports_a_harmonised_environment() -> None:
    proc = subprocess.run(
        [
            str(VENV_BIN / "oncolake"),
            "pipeline",
            "check",
            "--config",
            str(DOT_TEST / "config/config.yaml"),
        ],
        capture_output=True,
        text=True,
        env=tool_env(),
        cwd=DOT_TEST,
    )
    assert proc.returncode == 0, proc.stderr
    assert "a run would be harmonised" in proc.stdout
    assert "bwa" in proc.stdout and "0.7.17-r1188" in proc.stdout


def test_oncolake_pipeline_errors_are_one_line(tmp_path: Path) -> None:
    missing = subprocess.run(
        [str(VENV_BIN / "oncolake"), "pipeline", "run", "--config", str(tmp_path / "nope.yaml")],
        capture_output=True,
        text=True,
        env=tool_env(),
    )
    assert missing.returncode == 1
    assert missing.stderr.strip().startswith("error: centre config")
    assert len(missing.stderr.strip().splitlines()) == 1
    bad = write_config(tmp_path / "bad.yaml", {**TEST_CONFIG, "somatic": {"min_tumour_lod": 0.5}})
    workdir = copy_dot_test(tmp_path / "w")
    refused = subprocess.run(
        [str(VENV_BIN / "oncolake"), "pipeline", "check", "--config", str(bad)],
        capture_output=True,
        text=True,
        env=tool_env(),
        cwd=workdir,
    )
    assert refused.returncode == 1
    assert "config key 'somatic' is an analysis parameter" in refused.stderr
    assert refused.stderr.count("\n") <= 2


def test_oncolake_pipeline_run_resolves_paths_beside_the_config_for_another_directory(
    tmp_path: Path,
) -> None:
    """Issue 25: a centre config whose sheet paths are relative to the config file, run
    with another --directory and a relative --config path: no traceback, a dry run."""
    centre = tmp_path / "centre"
    shutil.copytree(DOT_TEST / "data", centre / "data")
    units = (DOT_TEST / "config" / "units.tsv").read_text()
    (centre / "units.tsv").write_text(units.replace("data/reads/", f"{centre / 'data/reads'}/"))
    shutil.copy(DOT_TEST / "config" / "samples.tsv", centre / "samples.tsv")
    config = {**TEST_CONFIG, "samples": "samples.tsv", "units": "units.tsv"}
    write_config(centre / "centre.yaml", config)
    cmd = [str(VENV_BIN / "oncolake"), "pipeline", "run", "--config", "centre/centre.yaml"]
    proc = subprocess.run(
        [*cmd, "--directory", "run", "--dry-run"],
        capture_output=True,
        text=True,
        env=tool_env(),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    resolved = yaml.safe_load((tmp_path / "run/.oncolake/centre.resolved.yaml").read_text())
    assert resolved["samples"] == str(centre / "samples.tsv")
    assert resolved["reference"]["fasta"] == str(centre / "data/reference/genome.fa.gz")
    # A path found in neither place: one line naming the key and both places.
    write_config(centre / "centre.yaml", {**config, "units": "nowhere.tsv"})
    bad = subprocess.run(
        [*cmd, "--directory", "run", "--dry-run"],
        capture_output=True,
        text=True,
        env=tool_env(),
        cwd=tmp_path,
    )
    assert bad.returncode == 1
    (line,) = bad.stderr.strip().splitlines()
    assert "units (unit sheet) 'nowhere.tsv' is neither in the working directory run" in line


# ---- SLURM ----------------------------------------------------------------------------


@pytest.mark.slurm
def test_slurm_profile_runs_the_test_workflow_on_a_real_cluster(
    slurm_cluster: SlurmCluster, local_run: Run, tmp_path: Path
) -> None:
    workdir = copy_dot_test(tmp_path / "slurm_run")
    cmd = [
        str(VENV_BIN / "snakemake"),
        "--snakefile",
        str(WORKFLOW / "workflow/Snakefile"),
        "--directory",
        str(workdir),
        "--profile",
        str(WORKFLOW / "profiles/slurm"),
        "--jobs",
        "4",
        # one thread and one core per cluster job, so the 2-CPU test node runs two jobs
        # at a time (the per-sample group would otherwise ask for 2 CPUs: its stats and
        # coverage steps can run side by side). The results do not depend on threads:
        # that is part of what this test shows.
        "--config",
        "threads=1",
        "--cores",
        "1",
        # The executor polls squeue after 1 s, then backs off by +10 s per poll that
        # finds no finished job and returns to 1 s when one finishes: with cluster jobs
        # of a few seconds each DAG level then costs about 12 s.
        "--slurm-init-seconds-before-status-checks",
        "1",
        "--seconds-between-status-checks",
        "1",
        "--default-resources",
        "slurm_partition=main",
        "mem_mb=1000",
        "runtime=30",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=slurm_cluster.env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    log = proc.stdout + proc.stderr
    job_ids = set(re.findall(r"SLURM jobid (\d+)", log, flags=re.IGNORECASE))
    assert len(job_ids) >= 5, log[-3000:]
    ctld = slurm_cluster.ctld_log.read_text()
    assert all(f"JobId={jid}" in ctld for jid in job_ids)
    for kind in ("somatic", "germline"):
        assert vcf_records(Run(workdir).vcf(kind=kind)) == vcf_records(local_run.vcf(kind=kind))
    prov = json.loads((workdir / "results/provenance/provenance.json").read_text())
    local = json.loads((local_run.results / "provenance/provenance.json").read_text())
    assert prov["fingerprint"] == local["fingerprint"]
