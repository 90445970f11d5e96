# Two commands do all the set-up on a fresh machine (README.md):
#   make run   — install, migrate, start the platform on embedded defaults at http://127.0.0.1:8000
#   make test  — install, start the real engines (scripts/services), run every test
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)

.PHONY: help install run test test-fast bench lint format services-up services-down web test-web

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

install: ## Install uv (from PyPI) if missing and the locked Python dependencies
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

run: install web ## Start the platform on embedded defaults (SQLite, in-process cache, local files)
	@scripts/go2rtc-build || echo "make: go2rtc could not be built (see above): WebRTC live view is off, HLS still plays" >&2
	$(UV) run vms serve

test: install web test-web ## Start the real engines and run the whole test suite (lint and types included)
	scripts/web-prereqs chromium
	$(UV) run ruff check src tests bench
	$(UV) run mypy
	set -a && eval "$$(scripts/services up)" && set +a && \
	  $(UV) run pytest tests/contract tests/integration tests/e2e; serial=$$?; \
	  $(UV) run pytest -n 2 --dist loadfile tests/unit; unit=$$?; \
	  exit $$(( serial || unit ))

test-fast: install ## Unit tests only, no engines
	$(UV) run pytest -n 2 --dist loadfile tests/unit

bench: install ## Benchmarks (each prints one JSON line of figures)
	@for b in bench/*.py; do case $$b in */http_load.py|*/api_latency_server.py|*/__init__.py) continue;; esac; \
	  echo "# $$b" >&2; $(UV) run python $$b || exit 1; done

lint: install ## ruff (lint + format check) and mypy
	$(UV) run ruff check src tests bench
	$(UV) run ruff format --check src tests bench
	$(UV) run mypy

format: install ## Apply ruff's formatting and safe fixes
	$(UV) run ruff format src tests bench
	$(UV) run ruff check --fix src tests bench

services-up: ## Start PostgreSQL and Redis on 127.0.0.1 (data under .services/)
	scripts/services up

services-down: ## Stop them
	scripts/services down

# The web console (web/): npm ci only when node_modules is missing or package-lock.json changed,
# then a build when a source changed. The api role serves web/dist at "/".
WEB_SOURCES := $(shell find web/src web/public web/scripts -type f 2>/dev/null) \
	web/index.html web/vite.config.ts web/tsconfig.json web/package.json

web/node_modules/.installed: web/package-lock.json
	@scripts/web-prereqs node
	cd web && npm ci --no-audit --no-fund
	@touch $@

web/dist/index.html: web/node_modules/.installed $(WEB_SOURCES)
	cd web && npm run build

web: web/dist/index.html ## Build the web console into web/dist (npm ci when needed)

test-web: web/node_modules/.installed ## Vitest component tests of the web console
	cd web && npm test -- --run
