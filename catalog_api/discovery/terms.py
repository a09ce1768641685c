"""What can be asked: every criterion type with its fields and the codes the lake holds.

No counts are listed (a term's presence says only that at least one patient has it, the
same as a Beacon boolean answer; counts go through the disclosure control).
"""

from __future__ import annotations

import re
from typing import Any, get_args

from catalog_api.discovery.definition import CopyNumberCall, SvType
from catalog_api.discovery.engine import INTERPRETATIONS
from catalog_api.discovery.index import SEP, LakeIndex
from consent import oncotree
from harmonise.model import CONSEQUENCES, STAGE_SNOMED, VARIANT_CLASSES


def _label(code: str) -> str:
    return oncotree.label(code) if oncotree.is_code(code) else code


_TNM_GROUP = re.compile(r"(0|0A|0IS|IS|I|II|III|IV)([A-D][0-9]?)?")


def stage_label(value: str) -> str:
    """``IIIA`` → ``Stage IIIA``; a SNOMED CT stage concept → ``Stage III (SNOMED CT …)``;
    anything else as it is."""
    v = str(value).strip()
    if v in STAGE_SNOMED:
        return f"Stage {STAGE_SNOMED[v]} (SNOMED CT {v})"
    if _TNM_GROUP.fullmatch(v.upper()):
        return f"Stage {v}"
    return v


#: Plain words for each Sequence Ontology consequence term (what the change does).
CONSEQUENCE_WORDS: dict[str, str] = {
    "transcript_ablation": "the whole transcript is deleted",
    "transcript_amplification": "the whole transcript is amplified",
    "splice_acceptor_variant": "changes the splice acceptor site (intron end)",
    "splice_donor_variant": "changes the splice donor site (intron start)",
    "stop_gained": "creates a premature stop codon (nonsense)",
    "frameshift_variant": "shifts the reading frame",
    "stop_lost": "removes the stop codon",
    "start_lost": "removes the start codon",
    "inframe_insertion": "inserts amino acids, in frame",
    "inframe_deletion": "deletes amino acids, in frame",
    "missense_variant": "changes one amino acid",
    "protein_altering_variant": "alters the protein (other in-frame change)",
    "splice_region_variant": "near a splice site",
    "incomplete_terminal_codon_variant": "in the incomplete last codon",
    "start_retained_variant": "changes the start codon, which is kept",
    "stop_retained_variant": "changes the stop codon, which is kept",
    "synonymous_variant": "no amino acid change",
    "coding_sequence_variant": "in the coding sequence (effect unknown)",
    "5_prime_UTR_variant": "in the 5′ untranslated region",
    "3_prime_UTR_variant": "in the 3′ untranslated region",
    "non_coding_transcript_exon_variant": "in an exon of a non-coding transcript",
    "intron_variant": "in an intron",
    "non_coding_transcript_variant": "in a non-coding transcript",
    "upstream_gene_variant": "upstream of a gene",
    "downstream_gene_variant": "downstream of a gene",
    "intergenic_variant": "between genes",
    "regulatory_region_variant": "in a regulatory region",
    "feature_elongation": "lengthens the feature (e.g. the protein)",
}


def consequence_label(term: str) -> str:
    """``missense_variant`` → ``missense variant (changes one amino acid)``."""
    words = term.replace("_", " ").replace("5 prime", "5′").replace("3 prime", "3′")
    plain = CONSEQUENCE_WORDS.get(term)
    return f"{words} ({plain})" if plain else words


#: Plain words for each small-variant class (``harmonise.model.VARIANT_CLASSES``).
VARIANT_CLASS_WORDS: dict[str, str] = {
    "SNV": "SNV: single-nucleotide variant",
    "MNV": "MNV: several adjacent nucleotides changed",
    "insertion": "insertion: bases added",
    "deletion": "deletion: bases removed",
    "indel": "indel: bases removed and others added",
}


def variant_class_label(value: str) -> str:
    """``SNV`` → ``SNV: single-nucleotide variant``."""
    return VARIANT_CLASS_WORDS.get(value, value)


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
                "consequence_labels": {c: consequence_label(c) for c in sorted(CONSEQUENCES)},
                "variant_classes": sorted(VARIANT_CLASSES),
                "variant_class_labels": {v: variant_class_label(v) for v in VARIANT_CLASSES},
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
                "type": "fusion",
                "fields": ["gene", "partner"],
                "forms": ["NTRK1 (any partner)", "ETV6::NTRK3 (5' then 3')", "gene + partner"],
                "genes": [str(g) for g in idx.values("fusion_gene")],
                "fusions": [str(x) for x in idx.values("fusion")],
            },
            {
                "type": "structural_variant",
                "fields": ["gene", "sv_types"],
                "sv_types": list(get_args(SvType)),
                "genes": [str(g) for g in idx.values("sv_gene")],
                "note": "somatic structural variants called by the pipeline (FILTER PASS or "
                "none) with a breakpoint in the gene",
            },
            {
                "type": "copy_number",
                "fields": ["gene", "calls"],
                "calls": list(get_args(CopyNumberCall)),
                "genes": sorted({str(k).split(SEP)[0] for k in idx.values("cn")}),
            },
            {
                "type": "tmb",
                "fields": ["min", "max"],
                "unit": "mutations per megabase (FHIR-reported and pipeline results)",
                "present": "TMB" in idx.biomarker_values,
            },
            {
                "type": "msi",
                "fields": ["status"],
                "terms": ["MSI-H", "MSI-L", "MSS"],
                "present": [str(x) for x in idx.values("msi")],
            },
            {
                "type": "stage_group",
                "fields": ["values"],
                "terms": [str(s) for s in idx.values("stage")],
                "labels": {str(s): stage_label(str(s)) for s in idx.values("stage")},
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
