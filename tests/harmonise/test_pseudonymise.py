"""The centre's pseudonymisation check (harmonise/pseudonymise.py): a resource with direct
identifiers is refused when the bundle is built, naming where.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harmonise.bundle import SubmitInputs, build_bundle
from harmonise.errors import DirectIdentifierError
from tests.harmonise.conftest import JENNY, KEY, ingest_draft, ingest_shared


def test_direct_identifiers_refused_naming_where(tmp_path: Path, ingest_tn_vcf: Path) -> None:
    ingest_shared("mcode")
    inputs = SubmitInputs(ingest_draft(), vcfs=[ingest_tn_vcf], clinical=[JENNY])
    with pytest.raises(DirectIdentifierError, match=r"entry 0: Patient\.identifier.*Patient\.name"):
        build_bundle(inputs, KEY, tmp_path)
