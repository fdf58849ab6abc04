# memlab — the commands a newcomer needs: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PY    := .venv/bin/python
STAMP := .venv/.installed
PG_URL ?= postgres://postgres@127.0.0.1:5432/memlab
PYTEST_WORKERS ?= 2

.PHONY: run test lint typecheck test-unit test-pg bench gpu-check assets install migrate clean

$(PY):
	python3.11 -m venv .venv || python3 -m venv .venv

# Reinstall only when a requirements file changed.
$(STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

migrate: install
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py migrate --noinput

## make run: install, migrate, sync the course, create demo users, start web (127.0.0.1:8000) and a worker.
run: install
	bin/run-local

## make test: lint, format check, types, then the whole suite (SQLite pass, then the PostgreSQL + Redis pass).
test: install lint typecheck test-unit test-pg

lint:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	.venv/bin/lint-imports

typecheck:
	$(PY) -m mypy

test-unit:
	$(PY) -m pytest -n $(PYTEST_WORKERS) -m "not pg"

test-pg:
	DATABASE_URL=$(PG_URL) $(PY) -m pytest -m pg

bench: install
	$(PY) -m benchmarks

## make gpu-check: on a machine with CUDA, the gpu tests of reference/ and the reference benchmark on the GPU.
gpu-check: install
	PY=$(PY) bin/gpu-check

## make assets: rebuild the vendored front-end files from the npm registry (the built files are committed).
assets:
	cd frontend && npm ci && npm run build

clean:
	rm -rf var/test-*.sqlite3* .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
