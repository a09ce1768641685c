"""Cohort definitions in plain words (for researchers and boards), and page view models."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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
        bits = [str(c[k]) for k in ("gene", "protein_change") if c.get(k)]
        for k in ("consequence", "variant_class"):
            if c.get(k):
                bits.append(", ".join(c[k]))
        if c.get("origin"):
            bits.append(str(c["origin"]))
        return "Variant: " + " ".join(bits)
    if kind == "biomarker":
        text = f"Biomarker: {c.get('marker')}"
        if c.get("interpretation"):
            text += " " + " or ".join(c["interpretation"])
        if c.get("min") is not None or c.get("max") is not None:
            text += " value " + _range(c.get("min"), c.get("max"))
        return text
    if kind == "stage_group":
        return "Stage group: " + ", ".join(c.get("values", []))
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


def qc_summary(
    row: dict[str, Any], show: Callable[[int], int | str] = lambda n: n
) -> dict[str, Any]:
    """What the datasets table says about a dataset's quality: QC data present, harmonised
    pipeline, tool versions, specimens, rows per table; every count through ``show`` (the
    disclosure rule for a viewer not entitled to exact counts)."""
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
        "tumour_specimens": show(sum(1 for s in samples if s.get("role") == "tumour")),
        "normal_specimens": show(sum(1 for s in samples if s.get("role") == "normal")),
        "rows": {k: show(v) for k, v in sorted(counts.items()) if isinstance(v, int)},
    }
