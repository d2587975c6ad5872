# The course's commands. `make book` and `make test` are the two a reader needs;
# both create (or reuse) .venv and install requirements.txt into it first.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
NOTEBOOKS := $(sort $(wildcard book/*.ipynb))
CHAPTERS := $(sort $(wildcard book/[0-9][0-9]-*.ipynb))
JB_BUILD := $(VENV)/bin/jupyter-book build . -W -n --keep-going
# Notebooks are executed and checked with one thread: the same reduction order both
# times (so stored numbers match to the last bit), and no thread contention on small ops.
NB_ENV := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

.PHONY: book test test-package test-notebooks execute assignments bench clean

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $(STAMP)

book: $(STAMP)
	$(JB_BUILD) --all
	@echo "Book built: $(CURDIR)/_build/html/index.html"

test-package: $(STAMP)
	$(PY) -m pytest tests --doctest-modules lenakernel benchmarks -q

test-notebooks: $(STAMP)
	$(NB_ENV) $(PY) -m pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
		-p no:cacheprovider -q $(NOTEBOOKS)

test: test-package test-notebooks book

# Re-execute every notebook in place, top to bottom, so each stored output is the code's.
execute: $(STAMP)
	$(NB_ENV) $(PY) scripts/execute_notebooks.py $(NOTEBOOKS)

assignments: $(STAMP)
	$(NB_ENV) $(PY) scripts/make_assignments.py $(CHAPTERS)

bench: $(STAMP)
	$(PY) benchmarks/run.py $(if $(DEVICE),--device $(DEVICE),)

clean:
	rm -rf _build
