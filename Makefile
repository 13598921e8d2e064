# Everything a fresh machine needs: `make demo` and `make test` create .venv on first use.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-server-dev

.PHONY: install demo test lint typecheck pytest bench bench-smoke bench-deps test-deps clean catalogs

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[server,dev]'
	touch $(STAMP)

install: $(STAMP)

## The product's main job on the embedded default (SQLite, in-process bus, synthetic feed).
## `make demo PORT=8100` (or TRADEALERTS_PORT=8100 make demo) when 8000 is taken.
demo: $(STAMP)
	$(BIN)/tradealerts-server demo $(if $(PORT),--port $(PORT))

## The whole test suite: lint, types, tests.
test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

## The tests on PYTEST_XDIST_WORKERS processes (pytest-xdist; 0: in this process, as a bare
## `pytest` runs them). Most tests wait on servers, subprocesses and the network, so 4
## workers keep 2 cores busy. Each worker has its own ports (tests/server/serverkit.py's
## free_port), temp dirs and per-test databases; `loadfile` keeps a module's tests, and so
## its module-scoped server, on one worker.
PYTEST_XDIST_WORKERS ?= 4

pytest: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_XDIST_WORKERS) --dist loadfile

## Benchmarks: print figures against their targets; a check, failing when any target is
## missed (every bench runs, so all figures print, then the failures are named). A bench
## that cannot run (a tool missing) fails with its reason.
BENCHES = bench/bench_*.py
define run_benches
	@failed=""; for f in $(BENCHES); do echo "== $$f"; start=$$(date +%s); \
		$(1) $(BIN)/python $$f || failed="$$failed $$f"; \
		echo "== $$f: $$(( $$(date +%s) - start )) s"; done; \
	if [ -n "$$failed" ]; then echo "$(2) failed in$$failed"; exit 1; fi
endef

bench: $(STAMP) bench-deps
	$(call run_benches,,bench: missed targets or)

## Every benchmark at a tiny size (BENCH_SMOKE=1, bench/benchkit.py), run by CI: proves each
## still runs and its correctness checks (lost or doubled frames, errors) hold; its timing
## targets are printed, not checked. Non-zero on a crash, a failed check or a missing tool.
bench-smoke: $(STAMP) bench-deps
	$(call run_benches,BENCH_SMOKE=1,bench-smoke:)

## System packages the benchmarks need (Debian): wrk drives the HTTP benchmarks, taskset
## (util-linux) pins servers and load generators to their own cores; and the daemon's desktop.
BENCH_DEPS_CMDS := wrk taskset
BENCH_DEPS_PKGS := wrk util-linux

bench-deps: test-deps
	@missing=""; for c in $(BENCH_DEPS_CMDS); do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ]; then \
		echo "bench-deps: missing$$missing; installing $(BENCH_DEPS_PKGS)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(BENCH_DEPS_PKGS); \
	else echo "bench-deps: $(BENCH_DEPS_CMDS) present"; fi

## System packages the tests need (Debian): for the daemon's desktop notifications a D-Bus
## session bus, a real notification server (dunst) on a virtual X display (Xvfb) and
## notify-send; for the TUI's end-to-end test a real terminal, tmux.
TEST_DEPS_CMDS := dbus-daemon dunst dunstctl Xvfb notify-send tmux
TEST_DEPS_PKGS := dbus dunst xvfb libnotify-bin tmux
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

test-deps:
	@missing=""; for c in $(TEST_DEPS_CMDS); do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ]; then \
		echo "test-deps: missing$$missing; installing $(TEST_DEPS_PKGS)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(TEST_DEPS_PKGS); \
	else echo "test-deps: $(TEST_DEPS_CMDS) present"; fi

## Translations: extract every domain's messages into src/tradealerts/locale/<domain>.pot
## (what each domain reads: locale/babel-<domain>.cfg) and bring every language's .po up to
## date (a new message arrives empty, to be translated; tests/core/test_catalogs.py fails
## until it is). The .mo files are built by `make install` / any wheel build (hatch_build.py).
LOCALE_DIR := src/tradealerts/locale
DOMAINS := server client
LANGS := es de fr ja pt it

catalogs: $(STAMP)
	@for d in $(DOMAINS); do \
		$(BIN)/pybabel -q extract -F $(LOCALE_DIR)/babel-$$d.cfg -k N_ \
			--project=tradealerts --copyright-holder=tradealerts --msgid-bugs-address= \
			--sort-by-file --width=100 -o $(LOCALE_DIR)/$$d.pot src/tradealerts || exit 1; \
		for l in $(LANGS); do \
			if [ -f $(LOCALE_DIR)/$$l/LC_MESSAGES/$$d.po ]; then \
				$(BIN)/pybabel -q update -D $$d -l $$l -i $(LOCALE_DIR)/$$d.pot -d $(LOCALE_DIR) \
					--no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date --width=100 || exit 1; \
			else \
				$(BIN)/pybabel -q init -D $$d -l $$l -i $(LOCALE_DIR)/$$d.pot -d $(LOCALE_DIR) \
					--width=100 || exit 1; \
			fi; \
		done; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
