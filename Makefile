# repbelt: the two commands a new machine needs are `make demo` and `make test`.
# Everything they need is installed here: system packages (Debian, as root), then a
# venv in .venv with the pinned requirements.lock and the host package (editable).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APT_PKGS := socat chromium dbus-daemon
SHARED ?= ../shared

.PHONY: setup sysdeps demo test bench data typecheck clean

setup: $(STAMP) data

sysdeps:
	@missing=""; for c in socat chromium dbus-daemon; do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing system packages:$$missing"; \
	    (apt-get install -y -qq $(APT_PKGS) >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq $(APT_PKGS))) ; \
	  else echo "missing system tools:$$missing (install: sudo apt-get install $(APT_PKGS))" >&2; exit 1; fi; \
	fi

$(STAMP): requirements.lock host/pyproject.toml
	$(MAKE) sysdeps
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e host
	touch $(STAMP)

# Labelled traces made by the physically grounded generator (not committed: a script makes them again).
data: $(STAMP)
	$(BIN)/python calibration_data/generator.py --out calibration_data/generated --quiet

demo: setup
	$(BIN)/repbelt demo

test: setup
	$(BIN)/python -m pytest -q -n 2 --dist worksteal tests

bench: setup
	$(BIN)/repbelt bench accuracy --variants
	$(BIN)/repbelt bench firmware

typecheck: setup
	$(BIN)/python -m repbelt.typecheck

clean:
	rm -rf $(VENV) calibration_data/generated
