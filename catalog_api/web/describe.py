"""Cohort definitions in plain words (for researchers and boards), and page view models."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from catalog_api.discovery.terms import consequence_label, stage_label, variant_class_label
from consent import oncotree


@dataclass(frozen=True)
class Line:
    """One line of a described definition, indented by ``depth``."""

    depth: int
    text: str


def _codes(codes: list[str]) -> str:
    return ", ".join(f"{c} ({oncotree.label(c)})" if oncotree.is_code(c) else str(c) for c in codes)


def _range(lo: Any, hi: Any, unit: str = "") -> str:
    if lo is not None and hi is not None:
        return f"{lo}–{hi}{unit}"
    if lo is not None:
        return f"≥ {lo}{unit}"
    return f"≤ {hi}{unit}"


def _leaf(c: dict[str, Any]) -> str:
    kind = c.get("type")
    if kind == "tumour_type":
        sub = " and their subtypes" if c.get("descendants", True) else " (exactly)"
        return f"Tumour type: {_codes(list(c.get('codes', [])))}{sub}"
    if kind == "variant":
        named = " ".join(str(c[k]) for k in ("gene", "protein_change") if c.get(k))
        bits = [named] if named else []
        if c.get("consequence"):
            bits.append(" or ".join(consequence_label(x) for x in c["consequence"]))
        if c.get("variant_class"):
            bits.append(" or ".join(variant_class_label(x) for x in c["variant_class"]))
        if c.get("origin"):
            bits.append(str(c["origin"]))
        return "Variant: " + ", ".join(bits)
    if kind == "biomarker":
        text = f"Biomarker: {c.get('marker')}"
        if c.get("interpretation"):
            text += " " + " or ".join(c["interpretation"])
        if c.get("min") is not None or c.get("max") is not None:
            text += " value " + _range(c.get("min"), c.get("max"))
        return text
    if kind == "fusion":
        if c.get("partner"):
            return f"Fusion: {c.get('gene')} with {c['partner']} (either orientation)"
        gene = str(c.get("gene"))
        return f"Fusion: {gene}" + ("" if "::" in gene else " with any partner")
    if kind == "structural_variant":
        types = " or ".join(c.get("sv_types") or []) or "any type"
        return f"Structural variant ({types}) with a breakpoint in {c.get('gene')}"
    if kind == "copy_number":
        calls = " or ".join(str(x).replace("_", " ") for x in c.get("calls", []))
        return f"Copy number: {c.get('gene')} {calls}"
    if kind == "tmb":
        return "TMB: " + _range(c.get("min"), c.get("max"), " mutations/Mb")
    if kind == "msi":
        return "MSI status: " + " or ".join(c.get("status", []))
    if kind == "stage_group":
        return "Stage group: " + " or ".join(stage_label(str(v)) for v in c.get("values", []))
    if kind == "treatment":
        bits = [str(c["drug"])] if c.get("drug") else []
        if c.get("line_of_therapy") is not None:
            bits.append(f"line of therapy {c['line_of_therapy']}")
        return "Treatment: " + ", ".join(bits)
    if kind == "age_at_diagnosis":
        return "Age at diagnosis: " + _range(c.get("min"), c.get("max"), " years")
    if kind == "sex":
        return "Sex: " + " or ".join(c.get("values", []))
    if kind == "centre":
        return "Centre: " + " or ".join(c.get("values", []))
    if kind == "dataset":
        return "Dataset: " + " or ".join(c.get("values", []))
    if kind == "vital_status":
        return f"Vital status: {c.get('value')}"
    if kind == "assay":
        bits = [", ".join(c.get(k) or []) for k in ("assay_type", "assay_name") if c.get(k)]
        return "Sequenced by: " + "; ".join(bits)
    if kind == "pipeline":
        bits = []
        if c.get("fingerprints"):
            bits.append("fingerprint " + " or ".join(f"{f[:16]}…" for f in c["fingerprints"]))
        if c.get("harmonised") is not None:
            bits.append("harmonised" if c["harmonised"] else "not harmonised")
        return "Pipeline: " + ", ".join(bits)
    return f"{kind}: " + json.dumps({k: v for k, v in c.items() if k != "type"}, sort_keys=True)


def describe_definition(definition: dict[str, Any]) -> list[Line]:
    """The definition's criteria, one line each (``All of`` / ``Any of`` / ``Not`` nest)."""
    out: list[Line] = []

    def walk(c: dict[str, Any] | None, depth: int) -> None:
        if c is None:
            out.append(Line(depth, "Every patient (no criterion)"))
            return
        kind = c.get("type")
        if kind in ("and", "or"):
            out.append(Line(depth, "All of:" if kind == "and" else "Any of:"))
            for x in c.get("criteria", []):
                walk(x, depth + 1)
        elif kind == "not":
            out.append(Line(depth, "Not:"))
            walk(c.get("criterion"), depth + 1)
        else:
            out.append(Line(depth, _leaf(c)))

    walk(definition.get("criteria"), 0)
    return out


@dataclass
class CentreDatasets:
    """A centre's datasets for the catalogue page."""

    centre_id: str
    centre_name: str
    country: str
    datasets: list[dict[str, Any]] = field(default_factory=list)
    #: the viewer sees this centre's exact counts (admins; its reviewers and stewards)
    exact: bool = False


def qc_summary(row: dict[str, Any]) -> dict[str, Any]:
    """What the datasets table says about a dataset's quality: QC data present, harmonised
    pipeline, tool versions, specimens, rows per table (exact counts: a viewer not entitled
    to them gets ``discovery.datasets.dataset_counts`` instead)."""
    manifest: dict[str, Any] = {}
    if row.get("manifest_json"):
        try:
            loaded = json.loads(row["manifest_json"])
            manifest = loaded if isinstance(loaded, dict) else {}
        except (TypeError, ValueError):
            manifest = {}
    counts: dict[str, Any] = {}
    if row.get("row_counts_json"):
        try:
            loaded = json.loads(row["row_counts_json"])
            counts = loaded if isinstance(loaded, dict) else {}
        except (TypeError, ValueError):
            counts = {}
    samples = manifest.get("samples") or []
    pipeline = manifest.get("pipeline") or {}
    return {
        "qc_data": "qc" in (row.get("data_types") or []),
        "harmonised": row.get("harmonised"),
        "tool_versions": dict(sorted((pipeline.get("tool_versions") or {}).items())),
        "tumour_specimens": sum(1 for s in samples if s.get("role") == "tumour"),
        "normal_specimens": sum(1 for s in samples if s.get("role") == "normal"),
        "rows": {k: v for k, v in sorted(counts.items()) if isinstance(v, int)},
    }


# -- audit details ------------------------------------------------------------------------

#: Words for audit-detail keys a board member meets (others: underscores → spaces).
DETAIL_WORDS: dict[str, str] = {
    "lake_version": "Lake version",
    "definition_digest": "Definition (SHA-256)",
    "manifest_sha256": "Manifest (SHA-256)",
    "digest": "Query (SHA-256)",
    "duo_codes": "DUO terms",
    "purpose": "Purpose (DUO terms)",
    "centre_id": "Centre",
    "request_id": "Access request",
    "cohort_id": "Cohort",
    "cohort_version": "Cohort version",
    "export_id": "Export",
    "token_id": "Token",
}


@dataclass(frozen=True)
class DetailItem:
    """One key of an audit entry's details: its words, a value, or nested items."""

    key: str
    value: str = ""
    full: str = ""
    children: tuple[DetailItem, ...] = ()


def _detail_key(key: str) -> str:
    """Words for a key; a key with capitals (a code: ``LUAD``, ``C1``) stays as it is."""
    if key in DETAIL_WORDS:
        return DETAIL_WORDS[key]
    return key if key != key.lower() else key.replace("_", " ").capitalize()


def _detail_value(value: Any, label: Callable[[str], str]) -> tuple[str, str]:
    """``(shown, full)`` of a scalar or a list of scalars; a 64-hex digest is shown as its
    first 12 characters with the whole in ``full`` (a title to hover, copy or read)."""
    if value is None:
        return "—", ""
    if isinstance(value, bool):
        return ("yes" if value else "no"), ""
    if isinstance(value, list):
        return (", ".join(_detail_value(v, label)[0] for v in value) or "none"), ""
    text = str(value)
    if len(text) == 64 and all(c in "0123456789abcdef" for c in text):
        return f"{text[:12]}…", text
    return label(text), ""


def detail_items(
    details: dict[str, Any], label: Callable[[str], str] = lambda s: s
) -> list[DetailItem]:
    """An audit entry's details as labelled items (nested for dicts and lists of dicts),
    in the stored key order; ``label`` names coded values (e.g. DUO terms)."""

    def item(key: str, value: Any) -> DetailItem:
        if isinstance(value, dict):
            return DetailItem(
                _detail_key(key), children=tuple(item(k, v) for k, v in value.items())
            )
        if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
            return DetailItem(
                _detail_key(key),
                children=tuple(item(str(i + 1), v) for i, v in enumerate(value)),
            )
        shown, full = _detail_value(value, label)
        return DetailItem(_detail_key(key), shown, full)

    return [item(str(k), v) for k, v in details.items()]
