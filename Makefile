# Targets: install, run, test, opa-check, browser, coverage, lint, bench, bench-deps, bench-load,
# parity, clean. Everything runs inside .venv,
# built from the pinned constraints in constraints.txt.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-owner opa-check browser coverage lint bench bench-deps bench-load parity clean

# OPA's own Go evaluator in-process (OPA v1.20.2), for tests only: the parity suite and the
# Rego unit tests run on it (tests/parity/opa_go.py). Not a pyproject dependency: its
# metadata asks for Python >= 3.14 although the wrapper is plain ctypes and works on 3.11,
# so it needs --ignore-requires-python, which a dependency list cannot say. Pinned here and in
# constraints.txt; without it (another platform) those checks are skipped, not failed.
$(STAMP): pyproject.toml clients/pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ./clients -e '.[dev]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --ignore-requires-python -c constraints.txt opa-golib-python-bindings==0.4.4 \
		|| echo "warning: OPA Go bindings unavailable; real-OPA checks will be skipped"
	touch $(STAMP)

install: $(STAMP)  ## create .venv with the service, the client and the dev tools

# The JavaScript JOSE interoperability test (tests/js) needs the npm package `jose`;
# without npm the test is skipped, saying why.
JS_DEPS := tests/js/node_modules/.package-lock.json
$(JS_DEPS): tests/js/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tests/js --no-audit --no-fund --loglevel=error \
		|| echo "warning: npm ci failed; the JavaScript JOSE test will be skipped"; \
	else echo "note: npm not found; the JavaScript JOSE test will be skipped"; fi

# The browser tests (tests/ui/test_browser.py) drive Debian's chromium through its
# chromium-driver (Selenium, pointed at /usr/bin/chromium and /usr/bin/chromedriver; never a
# browser download). Installed here as root where apt-get is (as in CI); elsewhere the
# browser tests are skipped, saying why.
browser:  ## Debian's chromium and chromium-driver for the browser tests (root with apt-get)
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends chromium chromium-driver >/dev/null; } \
		|| echo "warning: chromium could not be installed; the browser tests will be skipped"; \
	else echo "note: no chromium (needs root and apt-get); the browser tests will be skipped"; fi

run: install  ## serve on embedded defaults: regorus, SQLite, a dev signing key (migrates the store first)
	$(BIN)/release-gate db upgrade
	$(BIN)/release-gate serve

# pytest on two workers, one test file each at a time (--dist loadfile: a file's fixtures and
# servers stay in one process): CI has two cores, and the suite takes about half as long.
test: install $(JS_DEPS) browser  ## every test: the Rego unit tests (regorus, then OPA when found) and pytest
	$(BIN)/release-gate test policies
	@$(MAKE) --no-print-directory opa-check
	$(BIN)/python -m pytest -n 2 --dist loadfile

# A real OPA is a test tool, never a dependency: RELEASE_GATE_TEST_OPA_BIN, else `opa` on PATH
# (the lookup of tests/opa_server.py, whose real-OPA server tests skip likewise without one).
opa-check:  ## opa check --strict policies/ and opa test policies/ on a real OPA, when one is found
	@opa="$${RELEASE_GATE_TEST_OPA_BIN:-$$(command -v opa || true)}"; \
	if [ -z "$$opa" ]; then \
		echo "SKIPPED: opa check --strict policies/, opa test policies/: no opa binary" \
			"(set RELEASE_GATE_TEST_OPA_BIN or put opa on PATH)"; \
	elif [ ! -f "$$opa" ] || [ ! -x "$$opa" ]; then \
		echo "error: RELEASE_GATE_TEST_OPA_BIN=$$opa is not an executable file" >&2; exit 2; \
	else \
		echo "$$opa check --strict policies/ && $$opa test policies/"; \
		"$$opa" check --strict policies/ && "$$opa" test policies/; \
	fi

test-owner: install $(JS_DEPS) browser  ## the governance owner's check on the whole suite (slow, before a release)
	RELEASE_GATE_TEST_OWNER_FULL=1 $(BIN)/python -m pytest tests/test_governance_owner.py

coverage: install $(JS_DEPS) browser  ## the pytest suite with branch coverage of release_gate and release_gate_client
	$(BIN)/python -m pytest --cov --cov-branch --cov-report=term:skip-covered

lint: install  ## ruff, ruff format, mypy (strict), hadolint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile

bench: install  ## decision-time benchmark, printed as tables (run by hand)
	$(BIN)/python -m bench

# The HTTP load benchmark (bench/load.py) drives the servers with wrk, a compiled load
# generator: installed from the distribution's package (Debian/Ubuntu), only when missing.
bench-deps:  ## install wrk for the HTTP load benchmark, when missing (apt-get; sudo when not root)
	@if command -v wrk >/dev/null 2>&1; then echo "wrk: $$(command -v wrk)"; \
	elif command -v apt-get >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get install -y wrk || { $$SUDO apt-get update && $$SUDO apt-get install -y wrk; }; \
	else echo "no apt-get here: install wrk (https://github.com/wg/wrk) with your package manager" >&2; exit 1; fi

bench-load: install  ## HTTP load: release-gate serve vs a real OPA, with wrk (needs bench-deps; ~15 min)
	$(BIN)/python -m bench.load

parity: install  ## regorus vs OPA decisions: OPA Go in-process, and real OPA servers when opa is found (docs/opa.md)
	$(BIN)/python -m pytest tests/parity -v -rs

clean:
	rm -rf $(VENV) .release-gate .pytest_cache .mypy_cache .ruff_cache
