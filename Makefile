# oncolake — every target sets up what it needs; all are idempotent.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian tools the pipeline, its truth set, the browser tests, the SLURM test, the
# survival reference (R's survival package) and the serving benches (wrk) use.
DEB_TOOLS := bwa samtools bcftools tabix fastp mosdepth
DEB_PKGS := bwa samtools bcftools tabix fastp mosdepth art-nextgen-simulation-tools libhts-dev chromium chromium-driver slurm-wlm munge r-cran-survival wrk
# The somatic SV caller (workflows/dna_seq rules/sv.smk, issue 23).
DEB_PKGS += delly
# CNVkit's CBS segmentation (DNAcopy; workflows/dna_seq rules/cnv.smk, issue 23).
DEB_PKGS += r-bioc-dnacopy
# FreeBayes 1.3.6, the second somatic caller measured on the truth set
# (bench/pipeline/freebayes_truth.py, docs/pipeline_calls.md; issue 21).
DEB_PKGS += freebayes
PYTEST_ARGS ?=

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel setuptools
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

.PHONY: venv
venv: $(STAMP) ## Create .venv and install the Python packages

.PHONY: tools
tools: ## Install the Debian tools (bwa, samtools, bcftools, fastp, mosdepth, chromium, slurm) if missing
	@missing=""; \
	for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

.PHONY: postgres
postgres: ## Start the local PostgreSQL if it is down (used by the tests)
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || { \
	  command -v pg_ctlcluster >/dev/null && pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -1) main start || true; \
	  for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; }

.PHONY: setup
setup: venv tools ## Everything the demo and the tests need

.PHONY: test
test: setup postgres ## Set everything up and run the whole test suite
	$(BIN)/pytest $(PYTEST_ARGS)

.PHONY: demo
demo: setup ## Set everything up and run the demo on the embedded default (./.oncolake)
	$(BIN)/oncolake demo

.PHONY: lint
lint: venv ## ruff, ruff format --check and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

.PHONY: format
format: venv ## Format the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

.PHONY: bench
bench: setup ## Run the benchmarks in bench/ in turn (about 1.5 h; not part of make test)
	@command -v wrk >/dev/null || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python -m bench

.PHONY: clean
clean: ## Remove the embedded default's data (./.oncolake) and test artefacts
	rm -rf .oncolake .pytest_cache test-artefacts
