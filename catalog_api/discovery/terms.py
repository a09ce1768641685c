"""What can be asked: every criterion type with its fields and the codes the lake holds.

No counts are listed (a term's presence says only that at least one patient has it, the
same as a Beacon boolean answer; counts go through the disclosure control).
"""

from __future__ import annotations

from typing import Any

from catalog_api.discovery.engine import INTERPRETATIONS
from catalog_api.discovery.index import LakeIndex
from consent import oncotree
from harmonise.model import CONSEQUENCES, VARIANT_CLASSES


def _label(code: str) -> str:
    return oncotree.label(code) if oncotree.is_code(code) else code


def filtering_terms(idx: LakeIndex) -> dict[str, Any]:
    """The filtering terms of the index's lake version (see the module doc)."""
    tumours = [str(c) for c in idx.values("tumour")]
    tissues = sorted({oncotree.tissue(c) for c in tumours if oncotree.is_code(c)})
    tissue_codes = sorted(
        {
            c
            for c in (
                oncotree.ancestors(t)[-1] if oncotree.ancestors(t) else t
                for t in tumours
                if oncotree.is_code(t)
            )
            if oncotree.is_code(c)
        }
        - {oncotree.ROOT}
    )
    genes = sorted(set(idx.gene_atoms) | set(idx.panel_gene) - {""})
    return {
        "lake_version": idx.version_id,
        "criteria": [
            {
                "type": "tumour_type",
                "fields": ["codes", "descendants"],
                "terms": [{"code": c, "label": _label(c)} for c in tumours],
                "note": "any OncoTree code of release "
                + oncotree.ONCOTREE_RELEASE
                + " may be asked (with its descendants); tissues in the lake: "
                + ", ".join(tissues),
                "tissues": [{"code": c, "label": _label(c)} for c in tissue_codes],
            },
            {
                "type": "variant",
                "fields": ["gene", "protein_change", "consequence", "variant_class", "origin"],
                "genes": genes,
                "consequences": sorted(CONSEQUENCES),
                "variant_classes": sorted(VARIANT_CLASSES),
                "origins": ["somatic", "germline"],
                "protein_change_forms": [
                    "V600E",
                    "p.V600E",
                    "p.Val600Glu",
                    "BRAF p.V600E",
                    "V600* (any change at residue 600)",
                    "E1250Ter (stop gain)",
                ],
            },
            {
                "type": "biomarker",
                "fields": ["marker", "interpretation", "min", "max"],
                "markers": [str(m) for m in idx.values("marker")],
                "interpretations": sorted(INTERPRETATIONS),
                "numeric_markers": sorted(idx.biomarker_values),
            },
            {
                "type": "stage_group",
                "fields": ["values"],
                "terms": [str(s) for s in idx.values("stage")],
            },
            {
                "type": "treatment",
                "fields": ["drug", "line_of_therapy"],
                "drugs": [str(d) for d in idx.values("drug")],
                "lines_of_therapy": [int(x) for x in idx.values("line")],
            },
            {"type": "age_at_diagnosis", "fields": ["min", "max"], "unit": "years"},
            {"type": "sex", "fields": ["values"], "terms": ["female", "male", "other", "unknown"]},
            {"type": "centre", "fields": ["values"], "terms": list(sorted(idx.centres))},
            {
                "type": "dataset",
                "fields": ["values"],
                "terms": [str(d) for d in idx.values("dataset")],
            },
            {
                "type": "assay",
                "fields": ["assay_type", "assay_name"],
                "assay_types": [str(x) for x in idx.values("assay_type")],
                "assay_names": [str(x) for x in idx.values("assay_name")],
            },
            {
                "type": "pipeline",
                "fields": ["fingerprints", "harmonised"],
                "fingerprints": [str(x) for x in idx.values("fingerprint")],
            },
            {"type": "vital_status", "fields": ["value"], "terms": ["alive", "deceased"]},
            {"type": "and", "fields": ["criteria"]},
            {"type": "or", "fields": ["criteria"]},
            {"type": "not", "fields": ["criterion"]},
        ],
    }
