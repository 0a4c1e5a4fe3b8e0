# The two commands of the README. Both set up the libtorch venv (first time only) themselves.
SHELL := /bin/bash
SETUP := source scripts/setup-torch.sh

.PHONY: demo test lint bench

## Set up everything and run the main job on the built-in default. Data: $SSAD_DATA_DIR when
## set, else the team's ../shared/data when present, else the per-user cache, where MNIST is
## downloaded (checksummed) on first use.
DEMO_DATA := $(or $(SSAD_DATA_DIR),$(if $(wildcard ../shared/data/mnist),../shared/data,))
DEMO_DATA_ARG := $(if $(DEMO_DATA),--data-dir $(DEMO_DATA),)
demo:
	$(SETUP) && cargo build --release -p ssad && ./target/release/ssad study run --preset demo --out ssad-out/demo $(DEMO_DATA_ARG) && ./target/release/ssad select --study ssad-out/demo --evaluate --quiet $(DEMO_DATA_ARG) && ./target/release/ssad report ssad-out/demo --out ssad-out/demo/report $(DEMO_DATA_ARG)

## Run the test suite (what CI runs): every crate without stopping at the first failure, the
## engine's tests again under capped instruction sets, and a one-line summary (scripts/test.sh).
test:
	bash scripts/browser-check.sh install && $(SETUP) && bash scripts/test.sh

## Formatting and lints, as required before every commit (the Python bindings of crates/ssad-py
## are behind its `python` feature, so they get a clippy run of their own).
lint:
	$(SETUP) && cargo fmt --all -- --check && cargo clippy --workspace --all-targets -- -D warnings && cargo clippy -p ssad-py --all-targets --features python -- -D warnings
