"""The Data Use Ontology (GA4GH DUO), pinned to one release and shipped with the package.

``consent/data/duo_terms.tsv`` holds the DUO 2021-02-23 release's classes (CC BY 4.0; see
``consent/data/SOURCES.md``). Terms are looked up by CURIE (``DUO:0000042``, checked with a
full match) or by shorthand (``GRU``).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from consent.errors import UnknownTermError

DUO_RELEASE = "2021-02-23"
DUO_LICENCE = "CC BY 4.0"
DUO_FILE = Path(__file__).parent / "data" / "duo_terms.tsv"
#: The FHIR coding system for DUO codes in consent records.
DUO_SYSTEM = "http://purl.obolibrary.org/obo/duo.owl"

CURIE_RE = re.compile(r"DUO:[0-9]{7}")

PERMISSION_ROOT = "DUO:0000001"
MODIFIER_ROOT = "DUO:0000017"

Kind = Literal["permission", "modifier", "research_type", "root", "obsolete"]


@dataclass(frozen=True)
class Term:
    """One DUO class: CURIE, shorthand (may be empty), label, parent, kind, definition."""

    curie: str
    shorthand: str
    label: str
    parent: str
    kind: Kind
    deprecated: bool
    definition: str


@cache
def terms() -> dict[str, Term]:
    """Every term of the pinned release, by CURIE."""
    with DUO_FILE.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    parents = {r["curie"]: r["parent"] for r in rows}

    def kind(curie: str) -> Kind:
        if curie in (PERMISSION_ROOT, MODIFIER_ROOT):
            return "root"
        if not parents.get(curie):
            return "obsolete"
        seen = curie
        while seen in parents:
            seen = parents[seen]
            if seen == PERMISSION_ROOT:
                return "permission"
            if seen == MODIFIER_ROOT:
                return "modifier"
        return "research_type"

    return {
        r["curie"]: Term(
            curie=r["curie"],
            shorthand=r["shorthand"],
            label=r["label"],
            parent=r["parent"],
            kind=kind(r["curie"]),
            deprecated=r["deprecated"] == "true",
            definition=r["definition"],
        )
        for r in rows
    }


@cache
def _by_shorthand() -> dict[str, Term]:
    return {t.shorthand: t for t in terms().values() if t.shorthand and not t.deprecated}


def term(code: str, where: str = "DUO code") -> Term:
    """The current term for a CURIE (``DUO:0000042``) or a shorthand (``GRU``).

    Raises :class:`UnknownTermError` for a malformed CURIE (full match required, so
    ``DUO:00000421`` or ``xDUO:0000042`` are refused), an unknown code, or a deprecated term.
    """
    code = code.strip()
    if code.upper().startswith("DUO:") or code.upper().startswith("DUO_"):
        if not CURIE_RE.fullmatch(code):
            raise UnknownTermError(
                f"{where}: {code!r} is not a DUO CURIE; write 'DUO:' and 7 digits, e.g. "
                "'DUO:0000042'"
            )
        found = terms().get(code)
    else:
        found = _by_shorthand().get(code.upper())
    if found is None:
        raise UnknownTermError(
            f"{where}: {code!r} is not a term of DUO release {DUO_RELEASE}; use a CURIE such "
            "as 'DUO:0000042' or a shorthand such as 'GRU', 'HMB', 'DS', 'NPU'"
        )
    if found.deprecated:
        raise UnknownTermError(
            f"{where}: {code!r} ({found.label}) is obsolete in DUO release {DUO_RELEASE}; "
            "recode the consent with current terms"
        )
    return found


def curie(code: str, where: str = "DUO code") -> str:
    """The CURIE of a CURIE or shorthand (validated)."""
    return term(code, where).curie


def shorthand(code: str) -> str:
    """The shorthand of a code (``DUO:0000042`` → ``GRU``)."""
    return term(code).shorthand


def is_a(code: str, ancestor: str) -> bool:
    """True when ``code`` is ``ancestor`` or one of its descendants in DUO's class hierarchy."""
    target = term(ancestor).curie
    seen = term(code).curie
    all_terms = terms()
    while seen:
        if seen == target:
            return True
        parent = all_terms.get(seen)
        seen = parent.parent if parent is not None else ""
    return False
