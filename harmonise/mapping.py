"""Diagnosis codes → harmonised OncoTree tumour types (``harmonise/data/oncotree_map.tsv``).

SNOMED CT codes match exactly; ICD-10(-CM) codes by their longest listed prefix (``C50.912``
→ ``C50``); a histology (SNOMED morphology or ICD-O-3 ``8500/3``) refines the type within
the tissue of the site code (breast + infiltrating duct carcinoma → ``IDC``). Codes that
map to nothing are returned as ``None`` so that ingest can report them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from consent import oncotree

SNOMED = "http://snomed.info/sct"
ICD10 = ("http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10")
ICDO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"


@dataclass(frozen=True)
class _Maps:
    snomed: dict[str, str]
    icd10: dict[str, str]
    morph: dict[tuple[str, str], str]  # (morphology code, tissue) -> oncotree


@functools.cache
def _maps() -> _Maps:
    snomed: dict[str, str] = {}
    icd10: dict[str, str] = {}
    morph: dict[tuple[str, str], str] = {}
    text = (Path(__file__).parent / "data" / "oncotree_map.tsv").read_text()
    for line in text.splitlines():
        if not line or line.startswith("#") or line.startswith("system\t"):
            continue
        system, code, onco, note = line.split("\t")[:4]
        if system == "snomed":
            snomed[code] = onco
        elif system == "icd10":
            icd10[code.upper()] = onco
        else:
            morph[(code, note)] = onco
    return _Maps(snomed, icd10, morph)


def oncotree_for(system: str | None, code: str | None, histology: str | None = None) -> str | None:
    """The OncoTree code of a diagnosis code (and optional histology), or None."""
    if not code:
        return None
    m = _maps()
    found: str | None = None
    if system == SNOMED:
        found = m.snomed.get(code)
    elif system in ICD10 or (system or "").endswith("icd-10"):
        c = code.upper()
        for n in range(len(c), 2, -1):
            if c[:n] in m.icd10:
                found = m.icd10[c[:n]]
                break
    if found and histology:
        refined = m.morph.get((histology, tissue_of(found) or ""))
        if refined:
            found = refined
    return found


def tissue_of(code: str) -> str | None:
    """The OncoTree top-level tissue of ``code`` (consent/ holds the tree)."""
    try:
        return oncotree.tissue(code)
    except ValueError:
        return None
