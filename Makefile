# make setup: idempotent machine + virtualenv setup (fast when already done)
# make test:  setup, then lint, type-check and the whole test suite
# make demo:  setup, then the seed walkthrough (grows with each feature)
# make seccomp-profile: rewrite lamina/runtime/seccomp/default.json from the code
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# runc runs containers; busybox-static and mmdebstrap make base images without a
# registry; tini is the --init process; gcc and libc6-dev build the static syscall probe
# the confinement tests run inside containers; the rest are the kernel tools containers
# and networks use.
APT_PACKAGES := runc busybox-static mmdebstrap tini gcc libc6-dev \
  iproute2 iptables util-linux procps tar gzip

.PHONY: setup system venv test lint unit demo bench clean seccomp-profile

setup: system venv

system:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null \
	  | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# Bytecode ahead of time: with PYTHONDONTWRITEBYTECODE set (as on our machines) every
# command would otherwise compile the modules it imports, ~25 ms a CLI start.
venv: $(STAMP)
	$(BIN)/python -m compileall -q lamina

$(STAMP): pyproject.toml requirements-dev.txt Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	# compat mode: a plain path in a .pth file. The default editable finder costs every
	# interpreter start ~13 ms of imports (pathlib, importlib.util), every CLI command too.
	$(BIN)/pip install -q --disable-pip-version-check --no-deps \
	  --config-settings editable_mode=compat -e .
	# The lamina command needs only the standard library: its launcher skips `site`
	# (python -S, ~2.5 ms a command) and puts the project on the path itself.
	printf '#!%s -S\nimport sys\n\nsys.path.insert(0, "%s")\nfrom lamina.cli.main import run\n\nrun()\n' \
	  "$(abspath $(BIN))/python" "$(CURDIR)" > $(BIN)/lamina
	touch $(STAMP)

lint: setup
	$(BIN)/ruff check lamina tests bench
	$(BIN)/ruff format --check lamina tests bench
	$(BIN)/mypy

# The unit tier needs no privileges: as root it runs with every capability dropped (uid 0
# with none of root's powers), so a test that needs one fails there and belongs in
# tests/integration, which runs as root with real runc, overlayfs and daemons.
DROP_ALL := setpriv --bounding-set=-all --inh-caps=-all --securebits=+noroot,+noroot_locked --
UNPRIVILEGED := $(if $(filter 0,$(shell id -u)),$(DROP_ALL))

test: lint
	$(UNPRIVILEGED) $(BIN)/pytest -q tests/unit
	$(BIN)/pytest -q tests/integration

unit: setup
	$(UNPRIVILEGED) $(BIN)/pytest -q tests/unit

demo: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" examples/demo.sh

seccomp-profile: setup
	$(BIN)/python -m lamina.runtime.seccomp

bench: setup
	$(BIN)/python bench/cli_latency.py
	$(BIN)/python bench/run_bench.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
