"""Beacon v2 (framework + default model): request translation and response builders.

Beacon filters are translated into a :class:`CohortDefinition` (filters combine with AND,
as Beacon v2 defines); counts come from the same engine, consent filtering and disclosure
control as ``/api/v1/cohorts/count``:

* ``count`` granularity: ``numTotalResults`` is the rounded count; a count below the
  threshold is answered ``exists: false, numTotalResults: 0`` (a Beacon count must be an
  integer, and "<5" must not be told apart from 0);
* ``boolean``: ``exists`` is true only at or above the threshold;
* ``record``: answered at ``count`` granularity (record level needs an approved access
  request) — ``returnedGranularity`` says so;
* entry types individuals, biosamples and g_variants all count *individuals* (consent and
  disclosure are per patient);
* the research purpose is ``requestParameters.purpose`` (the consent/ purpose model, or a
  DUO code / shorthand); without one the most restrictive purpose is assumed (general
  research, commercial, by a for-profit organisation), so only unrestricted consents count.

Filters understood (ids): ``oncotree:<CODE>`` (ontology; descendants unless
``includeDescendantTerms`` is false), ``NCIT:C16576``/``NCIT:C20197`` (female/male),
``gene:<SYMBOL>``, ``variant:<GENE>:<CHANGE>``, ``<MARKER>:<interpretation>`` (e.g.
``HER2:positive``, ``MSI:high``), alphanumeric ``age_at_diagnosis``, ``TMB`` (numeric
operators), ``stage_group``, ``drug``, ``centre``, ``dataset``, ``sex``, ``origin``,
``consequence``, ``variant_class``, ``assay_type``, ``pipeline_fingerprint``,
``vital_status`` (``=``).

g_variant request parameters: ``geneId``, ``aminoacidChange`` and ``variantType``. A
``variantType`` of a structural variant or a copy-number change (``DEL``, ``DUP``, ``INV``,
``INS``, ``BND``/``TRA``, ``CNV`` and the EFO copy-number terms,
:data:`STRUCTURAL_VARIANT_TYPES`) with a ``geneId`` asks for the pipeline's somatic
structural variants with a breakpoint in the gene and/or its gene copy-number calls
(``DEL``: a deletion in the gene or a loss / deep deletion of it); the small-variant
classes (``SNV``, ``deletion`` …) ask for variants of that class.
"""

from __future__ import annotations

import re
from typing import Any

from catalog_api.discovery.definition import CohortDefinition, parse_definition
from catalog_api.discovery.errors import DefinitionError, PurposeRequiredError
from catalog_api.discovery.index import LakeIndex
from consent import duo, oncotree
from consent.errors import ConsentError
from consent.purpose import PRIMARY_DUO, ResearchPurpose, parse_purpose

BEACON_ID = "org.oncolake.beacon"
API_VERSION = "v2.0.0"
ENTRY_TYPES: dict[str, dict[str, str]] = {
    "individual": {
        "path": "individuals",
        "name": "Individual",
        "ontology": "NCIT:C25190",
        "label": "Person",
    },
    "biosample": {
        "path": "biosamples",
        "name": "Biosample",
        "ontology": "NCIT:C70699",
        "label": "Biospecimen",
    },
    "genomicVariation": {
        "path": "g_variants",
        "name": "Genomic Variants",
        "ontology": "ENSGLOSSARY:0000092",
        "label": "SNP",
    },
    "cohort": {"path": "cohorts", "name": "Cohort", "ontology": "NCIT:C61512", "label": "Cohort"},
    "dataset": {
        "path": "datasets",
        "name": "Dataset",
        "ontology": "NCIT:C47824",
        "label": "Data set",
    },
}
PATH_TO_ENTRY = {v["path"]: k for k, v in ENTRY_TYPES.items()}
SCHEMA_URL = (
    "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/models/json/"
    "beacon-v2-default-model/{}/defaultSchema.json"
)
MODEL_DIR = {
    "individual": "individuals",
    "biosample": "biosamples",
    "genomicVariation": "genomicVariations",
    "cohort": "cohorts",
    "dataset": "datasets",
}
#: The most restrictive purpose, assumed when a Beacon request states none.
DEFAULT_PURPOSE = ResearchPurpose(primary="general", commercial=True, for_profit=True)
SEX_TERMS = {"NCIT:C16576": "female", "NCIT:C20197": "male"}
MARKER_RE = re.compile(r"^([A-Za-z0-9-]+):([a-z]+)$")


def schema_ref(entry: str) -> dict[str, str]:
    """``{"entityType", "schema"}`` of an entry type's default schema."""
    return {"entityType": entry, "schema": f"beacon-{entry}-v2.0.0"}


def info_meta(entry: str = "info") -> dict[str, Any]:
    """Meta of an informational response."""
    return {
        "beaconId": BEACON_ID,
        "apiVersion": API_VERSION,
        "returnedSchemas": [{"entityType": entry, "schema": f"beacon-{entry}-v2.0.0"}],
    }


def info_results(base_url: str) -> dict[str, Any]:
    """The ``/info`` response body."""
    return {
        "id": BEACON_ID,
        "name": "oncolake Beacon",
        "apiVersion": API_VERSION,
        "environment": "prod",
        "version": "1",
        "description": "Consent-aware, disclosure-controlled counts of a network of cancer "
        "centres (counts below the threshold are not disclosed; others rounded).",
        "organization": {"id": "oncolake", "name": "oncolake network"},
        "welcomeUrl": base_url,
    }


def service_info(base_url: str) -> dict[str, Any]:
    """GA4GH service-info 1.0 of the beacon."""
    return {
        "id": BEACON_ID,
        "name": "oncolake Beacon",
        "type": {"group": "org.ga4gh", "artifact": "beacon", "version": API_VERSION},
        "organization": {"name": "oncolake network", "url": base_url},
        "version": "1",
        "environment": "prod",
        "description": "Beacon v2 over the oncolake catalogue.",
    }


def configuration() -> dict[str, Any]:
    """The beacon configuration (maturity, security, entry types)."""
    return {
        "$schema": "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/framework/"
        "json/configuration/beaconConfigurationSchema.json",
        "maturityAttributes": {"productionStatus": "PROD"},
        "securityAttributes": {
            "defaultGranularity": "count",
            "securityLevels": ["REGISTERED", "CONTROLLED"],
        },
        "entryTypes": entry_types()["entryTypes"],
    }


def entry_types() -> dict[str, Any]:
    """Every entry type's definition."""
    out = {}
    for key, e in ENTRY_TYPES.items():
        out[key] = {
            "id": key,
            "name": e["name"],
            "partOfSpecification": "Beacon v2.0.0",
            "ontologyTermForThisType": {"id": e["ontology"], "label": e["label"]},
            "defaultSchema": {
                "id": f"beacon-{key}-v2.0.0",
                "name": f"Default {e['name']}",
                "referenceToSchemaDefinition": SCHEMA_URL.format(MODEL_DIR[key]),
                "schemaVersion": "v2.0.0",
            },
            "nonFilteredQueriesAllowed": True,
        }
    return {"entryTypes": out}


def beacon_map(root: str) -> dict[str, Any]:
    """The beacon map: one endpoint set per entry type."""
    return {
        "$schema": "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/framework/"
        "json/configuration/beaconMapSchema.json",
        "endpointSets": {
            key: {
                "entryType": key,
                "rootUrl": f"{root}/{e['path']}",
                "openAPIEndpointsDefinition": f"{root.split('/api/')[0]}/openapi.json",
            }
            for key, e in ENTRY_TYPES.items()
        },
    }


def filtering_terms(idx: LakeIndex) -> dict[str, Any]:
    """Beacon filtering terms of the lake (ontology, custom and alphanumeric)."""
    scopes = ["individual", "biosample", "genomicVariation"]
    terms: list[dict[str, Any]] = []
    for code in idx.values("tumour"):
        c = str(code)
        terms.append(
            {
                "type": "OncoTree",
                "id": f"oncotree:{c}",
                "label": oncotree.label(c) if oncotree.is_code(c) else c,
                "scopes": scopes,
            }
        )
    for curie, sex in SEX_TERMS.items():
        terms.append({"type": "NCIt", "id": curie, "label": sex, "scopes": scopes})
    for gene in sorted(g for g in idx.gene_atoms if g):
        terms.append(
            {"type": "custom", "id": f"gene:{gene}", "label": f"{gene} variant", "scopes": scopes}
        )
    for m in idx.values("marker_interp"):
        marker, interp = str(m).split("\x1f")
        if interp:
            terms.append(
                {
                    "type": "custom",
                    "id": f"{marker}:{interp}",
                    "label": f"{marker} {interp}",
                    "scopes": scopes,
                }
            )
    alnum = {
        "age_at_diagnosis": None,
        "stage_group": [str(s) for s in idx.values("stage")],
        "drug": [str(d) for d in idx.values("drug")],
        "centre": sorted(idx.centres),
        "sex": ["female", "male", "other", "unknown"],
        "origin": ["somatic", "germline"],
        "vital_status": ["alive", "deceased"],
        "assay_type": [str(x) for x in idx.values("assay_type")],
        "pipeline_fingerprint": [str(x) for x in idx.values("fingerprint")],
    }
    for m in sorted(idx.biomarker_values):
        alnum[m] = None
    for key, values in alnum.items():
        term: dict[str, Any] = {"type": "alphanumeric", "id": key, "scopes": scopes}
        if values:
            term["values"] = values
        terms.append(term)
    return {
        "filteringTerms": terms,
        "resources": [
            {
                "id": "oncotree",
                "name": "OncoTree",
                "url": "http://oncotree.mskcc.org",
                "version": oncotree.ONCOTREE_RELEASE,
                "namespacePrefix": "oncotree",
                "iriPrefix": "http://oncotree.mskcc.org/?version=oncotree_2025_10_03&field=CODE&search=",
            },
            {
                "id": "NCIT",
                "name": "NCI Thesaurus",
                "namespacePrefix": "NCIT",
                "url": "http://purl.obolibrary.org/obo/ncit.owl",
            },
        ],
    }


# -- requests ------------------------------------------------------------------------------


def purpose_of(params: dict[str, Any]) -> ResearchPurpose:
    """The purpose of a Beacon request (see the module doc)."""
    raw = params.get("purpose")
    if raw is None:
        return DEFAULT_PURPOSE
    if isinstance(raw, str):
        try:
            code = duo.curie(raw, "purpose")
        except (ValueError, ConsentError) as exc:
            raise PurposeRequiredError(f"requestParameters.purpose: {exc}") from None
        names = {v: k for k, v in PRIMARY_DUO.items()}
        if code not in names or names[code] == "disease":
            raise PurposeRequiredError(
                f"requestParameters.purpose: {raw!r} is not a primary research purpose "
                "(GRU, HMB or POA; for disease research give the purpose object with "
                "disease_codes)"
            )
        return ResearchPurpose(primary=names[code])
    try:
        return parse_purpose(raw, "requestParameters.purpose")
    except ConsentError as exc:
        raise PurposeRequiredError(str(exc)) from None


def _alnum(f: dict[str, Any]) -> dict[str, Any]:
    fid, op, value = f["id"], f.get("operator", "="), str(f.get("value", ""))
    if op not in ("=", ">", "<", ">=", "<=", "!"):
        raise DefinitionError(f"filter {fid!r}: unknown operator {op!r}")

    def num() -> float:
        try:
            return float(value)
        except ValueError:
            raise DefinitionError(f"filter {fid!r}: {value!r} is not a number") from None

    def rng(kind: str, extra: dict[str, Any], as_int: bool) -> dict[str, Any]:
        x = num()
        conv: Any = int if as_int else float
        lo = {"=": x, ">=": x, ">": x + (1 if as_int else 1e-9)}.get(op)
        hi = {"=": x, "<=": x, "<": x - (1 if as_int else 1e-9)}.get(op)
        out = {"type": kind, **extra}
        if lo is not None:
            out["min"] = conv(lo)
        if hi is not None:
            out["max"] = conv(hi)
        return out

    if fid == "age_at_diagnosis":
        return rng("age_at_diagnosis", {}, True)
    if fid.upper() in ("TMB", "PD-L1") or fid.upper().endswith("_VALUE"):
        return rng("biomarker", {"marker": fid.upper()}, False)
    if op != "=":
        raise DefinitionError(f"filter {fid!r}: only '=' is supported for this field")
    simple: dict[str, dict[str, Any]] = {
        "stage_group": {"type": "stage_group", "values": [value]},
        "drug": {"type": "treatment", "drug": value},
        "centre": {"type": "centre", "values": [value]},
        "dataset": {"type": "dataset", "values": [value]},
        "sex": {"type": "sex", "values": [value]},
        "origin": {"type": "variant", "origin": value},
        "consequence": {"type": "variant", "consequence": [value]},
        "variant_class": {"type": "variant", "variant_class": [value]},
        "assay_type": {"type": "assay", "assay_type": [value]},
        "pipeline_fingerprint": {"type": "pipeline", "fingerprints": [value]},
        "vital_status": {"type": "vital_status", "value": value},
        "gene": {"type": "variant", "gene": value},
    }
    if fid not in simple:
        raise DefinitionError(
            f"filter {fid!r}: unknown filter id (see /api/beacon/v2/filtering_terms)"
        )
    return simple[fid]


def _filter(f: Any) -> dict[str, Any]:
    if isinstance(f, str):
        f = {"id": f}
    if not isinstance(f, dict) or not isinstance(f.get("id"), str):
        raise DefinitionError(f"filter {f!r}: a filter is an object with an 'id'")
    fid: str = f["id"]
    if "operator" in f or "value" in f:
        return _alnum(f)
    if fid.lower().startswith("oncotree:"):
        return {
            "type": "tumour_type",
            "codes": [fid.split(":", 1)[1]],
            "descendants": bool(f.get("includeDescendantTerms", True)),
        }
    if fid in SEX_TERMS:
        return {"type": "sex", "values": [SEX_TERMS[fid]]}
    if fid.startswith("gene:"):
        return {"type": "variant", "gene": fid[5:]}
    if fid.startswith("variant:"):
        parts = fid.split(":")
        if len(parts) != 3:
            raise DefinitionError(f"filter {fid!r}: write variant:<GENE>:<PROTEIN CHANGE>")
        return {"type": "variant", "gene": parts[1], "protein_change": parts[2]}
    m = MARKER_RE.match(fid)
    if m:
        return {"type": "biomarker", "marker": m.group(1), "interpretation": [m.group(2)]}
    raise DefinitionError(f"filter {fid!r}: unknown filter id (see /api/beacon/v2/filtering_terms)")


G_VARIANT_PARAMS = {
    "geneId": "gene",
    "aminoacidChange": "protein_change",
    "variantType": "variant_class",
}
IGNORED_PARAMS = {"purpose", "assemblyId", "$schema"}
_GAIN = ["gain", "amplification"]
_LOSS = ["loss", "deep_deletion"]
#: ``variantType`` values answered from the pipeline's structural variants and gene
#: copy-number calls (with ``geneId``): value → (SV types with a breakpoint in the gene,
#: copy-number calls of the gene). The VCF SV types (``TRA``, a translocation, is a
#: breakend) and the EFO copy-number terms the Beacon v2 documentation maps to them
#: ("CNV Term Use Comparison": ``DUP`` ≙ EFO:0030070 copy number gain, ``DEL`` ≙
#: EFO:0030067 copy number loss, and their low/high-level children). The other values
#: (SNV, MNV, insertion, deletion, indel) stay small-variant classes.
STRUCTURAL_VARIANT_TYPES: dict[str, tuple[list[str], list[str]]] = {
    "DEL": (["DEL"], _LOSS),
    "DUP": (["DUP"], _GAIN),
    "INV": (["INV"], []),
    "INS": (["INS"], []),
    "BND": (["BND"], []),
    "TRA": (["BND"], []),
    "CNV": (["DEL", "DUP"], _GAIN + _LOSS),
    "EFO:0030066": (["DEL", "DUP"], _GAIN + _LOSS),  # relative copy number variation
    "EFO:0030070": (["DUP"], _GAIN),  # copy number gain
    "EFO:0030071": ([], ["gain"]),  # low-level copy number gain
    "EFO:0030072": ([], ["amplification"]),  # high-level copy number gain
    "EFO:0030073": ([], ["amplification"]),  # focal genome amplification
    "EFO:0030067": (["DEL"], _LOSS),  # copy number loss
    "EFO:0030068": ([], ["loss"]),  # low-level copy number loss
    "EFO:0020073": ([], ["deep_deletion"]),  # high-level copy number loss
    "EFO:0030069": ([], ["deep_deletion"]),  # complete genomic deletion
}


def _structural(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """The criterion of a structural / copy-number ``variantType`` (with ``geneId``)."""
    gene = params.get("geneId")
    if not isinstance(gene, str) or not gene.strip():
        raise DefinitionError(
            f"requestParameters.variantType {kind!r}: give geneId too (structural variants "
            "and copy-number calls are asked by gene; range queries are not supported)"
        )
    if "aminoacidChange" in params:
        raise DefinitionError(
            f"requestParameters.aminoacidChange: not with variantType {kind!r} (a protein "
            "change is a small variant's)"
        )
    sv_types, calls = STRUCTURAL_VARIANT_TYPES[kind.upper()]
    parts: list[dict[str, Any]] = []
    if sv_types:
        parts.append({"type": "structural_variant", "gene": gene, "sv_types": sv_types})
    if calls:
        parts.append({"type": "copy_number", "gene": gene, "calls": calls})
    return parts[0] if len(parts) == 1 else {"type": "or", "criteria": parts}


def definition_of(filters: list[Any], params: dict[str, Any]) -> CohortDefinition:
    """The cohort definition of Beacon ``filters`` (AND) and g_variant request parameters."""
    problems: list[str] = []
    crit: list[dict[str, Any]] = []
    for f in filters:
        try:
            crit.append(_filter(f))
        except DefinitionError as exc:
            problems.append(str(exc))
    variant: dict[str, Any] = {}
    kind = params.get("variantType")
    if isinstance(kind, str) and kind.upper() in STRUCTURAL_VARIANT_TYPES:
        try:
            crit.append(_structural(kind, params))
        except DefinitionError as exc:
            problems.append(str(exc))
        params = {k: v for k, v in params.items() if k not in ("variantType", "geneId")}
    for key, value in params.items():
        if key in IGNORED_PARAMS:
            continue
        if key not in G_VARIANT_PARAMS:
            problems.append(
                f"requestParameters.{key}: not supported (supported: "
                f"{', '.join(sorted(G_VARIANT_PARAMS))}, purpose)"
            )
            continue
        field = G_VARIANT_PARAMS[key]
        variant[field] = [str(value)] if field == "variant_class" else str(value)
    if variant:
        crit.append({"type": "variant", **variant})
    if problems:
        raise DefinitionError("; ".join(problems))
    if not crit:
        return parse_definition({})
    return parse_definition(
        {"criteria": crit[0] if len(crit) == 1 else {"type": "and", "criteria": crit}}
    )


def received_summary(
    entry: str, granularity: str, filters: list[Any], params: dict[str, Any]
) -> dict[str, Any]:
    """``meta.receivedRequestSummary``."""
    out: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "requestedSchemas": [schema_ref(entry)],
        "pagination": {"skip": 0, "limit": 0},
        "requestedGranularity": granularity,
        "filters": [f if isinstance(f, str) else f.get("id", "") for f in filters],
    }
    if params:
        # the framework types every request parameter as an object: scalar g_variant
        # parameters are echoed grouped as the model's requestParameters.json does
        echoed = {k: v for k, v in params.items() if isinstance(v, dict)}
        scalars = {k: v for k, v in params.items() if not isinstance(v, dict)}
        if scalars:
            echoed["g_variant"] = scalars
        out["requestParameters"] = echoed
    return out


def count_response(
    entry: str,
    requested: str,
    filters: list[Any],
    params: dict[str, Any],
    total: int,
    threshold: int,
    rounded: int | str,
    info: dict[str, Any],
) -> dict[str, Any]:
    """A boolean or count response (``record`` is answered at count granularity)."""
    returned = "boolean" if requested == "boolean" else "count"
    exists = total >= threshold
    summary: dict[str, Any] = {"exists": exists}
    if returned == "count":
        summary["numTotalResults"] = rounded if isinstance(rounded, int) else 0
    return {
        "meta": {
            "beaconId": BEACON_ID,
            "apiVersion": API_VERSION,
            "returnedSchemas": [schema_ref(entry)],
            "returnedGranularity": returned,
            "receivedRequestSummary": received_summary(entry, requested, filters, params),
        },
        "responseSummary": summary,
        "info": info,
    }


def error_response(code: int, message: str) -> dict[str, Any]:
    """A Beacon error response (``detail`` repeats the message, as every API error does)."""
    return {
        "meta": {
            "beaconId": BEACON_ID,
            "apiVersion": API_VERSION,
            "returnedSchemas": [],
            "returnedGranularity": "boolean",
            "receivedRequestSummary": received_summary("individual", "boolean", [], {}),
        },
        "error": {"errorCode": code, "errorMessage": message},
        "detail": message,
    }


def collections_response(entry: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """A collections response (cohorts, datasets)."""
    return {
        "meta": {
            "beaconId": BEACON_ID,
            "apiVersion": API_VERSION,
            "returnedSchemas": [schema_ref(entry)],
            "returnedGranularity": "record",
            "receivedRequestSummary": received_summary(entry, "record", [], {}),
        },
        "responseSummary": {"exists": bool(items), "numTotalResults": len(items)},
        "response": {"collections": items},
    }


def dataset_item(d: dict[str, Any]) -> dict[str, Any]:
    """A dataset as a Beacon dataset (metadata only)."""
    duos = [{"id": c, "label": _duo_label(c)} for c in d.get("duo_codes") or []]
    out: dict[str, Any] = {
        "id": d["dataset_id"],
        "name": d.get("title") or d["dataset_id"],
        "description": f"{d.get('centre_name') or d['centre_id']} ({d['centre_id']})",
        "createDateTime": d.get("committed_at") or "",
        "version": d.get("pipeline_version") or "",
        # no "info": the default model's datasets schema refers to a missing
        # ../common/info.json (upstream bug at the pinned commit)
    }
    if duos:
        out["dataUseConditions"] = {"duoDataUse": [{**x, "version": duo.DUO_RELEASE} for x in duos]}
    return out


def _duo_label(code: str) -> str:
    try:
        return duo.term(code).label
    except (ValueError, ConsentError):
        return code


def cohort_items(idx: LakeIndex, sizes: dict[str, int | str]) -> list[dict[str, Any]]:
    """One beacon-defined cohort per centre (its size disclosure-controlled)."""
    out: list[dict[str, Any]] = []
    for centre in sorted(idx.centres):
        size = sizes.get(centre)
        item: dict[str, Any] = {
            "id": f"centre:{centre}",
            "name": f"Patients of centre {centre}",
            "cohortType": "beacon-defined",
            "cohortDataTypes": [
                {"id": "OGMS:0000015", "label": "clinical history"},
                {"id": "OBI:0000070", "label": "genotyping assay"},
            ],
        }
        if isinstance(size, int):
            item["cohortSize"] = size
        out.append(item)
    return out
