"""Run R's survival package on data sets and read its numbers back (the analytics tests'
reference). One ``Rscript`` run answers many data sets; each is a CSV with columns
``time``, ``event``, ``group`` and any covariates, and a spec of what to fit."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from catalog_api.analytics.journeys import CodeBooks, Journeys, assemble, build_piece

R_SCRIPT = r"""
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
specs <- read.delim(args[1], stringsAsFactors = FALSE)
out <- file(args[2], "w")
put <- function(name, key, x) {
  x <- as.numeric(x)
  cat(name, "\t", key, "\t", paste(sprintf("%.17g", x), collapse = " "), "\n", sep = "",
      file = out)
}
for (i in seq_len(nrow(specs))) {
  s <- specs[i, ]
  d <- read.csv(s$csv)
  if (grepl("km", s$what)) {
    f <- survfit(Surv(time, event) ~ 1, data = d, conf.type = "log-log")
    put(s$name, "km.time", f$time)
    put(s$name, "km.n.risk", f$n.risk)
    put(s$name, "km.n.event", f$n.event)
    put(s$name, "km.surv", f$surv)
    put(s$name, "km.std.err", f$std.err)
    put(s$name, "km.lower", f$lower)
    put(s$name, "km.upper", f$upper)
    q <- quantile(f, c(0.25, 0.5, 0.75))
    put(s$name, "km.q", q$quantile)
    put(s$name, "km.q.lower", q$lower)
    put(s$name, "km.q.upper", q$upper)
  }
  if (grepl("logrank", s$what)) {
    sd <- survdiff(Surv(time, event) ~ factor(group), data = d)
    put(s$name, "lr.chisq", sd$chisq)
    put(s$name, "lr.df", length(sd$n) - 1)
    put(s$name, "lr.p", pchisq(sd$chisq, length(sd$n) - 1, lower.tail = FALSE))
    put(s$name, "lr.obs", sd$obs)
    put(s$name, "lr.exp", sd$exp)
  }
  if (grepl("cox", s$what)) {
    fml <- as.formula(paste("Surv(time, event) ~", s$covariates))
    m <- coxph(fml, data = d, ties = "efron")
    sm <- summary(m)
    put(s$name, "cox.coef", coef(m))
    put(s$name, "cox.se", sqrt(diag(vcov(m))))
    put(s$name, "cox.lower", sm$conf.int[, "lower .95"])
    put(s$name, "cox.upper", sm$conf.int[, "upper .95"])
    put(s$name, "cox.p", sm$coefficients[, "Pr(>|z|)"])
    put(s$name, "cox.loglik", m$loglik)
  }
}
close(out)
"""


@dataclass
class RData:
    """One data set for R: rows and what to fit (``km``, ``logrank``, ``cox``)."""

    name: str
    time: np.ndarray
    event: np.ndarray
    group: np.ndarray | None = None
    covariates: dict[str, np.ndarray] = field(default_factory=dict)
    what: str = "km"
    formula: str = ""


def rscript() -> str:
    """The path of Rscript with the survival package, or skip with the reason."""
    exe = shutil.which("Rscript")
    if exe is None:
        pytest.skip(
            "needs Rscript with R's survival package (Debian r-cran-survival; make tools "
            "installs it): the estimates are checked against R"
        )
    return exe


def run_r(datasets: list[RData], workdir: Path) -> dict[str, dict[str, np.ndarray]]:
    """R's numbers per data set name and key (``km.surv``, ``lr.chisq``, ``cox.coef`` …)."""
    exe = rscript()
    workdir.mkdir(parents=True, exist_ok=True)
    rows = ["name\tcsv\twhat\tcovariates"]
    for d in datasets:
        path = workdir / f"{d.name}.csv"
        cols = {"time": d.time, "event": d.event.astype(int)}
        if d.group is not None:
            cols["group"] = d.group
        cols.update(d.covariates)
        names = list(cols)
        with path.open("w") as fh:
            fh.write(",".join(names) + "\n")
            for i in range(len(d.time)):
                fh.write(",".join(repr(float(cols[c][i])) for c in names) + "\n")
        rows.append(f"{d.name}\t{path}\t{d.what}\t{d.formula or 'group'}")
    spec = workdir / "specs.tsv"
    spec.write_text("\n".join(rows) + "\n")
    script = workdir / "fit.R"
    script.write_text(R_SCRIPT)
    out = workdir / "out.tsv"
    proc = subprocess.run(
        [exe, str(script), str(spec), str(out)], capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0:
        raise AssertionError(f"Rscript failed: {proc.stderr}")
    result: dict[str, dict[str, np.ndarray]] = {}
    for line in out.read_text().splitlines():
        name, key, values = line.split("\t")
        result.setdefault(name, {})[key] = np.array(
            [float("nan") if v in ("NA", "NaN") else float(v) for v in values.split()]
        )
    return result


# -- journey fixtures ------------------------------------------------------------------------

#: Regimens of the synthetic journeys (names as the regimen library gives them, or drugs).
REGIMENS = (
    ("dabrafenib", "trametinib"),
    ("ipilimumab", "nivolumab"),
    ("pembrolizumab",),
    ("carboplatin", "paclitaxel"),
    ("nivolumab",),
    ("temozolomide",),
)
REGIMEN_NAMES = {("carboplatin", "paclitaxel"): "CarboTaxol"}


def journey_tables(n: int, seed: int = 7, submission: str = "S1") -> dict[str, pa.Table]:
    """Synthetic lake rows of ``n`` patients in the journeys contract (docs/ingest.md):
    patients with anchor, death and last-alive days; one primary condition each; 0–4 lines
    of therapy with start, end, end reason and next line; treatments with start years."""
    rng = np.random.default_rng(seed)
    pids = [f"{submission}-p{i:05d}" for i in range(n)]
    anchor = rng.choice(["primary_diagnosis", "first_record", None], n, p=[0.9, 0.07, 0.03])
    follow = np.ceil(rng.exponential(900, n))
    died = rng.random(n) < 0.55
    pats = {
        "patient_id": pids,
        "submission_id": [submission] * n,
        "anchor": anchor.tolist(),
        "death_day": [int(f) if d else None for f, d in zip(follow, died, strict=True)],
        "last_known_alive_day": [
            int(max(f - rng.integers(0, 30), 0)) if d else int(f)
            for f, d in zip(follow, died, strict=True)
        ],
        "sex": rng.choice(["female", "male", "unknown"], n, p=[0.5, 0.47, 0.03]).tolist(),
    }
    stages = rng.choice(["IA", "IIB", "IIIC", "IV", "Stage IV", None], n)
    cond = {
        "patient_id": pids,
        "submission_id": [submission] * n,
        "kind": ["primary"] * n,
        "diagnosis_day": [0] * n,
        "age_at_diagnosis": [
            int(a) if rng.random() > 0.02 else None for a in rng.normal(62, 11, n)
        ],
        "stage_group": stages.tolist(),
        "stage_group_display": [None] * n,
    }
    lot: dict[str, list] = {
        c: []
        for c in (
            "patient_id",
            "submission_id",
            "line",
            "drugs",
            "regimen_name",
            "start_day",
            "end_day",
            "end_reason",
            "next_line_start_day",
        )
    }
    tr: dict[str, list] = {
        "patient_id": [],
        "submission_id": [],
        "line_of_therapy": [],
        "start_year": [],
    }
    weights = np.array([0.35, 0.25, 0.2, 0.1, 0.07, 0.03])
    for i, pid in enumerate(pids):
        k = int(rng.choice(5, p=[0.15, 0.35, 0.3, 0.15, 0.05]))
        day = int(rng.integers(5, 60))
        end_of_life = float(follow[i])
        for line in range(1, k + 1):
            if day >= end_of_life:
                break
            drugs = REGIMENS[int(rng.choice(len(REGIMENS), p=weights))]
            dur = int(np.ceil(rng.exponential(150)))
            end = min(day + dur, int(end_of_life))
            nxt = end + int(rng.integers(10, 90))
            last = line == k or nxt >= end_of_life
            lot["patient_id"].append(pid)
            lot["submission_id"].append(submission)
            lot["line"].append(line)
            lot["drugs"].append(list(drugs))
            lot["regimen_name"].append(REGIMEN_NAMES.get(drugs))
            lot["start_day"].append(day)
            lot["end_day"].append(end)
            if last:
                reason = (
                    "ongoing"
                    if not died[i] and rng.random() < 0.4
                    else ("death" if died[i] else "last_contact")
                )
            else:
                reason = "progression" if rng.random() < 0.5 else "next_line"
            lot["end_reason"].append(reason)
            lot["next_line_start_day"].append(None if last else nxt)
            for _ in drugs:
                tr["patient_id"].append(pid)
                tr["submission_id"].append(submission)
                tr["line_of_therapy"].append(line)
                tr["start_year"].append(2015 + (day // 365) + int(rng.integers(0, 2)))
            if last:
                break
            day = nxt
    lot_schema = pa.schema(
        [
            ("patient_id", pa.string()),
            ("submission_id", pa.string()),
            ("line", pa.int32()),
            ("drugs", pa.list_(pa.string())),
            ("regimen_name", pa.string()),
            ("start_day", pa.int32()),
            ("end_day", pa.int32()),
            ("end_reason", pa.string()),
            ("next_line_start_day", pa.int32()),
        ]
    )
    return {
        "patients": pa.table(
            pats,
            schema=pa.schema(
                [
                    ("patient_id", pa.string()),
                    ("submission_id", pa.string()),
                    ("anchor", pa.string()),
                    ("death_day", pa.int32()),
                    ("last_known_alive_day", pa.int32()),
                    ("sex", pa.string()),
                ]
            ),
        ),
        "conditions": pa.table(
            cond,
            schema=pa.schema(
                [
                    ("patient_id", pa.string()),
                    ("submission_id", pa.string()),
                    ("kind", pa.string()),
                    ("diagnosis_day", pa.int32()),
                    ("age_at_diagnosis", pa.int32()),
                    ("stage_group", pa.string()),
                    ("stage_group_display", pa.string()),
                ]
            ),
        ),
        "lines_of_therapy": pa.table(lot, schema=lot_schema),
        "treatments": pa.table(
            tr,
            schema=pa.schema(
                [
                    ("patient_id", pa.string()),
                    ("submission_id", pa.string()),
                    ("line_of_therapy", pa.int32()),
                    ("start_year", pa.int32()),
                ]
            ),
        ),
    }


def journeys_of(tables: dict[str, pa.Table], centre: str = "C1", country: str = "NL") -> Journeys:
    """:class:`Journeys` of fixture tables, patient i in slot i (as one submission)."""
    codes = CodeBooks()
    ids = tables["patients"].column("patient_id").combine_chunks()
    piece = build_piece(tables, ids, np.arange(len(ids)), centre, country, codes)
    return assemble("v-test", len(ids), [piece], codes)
