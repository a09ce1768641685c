"""Re-derive every dataset's regimens and lines of therapy after a rules change.

Each visible dataset whose ``datasets.journey_rules`` differs from the rules given is
re-committed as a new submission of the same dataset: the same rows of every table (read
at the current version, so withdrawn patients stay withdrawn), with ``regimens``,
``lines_of_therapy`` and ``treatments.line_of_therapy`` derived again, and the new rules
in its dataset row. Each dataset's change is one lake commit (all its tables, or none);
earlier versions, and the pins on them, keep the old derivation. Datasets already derived
by these rules are left alone, so a second run changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from harmonise.journeys import Rules, default_rules, journey_rows, patient_facts
from harmonise.lake import Lake, Submission, arrow_schema
from harmonise.model import DATA_TABLES

#: Columns the lake fills in itself (row keys and the commit point's own values).
_KEYS = ("dataset_id", "centre_id", "submission_id")
_COMPUTED = (*_KEYS, "tags_json", "tags_signature", "row_counts_json", "committed_at")
DERIVED = ("regimens", "lines_of_therapy")


@dataclass
class RederiveReport:
    """What a re-derivation did, per dataset: (old submission, new submission, lines)."""

    rules_version: str
    changed: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)


def rederive(
    lake: Lake, rules: Rules | None = None, progress: Callable[[str], None] | None = None
) -> RederiveReport:
    """Re-derive the journeys of every dataset not yet derived by ``rules``."""
    rules = rules or default_rules()
    say = progress or (lambda _m: None)
    want = rules.to_json()
    report = RederiveReport(rules.version)
    version = lake.current_version()
    for ds in lake.visible_submissions(version).to_pylist():
        if ds.get("journey_rules") == want:
            report.unchanged.append(ds["dataset_id"])
            continue
        old = ds["submission_id"]
        tables = {name: lake.read(name, version=version, submissions=[old]) for name in DATA_TABLES}
        treatments = tables["treatments"].to_pylist()
        facts = patient_facts(
            tables["patients"].to_pylist(),
            tables["conditions"].to_pylist(),
            tables["outcomes"].to_pylist(),
            rules,
        )
        for t in treatments:
            if t.get("kind") in rules.systemic_kinds:
                t["line_of_therapy"] = None
        lines, regimens = journey_rows(treatments, facts, rules)
        new_rows = {"treatments": treatments, "lines_of_therapy": lines, "regimens": regimens}
        out: dict[str, pa.Table] = {}
        for name in DATA_TABLES:
            data = _rows(name, new_rows[name]) if name in new_rows else tables[name]
            data = data.drop_columns([c for c in _KEYS if c in data.column_names])
            if data.num_rows:
                out[name] = data
        new_id = hashlib.sha256(f"{old}\n{want}".encode()).hexdigest()
        dataset = {k: v for k, v in ds.items() if k not in _COMPUTED}
        dataset["journey_rules"] = want
        signed = json.loads(ds["tags_json"]) if ds.get("tags_json") else {}
        tags: dict[str, Any] = (signed.get("datasets") or {}).get(ds["dataset_id"], {})
        sub = Submission(new_id, ds["dataset_id"], ds["centre_id"], dataset, out, tags)
        lake.commit(sub)
        report.changed[ds["dataset_id"]] = (old, new_id, len(lines))
        say(f"{ds['dataset_id']}: {len(lines)} line(s) of therapy by rules {rules.version}")
    return report


def _rows(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    schema = arrow_schema(name)
    if not rows:
        return schema.empty_table()
    cols = [c for c in schema.names if c in rows[0] and c not in _KEYS]
    return pa.Table.from_pylist(
        [{c: r.get(c) for c in cols} for r in rows],
        schema=pa.schema([schema.field(c) for c in cols]),
    )
