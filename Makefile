# Chokepoint: `make run` serves the default graph; `make test` runs everything CI runs. Both set up from scratch.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROTOS := $(wildcard proto/chokepoint/v1/*.proto)
GENERATED := $(PROTOS:.proto=_pb2.py)
BUF_VERSION := 1.75.0
BUF := .tools/node_modules/.bin/buf
N ?= 100000
SEED ?= 0
OUT ?= .chokepoint/graphs/n$(N)

.PHONY: setup proto run test lint pytest bench bench-scale bench-ceiling graph certs clean

setup: $(STAMP) proto

$(STAMP): pyproject.toml server/core/_kernels.pyx
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

proto/chokepoint/v1/%_pb2.py: proto/chokepoint/v1/%.proto $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -Iproto --python_out=proto --pyi_out=proto --grpc_python_out=proto $<

proto: $(GENERATED)

$(BUF):
	npm install --prefix .tools --no-save --no-audit --no-fund --silent @bufbuild/buf@$(BUF_VERSION)

run: setup
	$(BIN)/python -m server $(ARGS)

test: setup $(BUF) lint pytest

pytest: setup $(BUF)
	BUF=$(BUF) $(BIN)/python -m pytest $(ARGS)

lint: setup $(BUF)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BUF) lint

bench: setup
	$(BIN)/python -m bench $(ARGS)

# Issue 7's scale check: 10M companies / ~50M links through the real service (many minutes; bench/scale-results.md).
bench-scale: setup
	$(BIN)/python -m bench.scale $(ARGS)

# What a Python gRPC server can answer at all on this machine, under a C load generator (needs h2load: Debian
# package nghttp2-client); results in bench/ceiling-results.md.
bench-ceiling: setup
	$(BIN)/python -m bench.ceiling $(ARGS)

graph: setup
	$(BIN)/python -m graphs.generate --companies $(N) --seed $(SEED) --out $(OUT)

# A local development CA plus server (localhost) and client certificates, for TLS and mTLS (docs/security.md).
certs: setup
	$(BIN)/python -m server.certs --out .chokepoint/certs

clean:
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache proto/chokepoint/v1/*_pb2*.py* build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
