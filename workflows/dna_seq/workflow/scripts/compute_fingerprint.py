"""Compute the pipeline fingerprint = digest of (workflow code, tool versions, reference
sequence checksum, GFF3 checksum, analysis parameters) and the VCF header lines."""


import json
import sys
from pathlib import Path
from typing import Any


def contig_naming(contigs: list[str]) -> str:
    """``ucsc`` when the contigs carry the ``chr`` prefix, else ``ensembl``."""
    return "ucsc" if any(c.startswith("chr") for c in contigs) else "ensembl"


def main(snakemake: Any) -> None:
    sys.path.insert(0, snakemake.scriptdir)
    import oncolake_dna_seq as dna

    analysis = snakemake.params.analysis
    tools = dict(snakemake.params.tool_versions)
    ref_digest, contigs = dna.reference_digest(snakemake.input.ref)
    gff_sha = dna.sha256_file(snakemake.input.gff)
    code = snakemake.params.code_digest
    fp = dna.fingerprint(
        code_digest=code,
        tool_versions=tools,
        reference_sha256=ref_digest,
        annotation_sha256=gff_sha,
        parameters=analysis["parameters"],
    )
    names = [name for name, _ in contigs]
    doc = {
        "pipeline_id": analysis["pipeline_id"],
        "pipeline_version": str(analysis["pipeline_version"]),
        "fingerprint": fp,
        "harmonised": bool(snakemake.params.harmonised),
        "tool_version_mismatches": list(snakemake.params.mismatches),
        "fingerprint_parts": {
            "workflow_code_sha256": code,
            "reference_sequence_sha256": ref_digest,
            "gff3_sha256": gff_sha,
        },
        "tool_versions": tools,
        "parameters": analysis["parameters"],
        "reference": {
            "build": snakemake.params.build,
            "contig_naming": contig_naming(names),
            "contigs": names,
            "sequence_sha256": ref_digest,
        },
    }
    Path(snakemake.output.json).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    lines = [
        f"##oncolake_pipeline_id={doc['pipeline_id']}",
        f"##oncolake_pipeline_version={doc['pipeline_version']}",
        f"##oncolake_pipeline_fingerprint={fp}",
        f"##oncolake_harmonised={'true' if doc['harmonised'] else 'false'}",
        f"##oncolake_reference_build={snakemake.params.build}",
        "##oncolake_tool_versions="
        + ",".join(f"{tool}:{version}" for tool, version in sorted(tools.items())),
    ]
    Path(snakemake.output.header).write_text("\n".join(lines) + "\n")
    with open(snakemake.log[0], "w") as log:
        log.write(f"{fp}\n")


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined]  # noqa: F821
