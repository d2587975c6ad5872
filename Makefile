# The course's commands. `make book` and `make test` are the two a reader needs;
# both create (or reuse) .venv and install requirements.txt into it first.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
NOTEBOOKS := $(sort $(wildcard book/*.ipynb))
CHAPTERS := $(sort $(wildcard book/[0-9][0-9]*-*.ipynb))
# The reader editions: the chapters in plain Jupyter markdown, for Colab, Binder and students.
READER_CHAPTERS := $(patsubst book/%,reader/%,$(CHAPTERS))
JB_BUILD := $(VENV)/bin/jupyter-book build . -W -n --keep-going
# Notebooks are executed and checked with one thread: the same reduction order both
# times (so stored numbers match to the last bit), and no thread contention on small ops.
NB_ENV := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
# axe-core for the browser test's accessibility check: the version and checksum pinned in
# tests/axe/package-lock.json, installed with npm into _build/axe (the test reads it
# from there and needs no network afterwards).
AXE := _build/axe/node_modules/axe-core/axe.min.js

.PHONY: book test test-package test-notebooks execute reader assignments bench dist pdf axe clean

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $(STAMP)

book: $(STAMP)
	$(JB_BUILD) --all
	@echo "Book built: $(CURDIR)/_build/html/index.html"

axe: $(AXE)

$(AXE): tests/axe/package.json tests/axe/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		mkdir -p _build/axe && cp tests/axe/package.json tests/axe/package-lock.json _build/axe/ && \
		(cd _build/axe && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) && touch $@; \
	else \
		echo "npm not found: the browser test's accessibility check is skipped (required under CI)"; \
	fi

test-package: $(STAMP) $(AXE)
	$(PY) -m pytest tests --doctest-modules lenakernel benchmarks -q

test-notebooks: $(STAMP)
	$(NB_ENV) $(PY) -m pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
		-p no:cacheprovider -q $(NOTEBOOKS)

test: test-package test-notebooks book

# Re-execute every notebook in place, top to bottom, so each stored output is the code's
# (after pinning the package's version in each install cell); then rewrite the reader
# editions (reader/) from the executed notebooks.
execute: $(STAMP)
	$(PY) scripts/write_install_cell.py $(NOTEBOOKS)
	$(NB_ENV) $(PY) scripts/execute_notebooks.py $(NOTEBOOKS)
	$(PY) scripts/make_reader_editions.py $(NOTEBOOKS)

reader: $(STAMP)
	$(PY) scripts/make_reader_editions.py $(NOTEBOOKS)

# Student copies (in _build/assignments/) are made from the reader editions, and so is
# the otter-grader coursework (in _build/assignments/otter/): per chapter a student
# notebook, an autograder zip with hidden tests, and a solution notebook.
assignments: reader
	$(PY) scripts/make_assignments.py $(READER_CHAPTERS)
	$(PY) scripts/make_otter.py $(READER_CHAPTERS)

bench: $(STAMP)
	$(PY) -m benchmarks.run $(if $(DEVICE),--device $(DEVICE),)

# Release tools live apart from the book's environment (see requirements-release.txt).
RELEASE_VENV := _build/release-venv
$(RELEASE_VENV)/.installed-stamp: requirements-release.txt
	@test -x $(RELEASE_VENV)/bin/python || $(PYTHON) -m venv $(RELEASE_VENV)
	$(RELEASE_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-release.txt
	@touch $@

# The sdist and wheel of the package, their metadata checked, the wheel installed into a
# clean environment and its docstring examples run there.
dist: $(STAMP) $(RELEASE_VENV)/.installed-stamp
	rm -rf dist
	$(RELEASE_VENV)/bin/python -m build --outdir dist .
	$(RELEASE_VENV)/bin/twine check --strict dist/*
	$(PY) scripts/check_dist.py dist

# The whole book as one PDF (needs Chromium): _build/pdf/attention-is-a-kernel-method.pdf
pdf: $(STAMP)
	$(PY) scripts/build_pdf.py

clean:
	rm -rf _build
