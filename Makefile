# The two commands of the README. Both set up the libtorch venv (first time only) themselves.
SHELL := /bin/bash
SETUP := source scripts/setup-torch.sh

.PHONY: demo test lint bench

## Set up everything and run the main job on the built-in default.
demo:
	$(SETUP) && cargo build --release -p ssad && ./target/release/ssad study run --preset demo --out ssad-out/demo --data-dir $${SSAD_DATA_DIR:-../shared/data} && ./target/release/ssad select --study ssad-out/demo --evaluate --quiet --data-dir $${SSAD_DATA_DIR:-../shared/data} && ./target/release/ssad report ssad-out/demo --out ssad-out/demo/report --data-dir $${SSAD_DATA_DIR:-../shared/data}

## Run the test suite (what CI runs): every crate without stopping at the first failure, the
## engine's tests again under capped instruction sets, and a one-line summary (scripts/test.sh).
test:
	bash scripts/browser-check.sh install && $(SETUP) && bash scripts/test.sh

## Formatting and lints, as required before every commit.
lint:
	$(SETUP) && cargo fmt --all -- --check && cargo clippy --workspace --all-targets -- -D warnings
