"""The research purpose a researcher states, DUO-coded, and its file format.

A purpose file is JSON (documented with examples in ``docs/consent.md``)::

    {"format_version": 1, "primary": "disease", "disease_codes": ["LUAD"],
     "commercial": false, "for_profit": false, "methods_development": false}

``primary`` is the kind of research, by name or by its DUO code:

====================  ==============================  =========================
name                  DUO                              meaning
====================  ==============================  =========================
``general``           GRU, DUO:0000042                 any research, not only health
``health``            HMB, DUO:0000006                 health/medical/biomedical research
``disease``           DS, DUO:0000007                  research on the given disease(s)
``ancestry``          POA, DUO:0000011                 population origins or ancestry research
====================  ==============================  =========================

The other fields say what else is true of the use (commercial, by a for-profit
organisation, method development DUO:0000031, genetic studies only DUO:0000038) and which
conditions of consent modifiers the researcher commits to (ethics approval, collaboration,
publication, moratorium, returning results).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from consent import duo, oncotree
from consent.errors import PurposeError
from consent.records import MONDO_RE

Primary = Literal["general", "health", "disease", "ancestry"]

PRIMARY_DUO: dict[str, str] = {
    "general": "DUO:0000042",
    "health": "DUO:0000006",
    "disease": "DUO:0000007",
    "ancestry": "DUO:0000011",
}
METHODS_DUO = "DUO:0000031"
GENETIC_DUO = "DUO:0000038"


class ResearchPurpose(BaseModel):
    """What a researcher states about the intended use of the data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format_version: Literal[1] = 1
    primary: Primary = Field(description="Kind of research: general, health, disease, ancestry.")
    disease_codes: tuple[str, ...] = Field(
        default=(), description="OncoTree codes (or MONDO CURIEs) studied; required for disease."
    )
    commercial: bool = Field(default=False, description="The use is commercial (NCU).")
    for_profit: bool = Field(
        default=False, description="The user is a for-profit organisation (NPU)."
    )
    methods_development: bool = Field(
        default=False, description="Includes method development (DUO:0000031; NMDS)."
    )
    genetic_studies_only: bool = Field(
        default=False, description="The use is limited to genetic studies (DUO:0000038; GSO)."
    )
    ethics_approval: bool = Field(default=False, description="Has ethics approval (IRB).")
    collaboration: bool = Field(
        default=False, description="Agrees to collaborate with the data providers (COL)."
    )
    will_publish: bool = Field(default=False, description="Commits to publish results (PUB).")
    accepts_moratorium: bool = Field(
        default=False, description="Accepts the publication moratorium (MOR)."
    )
    will_return_results: bool = Field(
        default=False, description="Will return derived data to the resource (RTN)."
    )
    date: dt.date | None = Field(
        default=None, description="Date of use for time-limited consent (default: today)."
    )

    @field_validator("primary", mode="before")
    @classmethod
    def _primary_from_duo(cls, value: Any) -> Any:
        if isinstance(value, str) and value not in PRIMARY_DUO:
            try:
                curie = duo.curie(value, "primary")
            except ValueError:
                return value
            for name, code in PRIMARY_DUO.items():
                if code == curie:
                    return name
        return value

    @field_validator("disease_codes")
    @classmethod
    def _known_diseases(cls, codes: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for c in codes:
            if MONDO_RE.fullmatch(c):
                out.append(c)
            elif oncotree.is_code(c):
                out.append(c.strip().upper())
            else:
                raise ValueError(
                    f"{c!r} is not an OncoTree code of release {oncotree.ONCOTREE_RELEASE} "
                    "nor a MONDO CURIE"
                )
        return tuple(out)

    @model_validator(mode="after")
    def _diseases_iff_disease_research(self) -> ResearchPurpose:
        if self.primary == "disease" and not self.disease_codes:
            raise ValueError("disease research needs disease_codes (OncoTree codes, e.g. 'LUAD')")
        if self.primary != "disease" and self.disease_codes:
            raise ValueError(
                f"disease_codes are given but primary is {self.primary!r}; set primary to "
                "'disease' or remove them"
            )
        return self

    def duo_codes(self) -> list[str]:
        """The DUO CURIEs describing this purpose."""
        out = [PRIMARY_DUO[self.primary]]
        if self.methods_development:
            out.append(METHODS_DUO)
        if self.genetic_studies_only:
            out.append(GENETIC_DUO)
        return out


def parse_purpose(data: Any, where: str = "purpose") -> ResearchPurpose:
    """Validate a purpose (parsed JSON); :class:`PurposeError` lists every problem."""
    try:
        return ResearchPurpose.model_validate(data)
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            path = ".".join(str(p) for p in e["loc"]) or "(purpose)"
            msg = e["msg"].removeprefix("Value error, ")
            if e["type"] == "extra_forbidden":
                msg = "unknown field; remove it or fix its spelling"
            problems.append(f"{path}: {msg}")
        raise PurposeError(f"{where}: " + "; ".join(problems)) from None


def load_purpose(path: str | Path) -> ResearchPurpose:
    """Read and validate a purpose JSON file."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PurposeError(f"{p}: no such file; give the path of a purpose JSON file") from None
    except json.JSONDecodeError as exc:
        raise PurposeError(
            f"{p}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    return parse_purpose(data, where=str(p))
