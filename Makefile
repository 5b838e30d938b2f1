# Two entry points for a fresh clone (Python 3.11 and the package registries only):
#   make demo  - run the whole workflow on the embedded default (digits, CPU, no downloads)
#   make demo-mnist - the paper's MNIST experiments on the real MNIST, on the CPU (under 2 hours)
#   make test  - run the test suite (make test-fast: without the end-to-end runs)
# Both create .venv on first use: exactly requirements-lock.txt (what CI tests: every package pinned,
# with hashes), then the project itself with --no-deps; they reinstall only when the lock or
# pyproject.toml changes. `make lock` regenerates the lock from pyproject.toml's ranges.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements-lock.txt
STAMP := $(VENV)/.installed-$(shell cat $(LOCK) pyproject.toml | cksum | cut -d' ' -f1)
CORES ?= all

.PHONY: lock venv demo demo-mnist test test-fast test-slurm bench gpu-check report-docs report-docs-mnist clean-venv paper-smoke

venv: $(STAMP)

$(STAMP): $(LOCK) pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11 ...'" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

# The lock: every package of pyproject.toml's ranges (runtime and the test extra) and of their
# dependencies, pinned with the hashes of PyPI's files, for every platform (environment markers;
# torch is PyPI's build: CUDA on Linux). uv (pinned here, in a throwaway venv) resolves it and keeps
# the pins that still satisfy the ranges; UPGRADE=1 moves every pin to the newest release in range.
UV_VERSION := 0.13.10
lock:
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && $(PYTHON) -m venv "$$tmp" && \
	"$$tmp/bin/python" -m pip install --quiet uv==$(UV_VERSION) && \
	"$$tmp/bin/uv" pip compile pyproject.toml --extra test --universal --python-version 3.11 \
	  --generate-hashes --index-url https://pypi.org/simple --custom-compile-command "make lock" --quiet \
	  $(if $(UPGRADE),--upgrade) --output-file $(LOCK)

demo: venv
	$(BIN)/snakemake --cores $(CORES) --max-threads 1 --configfile config/config.yaml

# The paper's MNIST experiments on the real MNIST, on the CPU (config/mnist_cpu.yaml, at most 2 hours on
# 2 cores): the data from data/mnist (downloaded there with internet) or from MNIST_ROOT, a folder with
# the four IDX files (decompressed or .gz), e.g. make demo-mnist MNIST_ROOT=../shared/data/mnist
MNIST_ROOT ?=
MNIST_DATA = --config 'datasets={"mnist": {"source": "mnist", "root": "$(MNIST_ROOT)"}}'
demo-mnist: venv
	$(BIN)/snakemake --cores $(CORES) --max-threads 1 --configfile config/mnist_cpu.yaml $(if $(MNIST_ROOT),$(MNIST_DATA))

# pytest exits 5 when it collects no test: an empty suite is not a failure.
# In CI (CI=true, as root) the SLURM integration test then runs on a one-node cluster that
# it starts and stops itself (tests/slurm/cluster.sh); elsewhere it is skipped unless a
# cluster is up (see docs/running.md, "The SLURM integration test"). --durations lists the
# slowest tests, so that a CI log shows where its time goes.
test: venv
	$(BIN)/python -m pytest -n 2 --dist loadgroup --durations=20 $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "no tests collected: treated as success"; status=0; fi; \
	[ $$status -eq 0 ] || exit $$status; \
	if [ "$${CI:-}" = "true" ] && [ "$$(id -u)" = "0" ] && [ -z "$(PYTEST_ARGS)" ]; then \
	  $(MAKE) --no-print-directory test-slurm; fi

# The inner loop: the suite without the end-to-end tests (marked slow: real workflow runs, the
# paper smoke run, SLURM); 5 min 46 s on 2 idle cores (docs/development.md).
test-fast: venv
	$(BIN)/python -m pytest -n 2 --dist loadgroup -m "not slow" $(PYTEST_ARGS)

# The SLURM integration test on a one-node cluster on this machine (root; installs slurm-wlm).
test-slurm: venv
	NCSN_SLURM_AUTOSTART=1 $(BIN)/python -m pytest -m slurm tests/test_slurm.py

# Every stage of config/paper.yaml on CPU at tiny sizes (config/paper_smoke.yaml), on real-format
# fixtures with seeded random Inception weights, in results/paper-smoke/ (its own Snakemake folder).
SMOKE := results/paper-smoke
paper-smoke: venv
	$(BIN)/python -m ncsn fixtures --out $(SMOKE)/fixtures
	$(BIN)/snakemake --cores $(CORES) --max-threads 1 -d $(SMOKE) \
	  --configfile config/paper.yaml config/re_report.yaml config/paper_smoke.yaml
	@echo "tables: $(SMOKE)/results/report/results.md, $(SMOKE)/results/report/timing.md"

bench: venv
	$(BIN)/python -m benchmarks

# On a CUDA machine, under 8 minutes: training/sampling speed, memory and bf16 agreement at the
# paper's CIFAR-10 shape, written to benchmarks/results/gpu.json (see benchmarks/gpu.py).
gpu-check: venv
	$(BIN)/python -m benchmarks gpu

clean-venv:
	rm -rf $(VENV)

# Refresh the README's and docs/results.md's copies of the real-MNIST run's tables and figures after `make demo-mnist`.
report-docs-mnist:
	mkdir -p docs/figures
	cp results/report/results.md docs/figures/mnist_results.md
	cp results/report/timing.md docs/figures/mnist_timing.md
	cp results/figures/mnist/mnist_geometric/samples.png docs/figures/mnist_samples.png
	cp results/figures/mnist/mnist_baseline/samples.png docs/figures/mnist_baseline_samples.png
	cp results/figures/mnist/mnist_geometric/intermediate.png docs/figures/mnist_intermediate.png
	cp results/figures/mnist/mnist_geometric/inpainting.png docs/figures/mnist_inpainting.png
	cp results/neighbours/mnist/mnist_geometric/pixel.png docs/figures/mnist_neighbours.png

# Refresh the README's copies of the default run's tables and figures (docs/figures/) after `make demo`.
report-docs:
	mkdir -p docs/figures
	cp results/report/results.md results/report/timing.md docs/figures/
	cp results/toy/ssm_noise/fig1_ssm_loss.png results/toy/langevin_modes/fig3_langevin.png \
	   results/figures/digits/digits_geometric/samples.png \
	   results/figures/digits/digits_geometric/inpainting.png docs/figures/
