"""Every TNM stage group code the demo writes is the SNOMED CT concept of that stage.

The demo once coded "Stage I" as 1222806003 (which the mCODE STU4 examples give as
"American Joint Committee on Cancer stage IIIC") and "Stage IV" as 1222801008 (stage III).

:data:`AJCC_STAGE` is the reference, one row per stage group with its sources:

* ``MCODE``: the mCODE STU4 example instances in ../shared/data
  (``Observation-tnm-clinical-stage-group-jenny-m.json``,
  ``Observation-tnm-clinical-stage-group-3c.json``,
  ``Condition-primary-cancer-condition-breast.json``), whose codings carry SNOMED CT's fully
  specified name, e.g. "American Joint Committee on Cancer stage IIB (qualifier value)";
  :func:`test_table_agrees_with_the_mcode_examples` re-reads them.
* ``CANSHARE``: the CanShare (New Zealand) FHIR value set
  ``https://nzhts.digital.health.nz/fhir/ValueSet/canshare-tnm-pathological-stage-group``
  (FSH, public), which lists the "American Joint Committee on Cancer stage …" qualifier
  values by stage group; its example instances give the full names of stage II
  (1222765007) and stage IV (1222837003). Read through the search tool; not in the repo.
* ``SCT_OWL``: the SNOMED CT OWL axiom of 1222765007 quoted in a public test of the SNOMED
  OWL toolkit, ``SubClassOf(:1222765007 ObjectIntersectionOf(:1222592004 :1222593009
  :1222594003))``: the three parents whose descendants the mCODE STU4 value set
  ``mcode-tnm-stage-group-vs`` includes (its compose, re-read below).

Not checked against a SNOMED CT release (none is in reach here, and SNOMED CT is licensed).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from catalog_api.discovery.terms import STAGE_SNOMED as CATALOG_STAGE_SNOMED
from oncolake.demo.network import STAGE_SNOMED, STAGES, CentreSpec, write_centre

REPO = Path(__file__).resolve().parents[2]
MCODE = REPO.parent / "shared" / "data" / "mcode" / "hl7.fhir.us.mcode-4.0.0"
SNOMED = "http://snomed.info/sct"
STAGE_GROUP_PROFILE = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-tnm-stage-group"

MCODE_EX, CANSHARE, SCT_OWL = "MCODE", "CANSHARE", "SCT_OWL"

#: stage group → (SNOMED CT concept, sources)
AJCC_STAGE: dict[str, tuple[str, tuple[str, ...]]] = {
    "0": ("1222605001", (CANSHARE,)),
    "I": ("1222723001", (CANSHARE,)),
    "IA": ("1222724007", (CANSHARE,)),
    "IB": ("1222728005", (CANSHARE,)),
    "II": ("1222765007", (CANSHARE, SCT_OWL)),
    "IIA": ("1222766008", (CANSHARE,)),
    "IIB": ("1222769001", (CANSHARE, MCODE_EX)),
    "III": ("1222801008", (CANSHARE,)),
    "IIIA": ("1222802001", (CANSHARE,)),
    "IIIB": ("1222805004", (CANSHARE,)),
    "IIIC": ("1222806003", (CANSHARE, MCODE_EX)),
    "IV": ("1222837003", (CANSHARE,)),
    "IVA": ("1222838008", (CANSHARE,)),
    "IVB": ("1222841004", (CANSHARE,)),
}
#: the parents named by mcode-tnm-stage-group-vs (descendent-of), SCT_OWL's three
STAGE_GROUP_PARENTS = {"1222592004", "1222593009", "1222594003"}
_FSN = re.compile(r"^American Joint Committee on Cancer stage (\w+) \(qualifier value\)$")
_DEMO_DISPLAY = re.compile(r"^Stage (\w+)$")


def _codings(doc: Any) -> list[dict[str, Any]]:
    """Every Coding (a dict with system and code) anywhere in a JSON document."""
    out: list[dict[str, Any]] = []
    if isinstance(doc, dict):
        if "system" in doc and "code" in doc:
            out.append(doc)
        for v in doc.values():
            out += _codings(v)
    elif isinstance(doc, list):
        for v in doc:
            out += _codings(v)
    return out


def _stage_codings(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stage group values: of TNM stage group observations and of Condition.stage."""
    out: list[dict[str, Any]] = []
    for r in resources:
        if STAGE_GROUP_PROFILE in (r.get("meta") or {}).get("profile", []):
            out += _codings(r.get("valueCodeableConcept"))
        for st in r.get("stage") or [] if r.get("resourceType") == "Condition" else []:
            out += _codings(st.get("summary"))
    return out


def _check(coding: dict[str, Any], where: str) -> None:
    assert coding["system"] == SNOMED, where
    m = _DEMO_DISPLAY.match(coding.get("display") or "")
    assert m, f"{where}: display {coding.get('display')!r} names no stage group"
    want, _ = AJCC_STAGE[m.group(1)]
    assert coding["code"] == want, f"{where}: {coding['display']} is {want}, not {coding['code']}"


def test_demo_stage_constants_are_the_stage_concepts() -> None:
    assert set(STAGE_SNOMED) == set(STAGES)
    for stage, code in STAGE_SNOMED.items():
        assert code == AJCC_STAGE[stage][0], stage


def test_every_stage_the_generated_demo_writes(tmp_path: Path) -> None:
    pipeline = {"id": "oncolake/dna_seq", "version": "0.1.0", "fingerprint": "x"}
    export = write_centre(CentreSpec("TST", "TST", "NL", 40, "panel"), tmp_path, 3, pipeline)
    resources = [json.loads(x) for x in export.clinical.read_text().splitlines() if x.strip()]
    codings = _stage_codings(resources)
    assert len(codings) == 40  # one stage group per patient
    for c in codings:
        _check(c, "generated demo")
    assert {c["display"] for c in codings} == {f"Stage {s}" for s in STAGES}


def test_every_stage_in_the_demo_data_files() -> None:
    files = sorted((REPO / "oncolake" / "demo" / "data").rglob("*.json"))
    files.append(REPO / "docs" / "examples" / "clinical.json")
    seen = 0
    for f in files:
        doc = json.loads(f.read_text())
        entries = [e["resource"] for e in doc.get("entry", [])] if "entry" in doc else [doc]
        for c in _stage_codings(entries):
            _check(c, str(f.relative_to(REPO)))
            seen += 1
    assert seen >= 3  # centre 1's two patients and the docs example


def test_table_agrees_with_the_catalogue_labels() -> None:
    for stage, (code, _) in AJCC_STAGE.items():
        assert CATALOG_STAGE_SNOMED[code] == stage


def test_table_agrees_with_the_mcode_examples() -> None:
    if not MCODE.exists():
        pytest.skip(f"needs {MCODE} (the shared real-data folder beside the repo), absent here")
    named: dict[str, str] = {}
    for f in sorted((MCODE / "example").glob("*.json")):
        for c in _codings(json.loads(f.read_text())):
            m = _FSN.match(str(c.get("display") or ""))
            if m and c["system"] == SNOMED:
                assert named.setdefault(m.group(1), c["code"]) == c["code"], f.name
    assert named == {s: AJCC_STAGE[s][0] for s, (_, src) in AJCC_STAGE.items() if MCODE_EX in src}
    vs = json.loads((MCODE / "conformance" / "ValueSet-mcode-tnm-stage-group-vs.json").read_text())
    parents = {
        f["value"]
        for inc in vs["compose"]["include"]
        for f in inc.get("filter", [])
        if f["op"] == "descendent-of"
    }
    assert parents == STAGE_GROUP_PARENTS
