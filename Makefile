# The front door. Each target is idempotent.
VENV ?= .venv
TEST_WORKERS ?= 2
BIN := $(VENV)/bin
STAMP := $(VENV)/.sightline-installed

export YOLO_OFFLINE := 1
export YOLO_AUTOINSTALL := 0
export YOLO_CONFIG_DIR := $(CURDIR)/var/ultralytics

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml tools/setup.sh
	VENV=$(VENV) tools/setup.sh
	touch $(STAMP)

## Set up, then run the whole suite on the bundled video and summarise what it did.
demo: setup
	$(BIN)/sightline demo

## Set up, then run every test (a real Mosquitto, real SMTP, the real model and video), in
## TEST_WORKERS processes (pytest-xdist; most tests wait on brokers and services, so two
## halve the time on two cores; TEST_WORKERS=0 runs them in this one).
test: setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: setup
	for b in bench/[!_]*.py; do $(BIN)/python -m bench.$$(basename $$b .py) || exit 1; done

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
