"""Fixtures and builders of the consent tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from consent import duo
from consent.records import ConsentRecord

DATA = Path(__file__).parent / "data"


def make_consent(
    *codes: str, diseases: tuple[str, ...] = (), status: str = "active", **kw: Any
) -> ConsentRecord:
    """A consent record from DUO shorthands (permissions and modifiers mixed)."""
    terms = [duo.term(c) for c in codes]
    return ConsentRecord(
        patient_id=kw.pop("patient_id", "NKI-p1"),
        consent_id="c1",
        status=status,  # type: ignore[arg-type]
        form_version="3.1",
        scope=("genomic", "clinical"),
        permissions=tuple(t.curie for t in terms if t.kind == "permission"),
        modifiers=tuple(t.curie for t in terms if t.kind == "modifier"),
        disease_codes=diseases,
        **kw,
    )


@pytest.fixture
def consent_builder() -> Callable[..., ConsentRecord]:
    """:func:`make_consent` as a fixture."""
    return make_consent


@pytest.fixture
def fhir_consent() -> dict[str, Any]:
    """The example FHIR Consent (DS lung cancer, not-for-profit), parsed fresh per test."""
    data: dict[str, Any] = json.loads((DATA / "consent_ds_lung_npu.json").read_text())
    return data
