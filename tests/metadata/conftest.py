"""Fixtures of the metadata tests: the example manifests under ``tests/metadata/data``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def valid_manifest() -> dict[str, Any]:
    """The valid somatic panel manifest, parsed (a fresh copy per test)."""
    data: dict[str, Any] = json.loads((DATA / "valid_somatic_panel.json").read_text())
    return data


@pytest.fixture
def provenance() -> dict[str, Any]:
    """A provenance.json as workflows/dna_seq writes it."""
    return {
        "pipeline_id": "oncolake/dna_seq",
        "pipeline_version": "1.2.0",
        "fingerprint": "sha256:" + "ab" * 32,
        "harmonised": True,
        "tool_versions": {"bwa": "0.7.18", "samtools": "1.21"},
        "reference": {
            "build": "GRCh38",
            "contig_naming": "ucsc",
            "contigs": ["chr1", "chr2"],
            "sha256": "cd" * 32,
        },
        "parameters": {"min_depth": 10},
        "samples": [{"patient": "P1", "tumour": "T1", "normal": "N1", "vcf": "vcf/T1.vcf.gz"}],
    }
