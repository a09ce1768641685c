"""Filling the manifest's pipeline and reference fields from a pipeline's provenance.json."""

from __future__ import annotations

from typing import Any

import pytest

from metadata.errors import ProvenanceError
from metadata.manifest import validate_manifest
from metadata.provenance import (
    apply_provenance,
    manifest_fields_from_provenance,
    parse_provenance,
)


def test_fields_from_provenance(provenance: dict[str, Any]) -> None:
    fields = manifest_fields_from_provenance(provenance)
    assert fields == {
        "pipeline": {
            "id": "oncolake/dna_seq",
            "version": "1.2.0",
            "fingerprint": "sha256:" + "ab" * 32,
            "harmonised": True,
            "tool_versions": {"bwa": "0.7.18", "samtools": "1.21"},
        },
        "reference": {"build": "GRCh38", "contig_naming": "ucsc", "sha256": "cd" * 32},
    }


def test_apply_provenance_fills_a_manifest_that_lacks_them(
    valid_manifest: dict[str, Any], provenance: dict[str, Any]
) -> None:
    del valid_manifest["pipeline"]
    del valid_manifest["reference"]
    filled = apply_provenance(valid_manifest, provenance)
    m = validate_manifest(filled)
    assert m.pipeline is not None and m.pipeline.version == "1.2.0"
    assert m.reference is not None and m.reference.sha256 == "cd" * 32
    assert "pipeline" not in valid_manifest  # the input is not modified


def test_apply_provenance_refuses_a_different_build(
    valid_manifest: dict[str, Any], provenance: dict[str, Any]
) -> None:
    valid_manifest["reference"]["build"] = "GRCh37"
    with pytest.raises(ProvenanceError) as info:
        apply_provenance(valid_manifest, provenance, "run/provenance.json")
    assert str(info.value) == (
        "run/provenance.json: reference.build is 'GRCh38' but the manifest says 'GRCh37'; "
        "submit the results with the manifest of the same run"
    )


def test_bad_provenance_names_every_field(provenance: dict[str, Any]) -> None:
    provenance["fingerprint"] = "abc"
    del provenance["harmonised"]
    with pytest.raises(ProvenanceError) as info:
        manifest_fields_from_provenance(provenance, "p.json")
    msg = str(info.value)
    assert msg.startswith("p.json: fingerprint: must be 'sha256:' followed by 64")
    assert "harmonised: required field is missing" in msg


QC = {
    "report": {"path": "results/qc/multiqc/multiqc_report.html", "sha256": "ef" * 32},
    "pairs": [
        {
            "tumour": {"duplication_rate": 0.03, "mapped_rate": 0.99, "mean_coverage": 151.2},
            "normal": {"duplication_rate": 0.02, "mapped_rate": 0.99, "mean_coverage": 49.8},
            "identity": {
                "status": "match",
                "discordant_sites": 0,
                "compared_sites": 58,
                "discordance": 0.0,
                "max_discordance": 0.3,
            },
        }
    ],
}


def test_provenance_with_qc_adds_the_qc_data_type(
    valid_manifest: dict[str, Any], provenance: dict[str, Any]
) -> None:
    del valid_manifest["pipeline"]
    del valid_manifest["reference"]
    assert "qc" not in valid_manifest["data_types"]
    without = apply_provenance(valid_manifest, provenance)
    assert "qc" not in without["data_types"]
    provenance["qc"] = QC
    filled = apply_provenance(valid_manifest, provenance)
    assert filled["data_types"] == [*valid_manifest["data_types"], "qc"]
    assert validate_manifest(filled).data_types[-1] == "qc"
    parsed = parse_provenance(provenance)
    assert parsed.qc is not None and parsed.qc.pairs[0].tumour.mean_coverage == 151.2
    assert parsed.qc.pairs[0].identity is not None
    assert parsed.qc.pairs[0].identity.status == "match"


def test_bad_qc_summary_is_named(provenance: dict[str, Any]) -> None:
    provenance["qc"] = {
        **QC,
        "pairs": [{**QC["pairs"][0], "identity": {**QC["pairs"][0]["identity"], "status": "ok"}}],
    }
    provenance["qc"]["pairs"][0]["tumour"] = {"duplication_rate": 1.5}
    with pytest.raises(ProvenanceError) as info:
        parse_provenance(provenance, "p.json")
    msg = str(info.value)
    assert "qc.pairs[0].identity.status:" in msg and "got 'ok'" in msg
    assert "qc.pairs[0].tumour.duplication_rate: input should be less than or equal to 1" in msg
