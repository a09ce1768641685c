"""The catalogue of datasets: each visible dataset's metadata (no patient data).

Read by the datasets API, the Beacon ``/datasets`` endpoint and the web pages.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

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
