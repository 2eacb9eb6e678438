# The README's two commands: `make run` and `make test`. Both create .venv when it is missing.
# `make run` installs only what serving needs (stamp .installed-serve); `make test` and the
# developer targets install the test and dev extras too (stamp .installed, which also counts as
# the serve install, so `make test` then `make run` installs nothing more).
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SERVE_STAMP := $(VENV)/.installed-serve

.PHONY: run test test-all bench lint typecheck fuzz clean debian-tools

# Debian tools the interop tests drive, as command:package. Installed through apt-get when it is
# available and we are root; otherwise the tests that need them skip with a visible reason.
DEBIAN_TOOLS := swaks:swaks mbsync:isync

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(SERVE_STAMP): $(PY) pyproject.toml
	$(PY) -m pip install -q -e .
	touch $(SERVE_STAMP)

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install -q -e '.[test,dev]'
	touch $(STAMP) $(SERVE_STAMP)

debian-tools:
	@missing=""; for t in $(DEBIAN_TOOLS); do command -v $${t%%:*} >/dev/null || missing="$$missing $${t#*:}"; done; \
	if [ -n "$$missing" ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian packages:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null 2>&1 \
	    || echo "apt-get could not install$$missing; the tests that need them will skip"; \
	fi

run: $(SERVE_STAMP)
	STALWART_IMAP_ALLOW_PLAINTEXT_AUTH=true $(VENV)/bin/stalwart-py serve

test: $(STAMP) debian-tools
	$(PY) -m pytest -q

test-all: $(STAMP) debian-tools
	$(PY) -m pytest -q -m ''

bench: $(STAMP)
	$(PY) -m tests.bench.run

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy stalwart_py store protocols cluster

fuzz: $(STAMP)
	$(PY) -m pip install -q -e '.[fuzz]'
	$(PY) -m fuzz.run

clean:
	rm -rf $(VENV) build *.egg-info
