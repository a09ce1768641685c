"""Write results/provenance/provenance.json: what ran, with which tools, on what inputs."""


import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml


def rel(path: str) -> str:
    """The path relative to the working directory when it lies inside it."""
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return os.path.normpath(path)


def main(snakemake: Any) -> None:
    sys.path.insert(0, snakemake.scriptdir)
    import oncolake_dna_seq as dna

    fp = json.loads(Path(snakemake.input.fingerprint).read_text())
    versions = yaml.safe_load(Path(snakemake.input.versions).read_text())
    fasta, gff3 = snakemake.input.fasta, snakemake.input.gff3
    doc = {
        "pipeline_id": fp["pipeline_id"],
        "pipeline_version": fp["pipeline_version"],
        "fingerprint": fp["fingerprint"],
        "harmonised": fp["harmonised"],
        "tool_version_mismatches": fp["tool_version_mismatches"],
        "tool_versions": versions["tool_versions"],
        "steps": versions["steps"],
        "reference": {
            "path": rel(fasta),
            "sha256": dna.sha256_file(fasta),
            **fp["reference"],
        },
        "gff3": {"path": rel(gff3), "sha256": dna.sha256_file(gff3)},
        "parameters": fp["parameters"],
        "fingerprint_parts": fp["fingerprint_parts"],
        "inputs": [
            {"path": rel(p), "sha256": dna.sha256_file(p)} for p in snakemake.input.fastqs
        ],
        "samples": list(snakemake.params.samples),
        "outputs": [
            {"path": rel(p), "sha256": dna.sha256_file(p)} for p in snakemake.input.vcfs
        ],
    }
    Path(snakemake.output[0]).write_text(json.dumps(doc, indent=2) + "\n")
    with open(snakemake.log[0], "w") as log:
        log.write(f"{len(doc['inputs'])} inputs, {len(doc['samples'])} patients\n")


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined]  # noqa: F821
