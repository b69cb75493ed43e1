# Pantau: the two commands a new user needs are `make demo` and `make test`.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT  ?= 8501
# The demo's generated feeds: two years of realistic JAKI and Qlue reports (seed 7).
DEMO_FEEDS ?= .cache/demo/feeds-2023-2024-seed7
DEMO_START ?= 2023-01-01
DEMO_END   ?= 2024-12-31

.DEFAULT_GOAL := help
.PHONY: help venv db-up db-down migrate boundaries demo-data demo serve test lint bench

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt scripts/bootstrap-venv.sh setup.py
	scripts/bootstrap-venv.sh
	touch $(STAMP)

venv: $(STAMP) ## Create .venv, install the pinned Python packages, build the row encoder
	@$(PY) setup.py -q build_ext --inplace

db-up: venv ## Start the project-local PostGIS (installing it if missing) or check DATABASE_URL
	$(PY) -m pipelines db up

db-down: venv ## Stop the project-local PostGIS (data is kept)
	$(PY) -m pipelines db down

migrate: db-up ## Apply the SQL migrations
	$(PY) -m pipelines migrate

boundaries: migrate ## Load the official BPS 2020 kelurahan boundaries
	$(PY) -m pipelines boundaries load

$(DEMO_FEEDS)/manifest.json: | venv
	$(PY) -m pipelines simulate --start $(DEMO_START) --end $(DEMO_END) --seed 7 --out $(DEMO_FEEDS)

demo-data: boundaries $(DEMO_FEEDS)/manifest.json ## Generate two years of feeds and ingest them (marts refreshed)
	$(PY) -m pipelines ingest --source jaki $(DEMO_FEEDS)/jaki
	$(PY) -m pipelines ingest --source qlue $(DEMO_FEEDS)/qlue

demo: demo-data ## Everything from nothing to the dashboard on http://localhost:8501
	$(MAKE) serve

serve: venv ## Serve the dashboard (no set-up)
	$(PY) -m streamlit run dashboard/app.py --server.port $(PORT) --server.headless true

test: db-up ## The whole test suite against a real PostGIS (a fresh test database)
	$(PY) -m pytest

lint: venv ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy geo pipelines dashboard bench

bench: boundaries ## The spatial-join benchmark (1,000,000 points)
	$(PY) -m bench spatial_join --points 1000000
