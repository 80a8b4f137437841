# aotc — newcomer commands:
#   make demo    compile the bundled example model with aotc, run it from C++, compare with TensorFlow
#   make test    install the test extra into .venv and run the test suite
# Helpers: make bench, make clean (build outputs), make distclean (also .venv).
#
# Variables: PYTHON (interpreter that creates the venv, default python3), VENV (default .venv),
# PYTEST_ARGS (extra pytest arguments, e.g. PYTEST_ARGS="-k packaging -x"), BENCH_ARGS,
# KERNEL_BENCH_ARGS, COMPILE_BENCH_ARGS.

PYTHON ?= python3
VENV ?= .venv
VENV_PY := $(VENV)/bin/python
VENV_AOTC := $(VENV)/bin/aotc
PIP := $(VENV_PY) -m pip
PIP_QUIET ?= -q
PYTEST_ARGS ?=
BENCH_ARGS ?=
KERNEL_BENCH_ARGS ?=
COMPILE_BENCH_ARGS ?=

# Stamps: reinstall only when pyproject.toml changes (or the venv is new).
STAMP_BASE := $(VENV)/.aotc-base.stamp
STAMP_DEV := $(VENV)/.aotc-dev.stamp
STAMP_TEST := $(VENV)/.aotc-test.stamp
STAMP_BENCH := $(VENV)/.aotc-bench.stamp

.PHONY: demo test bench clean distclean venv install install-test help

help:
	@echo "make demo    compile examples/mlp with aotc, link it into a C++ program, compare with TensorFlow"
	@echo "make test    pip install -e '.[test]' into $(VENV) and run pytest (PYTEST_ARGS=...)"
	@echo "make bench   install the bench extra, run benchmarks/run.py (BENCH_ARGS=..., e.g. --quick),"
	@echo "             kernels.py (KERNEL_BENCH_ARGS=...) and compile_time.py (COMPILE_BENCH_ARGS=...)"
	@echo "make clean   remove build outputs; make distclean also removes $(VENV)"

demo: $(STAMP_DEV)
	AOTC="$(abspath $(VENV_AOTC))" bash examples/demo.sh

test: $(STAMP_TEST)
	$(VENV_PY) -m pytest -q tests $(PYTEST_ARGS)

bench: $(STAMP_BENCH)
	@if [ -f benchmarks/run.py ]; then \
		$(VENV_PY) benchmarks/run.py $(BENCH_ARGS); \
	else \
		echo "benchmarks/run.py does not exist yet"; exit 1; \
	fi
	$(VENV_PY) benchmarks/kernels.py $(KERNEL_BENCH_ARGS)
	$(VENV_PY) benchmarks/compile_time.py $(COMPILE_BENCH_ARGS)

venv: $(STAMP_BASE)
install: $(STAMP_DEV)
install-test: $(STAMP_TEST)

# The venv itself, with a build backend recent enough for pyproject.toml (so that
# --no-build-isolation builds work inside it).
$(STAMP_BASE):
	@test -x $(VENV_PY) || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	$(PIP) install $(PIP_QUIET) "setuptools>=68" wheel
	@touch $@

# aotc itself, editable.
$(STAMP_DEV): pyproject.toml $(STAMP_BASE)
	$(PIP) install $(PIP_QUIET) -e .
	@touch $@

# aotc with the [test] extra (pytest, tensorflow-cpu); implies the plain install.
$(STAMP_TEST): pyproject.toml $(STAMP_BASE)
	$(PIP) install $(PIP_QUIET) -e '.[test]'
	@touch $@ $(STAMP_DEV)

# aotc with the [bench] extra (onnxruntime, tf2onnx, threadpoolctl, tensorflow-cpu).
$(STAMP_BENCH): pyproject.toml $(STAMP_BASE)
	$(PIP) install $(PIP_QUIET) -e '.[bench]'
	@touch $@ $(STAMP_DEV)

clean:
	rm -rf build dist .pytest_cache *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
