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
