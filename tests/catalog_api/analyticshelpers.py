"""Run R's survival package on data sets and read its numbers back (the analytics tests'
reference). One ``Rscript`` run answers many data sets; each is a CSV with columns
``time``, ``event``, ``group`` and any covariates, and a spec of what to fit."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

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
