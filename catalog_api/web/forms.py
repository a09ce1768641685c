"""Form fields → the models the API takes (cohort definition, research purpose, request).

The pages post plain HTML forms; these functions turn them into exactly the JSON the API
routes accept, and the same validators (``governance.engine.validate_definition`` /
``validate_purpose``, the pydantic request schemas) check them. A bad value raises
:class:`~catalog_api.governance.errors.Invalid` naming the form field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from catalog_api.governance.errors import Invalid
from consent import duo, oncotree
from consent.purpose import GENETIC_DUO, METHODS_DUO, PRIMARY_DUO

#: Plain-word explanation of each kind of research (the DUO permission it states).
PRIMARY_WORDS: dict[str, str] = {
    "general": "Any research purpose, including research that is not about health.",
    "health": "Health, medical or biomedical research, on any disease.",
    "disease": "Research on the diseases you name below, and nothing else.",
    "ancestry": "Research on population origins or ancestry.",
}

#: Form checkbox name → (plain words, DUO code or "" when the flag is a commitment only).
PURPOSE_FLAGS: dict[str, tuple[str, str]] = {
    "commercial": ("The use is commercial (data from patients who refused it are left out).", ""),
    "for_profit": ("My organisation is for-profit (not-for-profit-only consents left out).", ""),
    "methods_development": (
        "The work includes developing methods or software (DUO:0000031).",
        METHODS_DUO,
    ),
    "genetic_studies_only": ("The work is limited to genetic studies (DUO:0000038).", GENETIC_DUO),
    "ethics_approval": ("I have ethics (IRB) approval for this project.", ""),
    "collaboration": ("I agree to collaborate with the centres that provide the data.", ""),
    "will_publish": ("I commit to publish the results.", ""),
    "accepts_moratorium": ("I accept the centres' publication moratorium.", ""),
    "will_return_results": ("I will return derived data to the network.", ""),
}

#: Fields of the lake offered in the request form (``table.column``), default ones first.
DEFAULT_FIELDS = (
    "patients.sex",
    "conditions.oncotree_code",
    "conditions.stage_group",
    "variants.gene",
    "variants.protein_change",
)


@dataclass(frozen=True)
class PrimaryOption:
    """One kind of research in the purpose fieldset."""

    value: str
    curie: str
    shorthand: str
    label: str
    words: str
    definition: str


def primary_options() -> list[PrimaryOption]:
    """The four kinds of research with their DUO term, label and plain words."""
    out = []
    for value, curie in PRIMARY_DUO.items():
        term = duo.term(curie)
        out.append(
            PrimaryOption(
                value=value,
                curie=curie,
                shorthand=term.shorthand,
                label=term.label,
                words=PRIMARY_WORDS[value],
                definition=term.definition,
            )
        )
    return out


def duo_label(code: str) -> str:
    """``DUO:0000042`` → ``GRU: general research use`` (the code itself if unknown)."""
    try:
        term = duo.term(code)
    except ValueError:
        return code
    return f"{term.shorthand}: {term.label}" if term.shorthand else term.label


def purpose_words(purpose: dict[str, Any]) -> list[str]:
    """A stated purpose in plain words, one line per statement."""
    primary = str(purpose.get("primary", ""))
    lines = []
    curie = PRIMARY_DUO.get(primary)
    if curie:
        lines.append(f"{PRIMARY_WORDS[primary]} ({duo_label(curie)}, {curie})")
    diseases = purpose.get("disease_codes") or []
    if diseases:
        named = [f"{d} ({oncotree.label(d)})" if oncotree.is_code(d) else str(d) for d in diseases]
        lines.append("Diseases studied: " + ", ".join(named))
    for flag, (words, _code) in PURPOSE_FLAGS.items():
        if purpose.get(flag):
            lines.append(words)
    return lines


# -- parsing ---------------------------------------------------------------------------


def text(form: FormData, name: str, *, max_length: int = 2000) -> str:
    """A trimmed text field ('' when absent)."""
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    value = value.strip()
    if len(value) > max_length:
        raise Invalid(f"{name}: at most {max_length} characters, got {len(value)}")
    return value


def values(form: FormData, name: str) -> list[str]:
    """Every non-empty value of a multi-valued field (checkboxes, multiple select)."""
    return [v.strip() for v in form.getlist(name) if isinstance(v, str) and v.strip()][:200]


def codes(raw: str) -> list[str]:
    """Comma/space-separated codes, upper-cased."""
    return [c.strip().upper() for c in raw.replace(",", " ").split() if c.strip()]


def number(form: FormData, name: str, label: str, *, integer: bool = False) -> float | None:
    """A numeric field, None when empty; :class:`Invalid` naming ``label`` when not a number."""
    raw = text(form, name, max_length=32)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Invalid(f"{label}: {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise Invalid(f"{label}: {raw!r} is not a finite number")
    if integer:
        if value != int(value):
            raise Invalid(f"{label}: {raw!r} is not a whole number")
        if abs(value) > 1_000_000:
            raise Invalid(f"{label}: {raw!r} is out of range")
    return value


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def definition_from_form(form: FormData) -> dict[str, Any]:
    """The cohort-builder fields as a cohort definition (``format_version`` 1, AND of leaves)."""
    leaves: list[dict[str, Any]] = []
    tumours = values(form, "tumour_codes") + codes(text(form, "tumour_other", max_length=500))
    if tumours:
        leaves.append(
            {
                "type": "tumour_type",
                "codes": list(dict.fromkeys(tumours)),
                "descendants": form.get("tumour_descendants") == "on",
            }
        )
    gene = text(form, "gene", max_length=64).upper()
    change = text(form, "protein_change", max_length=64)
    if gene or change:
        leaf: dict[str, Any] = {"type": "variant"}
        if gene:
            leaf["gene"] = gene
        if change:
            leaf["protein_change"] = change
        leaves.append(leaf)
    marker = text(form, "biomarker", max_length=64)
    interp = text(form, "biomarker_interpretation", max_length=32)
    bmin = number(form, "biomarker_min", "Biomarker minimum value")
    bmax = number(form, "biomarker_max", "Biomarker maximum value")
    if marker:
        bio: dict[str, Any] = {"type": "biomarker", "marker": marker}
        if interp:
            bio["interpretation"] = [interp]
        if bmin is not None:
            bio["min"] = bmin
        if bmax is not None:
            bio["max"] = bmax
        leaves.append(bio)
    elif interp or bmin is not None or bmax is not None:
        raise Invalid("Biomarker: choose the marker the interpretation or value range is about")
    stages = values(form, "stage")
    if stages:
        leaves.append({"type": "stage_group", "values": stages})
    drug = text(form, "drug", max_length=128).lower()
    line = _int(number(form, "line_of_therapy", "Line of therapy", integer=True))
    if drug or line is not None:
        treat: dict[str, Any] = {"type": "treatment"}
        if drug:
            treat["drug"] = drug
        if line is not None:
            treat["line_of_therapy"] = line
        leaves.append(treat)
    amin = _int(number(form, "age_min", "Minimum age at diagnosis", integer=True))
    amax = _int(number(form, "age_max", "Maximum age at diagnosis", integer=True))
    if amin is not None or amax is not None:
        age: dict[str, Any] = {"type": "age_at_diagnosis"}
        if amin is not None:
            age["min"] = amin
        if amax is not None:
            age["max"] = amax
        leaves.append(age)
    sexes = values(form, "sex")
    if sexes:
        leaves.append({"type": "sex", "values": sexes})
    centres = values(form, "centre")
    if centres:
        leaves.append({"type": "centre", "values": centres})
    out: dict[str, Any] = {"format_version": 1}
    if len(leaves) == 1:
        out["criteria"] = leaves[0]
    elif leaves:
        out["criteria"] = {"type": "and", "criteria": leaves}
    return out


def purpose_from_form(form: FormData) -> dict[str, Any]:
    """The purpose fieldset as a research purpose (``consent.purpose`` JSON)."""
    primary = text(form, "purpose_primary", max_length=32) or "health"
    if primary not in PRIMARY_DUO:
        raise Invalid(f"Kind of research: {primary!r} is not one of {', '.join(PRIMARY_DUO)}")
    out: dict[str, Any] = {"primary": primary}
    diseases = codes(text(form, "purpose_diseases", max_length=500))
    if diseases:
        out["disease_codes"] = diseases
    for flag in PURPOSE_FLAGS:
        if form.get(f"purpose_{flag}") == "on":
            out[flag] = True
    return out


def pydantic_problems(exc: ValidationError) -> str:
    """A pydantic error as one line naming each field."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors()
    )


# -- OncoTree options --------------------------------------------------------------------


@dataclass(frozen=True)
class TumourOption:
    """One OncoTree node in the tumour-type list, indented by its depth."""

    code: str
    label: str
    depth: int

    @property
    def text(self) -> str:
        """The option's text: indented by depth (non-breaking spaces), code and name."""
        indent = "\u00a0\u00a0\u00a0" * self.depth + ("\u2514\u00a0" if self.depth else "")
        return f"{indent}{self.code} — {self.label}"


def tumour_options(lake_codes: list[str]) -> list[TumourOption]:
    """The lake's tumour types with every ancestor up to the tissue, as a tree (depth first)."""
    nodes: set[str] = set()
    for code in lake_codes:
        if not oncotree.is_code(code):
            continue
        nodes.add(oncotree.node(code).code)
        nodes.update(a for a in oncotree.ancestors(code) if a != oncotree.ROOT)

    def path(code: str) -> list[str]:
        return [*reversed([a for a in oncotree.ancestors(code) if a != oncotree.ROOT]), code]

    ordered = sorted(nodes, key=lambda c: [oncotree.label(p) for p in path(c)])
    return [TumourOption(c, oncotree.label(c), len(path(c)) - 1) for c in ordered]
