# cso_geo developer commands. `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck pytest bench bench-network bench-geocode bench-hotspots bench-accuracy bench-maps bench-routes bench-beats sample clean venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## Run the whole pipeline on the bundled sample city; outputs land in maps/ and out/.
demo: $(STAMP)
	$(BIN)/cso-geo demo

## Lint, type-check and run the test suite (what CI runs).
test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check cso_geo tests benchmarks
	$(BIN)/ruff format --check cso_geo tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy cso_geo

pytest: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Benchmarks print their figures; they are never part of `make test`.
bench: bench-network bench-geocode bench-hotspots bench-accuracy bench-maps bench-routes bench-beats

bench-network: $(STAMP)
	cd benchmarks && ../$(BIN)/python bench_network.py

bench-geocode: $(STAMP)
	cd benchmarks && ../$(BIN)/python bench_geocode.py

bench-hotspots: $(STAMP)
	cd benchmarks && ../$(BIN)/python bench_hotspots.py

## Hotspot accuracy (PAI/PEI against the naive baseline, recovery of planted hotspots, SF).
bench-accuracy: $(STAMP)
	cd benchmarks && ../$(BIN)/python bench_hotspot_accuracy.py

bench-maps: $(STAMP)
	cd benchmarks && ../$(BIN)/python bench_maps.py

bench-routes: $(STAMP)
	cd benchmarks && ../$(BIN)/python bench_routes.py

## Beats: 8 beats on Baltimore in 25 m units (timed), then every method against the k-means baseline.
bench-beats: $(STAMP)
	cd benchmarks && ../$(BIN)/python bench_beats.py --compare

## Regenerate the committed sample CAD export byte-identically.
sample: $(STAMP)
	$(BIN)/cso-geo sample --osm helsinki --months 12 --seed 1 --start 2025-01-01 --out data/helsinki_cad_2025.csv

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache out
