"""The catalogue of datasets: each visible dataset's metadata (no patient data).

Read by the datasets API, the Beacon ``/datasets`` endpoint and the web pages.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from catalog_api.discovery.disclosure import Cell, DisclosureControl
from catalog_api.discovery.engine import DiscoveryEngine


class DatasetPublic(BaseModel):
    """Catalogue entry of a dataset: metadata only, no patient data."""

    dataset_id: str
    centre_id: str
    centre_name: str | None
    country: str | None
    title: str | None
    data_types: list[str]
    genome_build: str | None
    assays: list[str]
    pipeline_id: str | None
    pipeline_version: str | None
    pipeline_fingerprint: str | None
    harmonised: bool | None
    duo_codes: list[str]
    consent_form_version: str | None
    embargo_until: str | None
    committed_at: str


def dataset_entries(engine: DiscoveryEngine) -> list[dict[str, Any]]:
    """The visible datasets as :class:`DatasetPublic` dicts, sorted by id."""
    out = []
    for info in engine.datasets():
        r = info.row
        out.append(
            DatasetPublic(
                dataset_id=info.dataset_id,
                centre_id=info.centre_id,
                centre_name=r.get("centre_name"),
                country=r.get("country"),
                title=r.get("title"),
                data_types=list(r.get("data_types") or []),
                genome_build=r.get("genome_build"),
                assays=list(r.get("assays") or []),
                pipeline_id=r.get("pipeline_id"),
                pipeline_version=r.get("pipeline_version"),
                pipeline_fingerprint=r.get("pipeline_fingerprint"),
                harmonised=r.get("harmonised"),
                duo_codes=list(r.get("duo_codes") or []),
                consent_form_version=r.get("consent_form_version"),
                embargo_until=r.get("embargo_until"),
                committed_at=str(r.get("committed_at")),
            ).model_dump(mode="json")
        )
    return sorted(out, key=lambda d: d["dataset_id"])


def _loaded(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def dataset_counts(row: dict[str, Any], control: DisclosureControl) -> dict[str, Any]:
    """The counts of a dataset's catalogue row (``DatasetInfo.row``) as a researcher may see
    them: rows per table (``row_counts_json``) and tumour/normal specimens (the manifest's
    samples), each through the disclosure rule (``"<5"`` or rounded)."""
    samples = _loaded(row.get("manifest_json")).get("samples") or []
    roles = [s.get("role") for s in samples if isinstance(s, dict)]
    rows: dict[str, Cell] = {
        k: control.cell(v)
        for k, v in sorted(_loaded(row.get("row_counts_json")).items())
        if isinstance(v, int) and not isinstance(v, bool)
    }
    return {
        "rows": rows,
        "tumour_specimens": control.cell(roles.count("tumour")),
        "normal_specimens": control.cell(roles.count("normal")),
    }


#: ``specimen_qc`` columns the catalogue summarises per dataset.
_QC_COLUMNS = [
    "dataset_id",
    "role",
    "mean_coverage",
    "duplication_rate",
    "insert_size_mean",
    "identity_status",
    "tumour_in_normal",
]
_QC_CACHE: dict[tuple[int, str], dict[str, dict[str, Any]]] = {}


def _median(values: list[Any]) -> float | None:
    got = sorted(float(v) for v in values if v is not None)
    if not got:
        return None
    mid = len(got) // 2
    return got[mid] if len(got) % 2 else (got[mid - 1] + got[mid]) / 2


def summarise_qc(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per dataset, what its ``specimen_qc`` rows say (no per-specimen value, no count):
    per role the medians of mean coverage, duplication rate and insert size; the identity
    verdicts present (match, mismatch, insufficient); the median tumour-in-normal of the
    pairs where it was estimated."""
    by: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by.setdefault(str(r["dataset_id"]), []).append(r)
    out: dict[str, dict[str, Any]] = {}
    for dataset, mine in sorted(by.items()):
        roles = {}
        for role in ("tumour", "normal"):
            rs = [r for r in mine if r.get("role") == role]
            if rs:
                roles[role] = {
                    k: _median([r.get(k) for r in rs])
                    for k in ("mean_coverage", "duplication_rate", "insert_size_mean")
                }
        tumours = [r for r in mine if r.get("role") == "tumour"]
        out[dataset] = {
            **roles,
            "identity": sorted(
                {str(r["identity_status"]) for r in tumours if r.get("identity_status")}
            ),
            "tumour_in_normal": _median([r.get("tumour_in_normal") for r in tumours]),
        }
    return out


def dataset_qc(engine: DiscoveryEngine) -> dict[str, dict[str, Any]]:
    """:func:`summarise_qc` of the lake's ``specimen_qc`` at the version the catalogue
    answers from (read once per version)."""
    with engine.current() as idx:
        version = idx.version
    key = (id(engine), version.id if version else "empty")
    cached = _QC_CACHE.get(key)
    if cached is None:
        rows = engine.lake.read("specimen_qc", version=version, columns=_QC_COLUMNS).to_pylist()
        cached = summarise_qc(rows)
        _QC_CACHE.clear()  # one engine, one current version in a process
        _QC_CACHE[key] = cached
    return cached
