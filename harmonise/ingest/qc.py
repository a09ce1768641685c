"""The row stage of the pipeline's QC (issue 21): the bundle's
``provenance/provenance.json`` ``qc`` → ``specimen_qc`` (one row per sequenced specimen)
and ``gene_coverage`` (one row per specimen and gene).

``oncolake submit`` names each QC pair's specimens by their pseudonyms
(:func:`harmonise.bundle.qc_with_specimens`); every pair is linked to the manifest's
samples (the tumour, its matched normal) before the commit starts, and a pair that names
a specimen the manifest does not hold, or the wrong normal, is refused naming the pair.
A bundle without provenance, or whose provenance has no QC (or pairs without specimen
names: bundles made before this stage existed), adds no rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from harmonise.bundle import read_json_object
from harmonise.errors import BundleError, SampleLinkError
from harmonise.ingest.manifest import PROVENANCE
from harmonise.ingest.tables import rows_to_table
from harmonise.ingest.types import Checked, IngestReport, StageRows

#: The depths whose covered share ``gene_coverage`` has a column for.
GENE_DEPTHS = (20, 50, 100)


def _sample_row(sample: Any, role: str) -> dict[str, Any]:
    return {
        "role": role,
        "reads": sample.reads,
        "duplication_rate": sample.duplication_rate,
        "mapped_rate": sample.mapped_rate,
        "insert_size_mean": sample.insert_size_mean,
        "insert_size_sd": sample.insert_size_sd,
        "mean_coverage": sample.mean_coverage,
    }


def qc_rows(
    qc: Any, samples: Mapping[str, Any], fingerprint: str | None, where: str = PROVENANCE
) -> dict[str, list[dict[str, Any]]]:
    """The ``specimen_qc`` and ``gene_coverage`` rows of a provenance ``qc``
    (:class:`metadata.provenance.QcSummary`), linked to the manifest's ``samples`` (by
    specimen id)."""
    out: dict[str, list[dict[str, Any]]] = {"specimen_qc": [], "gene_coverage": []}
    for k, pair in enumerate(qc.pairs):
        if pair.tumour_specimen_id is None:
            continue
        tumour = samples.get(pair.tumour_specimen_id)
        if tumour is None or tumour.role != "tumour":
            raise SampleLinkError(
                f"{where}: qc.pairs[{k}].tumour_specimen_id {pair.tumour_specimen_id!r} is "
                "not a tumour sample of the manifest; submit the QC with the manifest of the "
                "same run"
            )
        if pair.normal_specimen_id is not None and pair.normal_specimen_id != (
            tumour.matched_normal
        ):
            raise SampleLinkError(
                f"{where}: qc.pairs[{k}].normal_specimen_id {pair.normal_specimen_id!r} is "
                f"not the matched normal of tumour {tumour.specimen_id} in the manifest "
                f"({tumour.matched_normal!r})"
            )
        identity = pair.identity
        contamination = pair.contamination
        shared = {
            "patient_id": tumour.patient_id,
            "identity_status": identity.status if identity else None,
            "identity_discordance": identity.discordance if identity else None,
            "identity_sites": identity.compared_sites if identity else None,
            "tumour_in_normal": contamination.tumour_in_normal if contamination else None,
            "pipeline_fingerprint": fingerprint,
        }
        ids = [("tumour", pair.tumour, tumour.specimen_id, pair.normal_specimen_id)]
        if pair.normal_specimen_id is not None:
            ids.append(("normal", pair.normal, pair.normal_specimen_id, tumour.specimen_id))
        for role, sample, sid, other in ids:
            out["specimen_qc"].append(
                {
                    **shared,
                    **_sample_row(sample, role),
                    "specimen_id": sid,
                    "paired_specimen_id": other,
                }
            )
            for gene in sample.genes:
                out["gene_coverage"].append(
                    {
                        "patient_id": tumour.patient_id,
                        "specimen_id": sid,
                        "role": role,
                        "gene": gene.gene,
                        "bp": gene.bp,
                        "mean_depth": gene.mean_depth,
                        **{
                            f"fraction_{d}x": gene.fraction_at_depth.get(str(d))
                            for d in GENE_DEPTHS
                        },
                        "pipeline_fingerprint": fingerprint,
                    }
                )
    return out


def read_qc_stage(checked: Checked, report: IngestReport) -> StageRows:
    """The row stage (see the module doc)."""
    from metadata.errors import ProvenanceError
    from metadata.provenance import parse_provenance

    manifest = checked.manifest
    if PROVENANCE not in [f.path for f in manifest.files]:
        return StageRows({})
    where = f"{checked.bundle / PROVENANCE}"
    data = read_json_object(checked.bundle / PROVENANCE, "provenance.json")
    if data.get("qc") is None:
        # no QC section: nothing for this stage (the rest of ingest reads the provenance
        # it needs leniently; a bundle's provenance is validated whole only when it
        # carries QC to be stored)
        return StageRows({})
    try:
        prov = parse_provenance(data, where)
    except ProvenanceError as exc:
        raise BundleError(str(exc)) from None
    if prov.qc is None:
        return StageRows({})
    samples = {s.specimen_id: s for s in manifest.samples}
    fingerprint = manifest.pipeline.fingerprint if manifest.pipeline else None
    rows = qc_rows(prov.qc, samples, fingerprint, where)
    tables: dict[str, pa.Table] = {
        name: rows_to_table(name, lst) for name, lst in rows.items() if lst
    }
    specimens = {r["specimen_id"]: {"analyses": ["qc"]} for r in rows["specimen_qc"]}
    return StageRows(tables, specimens=specimens)
