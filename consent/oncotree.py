"""OncoTree tumour types (release 2025-10-03, CC BY 4.0): the hierarchy for disease consent.

Used by consent matching (a disease-specific consent for a tumour type covers its
descendants) and by the catalogue (tumour type labels and tissues).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from consent.errors import UnknownDiseaseError

ONCOTREE_RELEASE = "oncotree_2025_10_03"
ONCOTREE_FILE = Path(__file__).parent / "data" / "oncotree_2025_10_03.flat.tsv"
#: The FHIR coding system of OncoTree codes.
ONCOTREE_SYSTEM = "http://oncotree.mskcc.org"
ROOT = "TISSUE"


@dataclass(frozen=True)
class Node:
    """One OncoTree node."""

    code: str
    name: str
    main_type: str
    tissue: str
    parent: str
    level: int


@cache
def nodes() -> dict[str, Node]:
    """Every node of the pinned release, by code."""
    with ONCOTREE_FILE.open(encoding="utf-8", newline="") as fh:
        return {
            r["code"]: Node(
                code=r["code"],
                name=r["name"],
                main_type=r["mainType"],
                tissue=r["tissue"],
                parent=r["parent"],
                level=int(r["level"]),
            )
            for r in csv.DictReader(fh, delimiter="\t")
        }


@cache
def _children() -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for n in nodes().values():
        if n.parent:
            out.setdefault(n.parent, []).append(n.code)
    return {k: tuple(sorted(v)) for k, v in out.items()}


def node(code: str) -> Node:
    """The node of an OncoTree code (case-insensitive); :class:`UnknownDiseaseError` if none."""
    found = nodes().get(code.strip().upper())
    if found is None:
        raise UnknownDiseaseError(
            f"{code!r} is not an OncoTree code of release {ONCOTREE_RELEASE}; look it up at "
            "https://oncotree.mskcc.org (e.g. 'MEL' melanoma, 'LUAD' lung adenocarcinoma)"
        )
    return found


def is_code(code: str) -> bool:
    """True when ``code`` is an OncoTree code of the pinned release."""
    return code.strip().upper() in nodes()


def label(code: str) -> str:
    """The name of a tumour type (``LUAD`` → ``Lung Adenocarcinoma``)."""
    return node(code).name


def tissue(code: str) -> str:
    """The top-level tissue of a tumour type (``LUAD`` → ``Lung``); ``''`` for the root."""
    return node(code).tissue


def ancestors(code: str) -> list[str]:
    """The codes above ``code``, nearest first, ending with the root ``TISSUE``."""
    out: list[str] = []
    parent = node(code).parent
    while parent:
        out.append(parent)
        parent = nodes()[parent].parent
    return out


def descendants(code: str) -> set[str]:
    """Every code below ``code`` (not including it)."""
    out: set[str] = set()
    stack = list(_children().get(node(code).code, ()))
    while stack:
        c = stack.pop()
        if c not in out:
            out.add(c)
            stack.extend(_children().get(c, ()))
    return out


def is_within(code: str, ancestor: str) -> bool:
    """True when ``code`` is ``ancestor`` or one of its descendants."""
    c, a = node(code).code, node(ancestor).code
    return c == a or a in ancestors(c)
