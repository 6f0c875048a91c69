# Agora — `make run` starts everything, `make test` runs the suite. Only Python 3.11+ needed.
# `make run` listens on $HOST:$PORT (default 127.0.0.1:8000; the environment or `.env`).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench bench-ws bench-export bench-jobs bench-webhooks contract ci venv migrate clean \
	coverage coverage-report security audit bandit secrets schema schema-check mutation loadtest soak

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Agora needs Python 3.11 or newer")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

venv: $(STAMP)

migrate: venv
	@$(PY) manage.py migrate --noinput

run: migrate
	@$(PY) manage.py seed_demo
	@$(PY) manage.py ensure_admin
	@$(PY) manage.py serve

# The suite in PYTEST_WORKERS processes (pytest-xdist; one file per worker at a time, since
# files share module fixtures; tests/parallel.py gives each its own SQLite file and Redis
# database). PYTEST_WORKERS=0 runs it in this one process.
PYTEST_WORKERS ?= 2
test: venv
	@$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The suite as `make test`, measuring line coverage of the apps (pyproject's [tool.coverage];
# servers and workers the tests start are measured too), then the per-app table and the floor
# (tests/gates/coverage_report.py). The floor is for both modes combined, as CI measures it:
#   make coverage PYTEST_ARGS=--no-skips DATABASE_URL=postgres://… REDIS_URL=redis://…
#   make coverage COVERAGE_APPEND=1        # then the embedded run added to it
coverage: venv
	@$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --cov --cov-report= --cov-fail-under=0 \
		$(if $(COVERAGE_APPEND),--cov-append) $(PYTEST_ARGS)
	@$(PY) -m tests.gates.coverage_report

# The per-app table and the floor, from the data the last measured runs saved.
coverage-report: venv
	@$(PY) -m tests.gates.coverage_report

# Supply chain and static checks (CI runs them all): known vulnerabilities in the pinned
# requirements, bandit over the apps, no secret-looking literal in a tracked file.
security: audit bandit secrets

audit: venv
	@$(PY) -m tests.gates.audit_deps $(AUDIT_ARGS)

# Findings are fixed or marked `# nosec BXXX` with the reason on the line. Bandit warns about
# each line of a multi-line statement that carries a `nosec` but no finding: noise, filtered.
BANDIT_TARGETS := config accounts content audits realtime tasks
bandit: venv
	@set -o pipefail; $(VENV)/bin/bandit -q -r $(BANDIT_TARGETS) -x '*/migrations/*' 2>&1 \
		| { grep -v 'nosec encountered' || true; }
	@echo "bandit: no unmarked finding in $(BANDIT_TARGETS)."

secrets: venv
	@$(PY) -m tests.gates.secrets_check

# The OpenAPI document, committed so that reviewers and client generators see every change of
# the API. `make schema` writes it; CI's `make schema-check` fails when the code says otherwise.
OPENAPI_FILE := docs/openapi.yaml
SPECTACULAR := env -u DATABASE_URL -u REDIS_URL $(PY) manage.py spectacular --validate --fail-on-warn
schema: venv
	@$(SPECTACULAR) --file $(OPENAPI_FILE)
	@echo "Wrote $(OPENAPI_FILE)."

schema-check: venv
	@generated=$$(mktemp); trap 'rm -f "$$generated"' EXIT; \
	$(SPECTACULAR) --file "$$generated" && \
	if ! cmp -s $(OPENAPI_FILE) "$$generated"; then \
		diff -u $(OPENAPI_FILE) "$$generated" | head -n 200; \
		echo "$(OPENAPI_FILE) does not match the code's schema (diff above: - committed, + code)."; \
		echo "Run \`make schema\` and commit $(OPENAPI_FILE) with the change."; \
		exit 1; \
	fi; \
	echo "$(OPENAPI_FILE) matches the code."

lint: venv
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/lint-imports

format: venv
	@$(VENV)/bin/ruff check --fix .
	@$(VENV)/bin/ruff format .

# Give it a dedicated database: DATABASE_URL=postgres://…/bench REDIS_URL=redis://…/2 make bench
# (docs/operations.md, "Benchmarking"); BENCH_ARGS="--only posts --seconds 5" narrows a run.
bench: venv
	@$(PY) -m tests.perf.run $(BENCH_ARGS)

# WebSocket fan-out latency, memory per socket, presence after a kill -9, and resume under churn
# (tests/perf/ws_fanout.py, tests/perf/ws_resume.py); give it a database and Redis as for bench.
bench-ws: venv
	@$(PY) -m tests.perf.ws_fanout $(BENCH_WS_ARGS)
	@$(PY) -m tests.perf.ws_resume $(BENCH_RESUME_ARGS)

# The `export` job at 100k posts per format (tests/perf/jobs_export.py): time, rows/s, peak
# memory. Needs a PostgreSQL database of its own: DATABASE_URL=postgres://…/bench make bench-export
bench-export: venv
	@$(PY) -m tests.perf.jobs_export $(BENCH_EXPORT_ARGS)

# The job engine with real prefork workers (tests/perf/jobs_bench.py): no-op throughput, accept
# rate, enqueue-to-start latency at idle. Needs a PostgreSQL database and a Redis database of its
# own: DATABASE_URL=postgres://…/bench REDIS_URL=redis://…/2 make bench-jobs
bench-jobs: venv
	@$(PY) -m tests.perf.jobs_bench $(BENCH_JOBS_ARGS)

# Webhook delivery latency at idle, event commit to receiver, with a real worker
# (tests/perf/webhooks_latency.py); services mode: DATABASE_URL=… REDIS_URL=… make bench-webhooks
bench-webhooks: venv
	@$(PY) -m tests.perf.webhooks_latency $(BENCH_WEBHOOKS_ARGS)

# The user journey under Locust against a server of its own on 127.0.0.1 (tests/load/run.py):
# sign-up with the mailed token, login and refresh, lists, details, search, comments, a WebSocket
# per user, exports and jobs. Bounded (default 20 users for 60 s: LOADTEST_ARGS="--users 50
# --time 120"); fails on any failed request but a documented 429. With DATABASE_URL (and
# REDIS_URL) it uses those services (a database of its own!); without, the embedded stack.
loadtest: venv
	@$(PY) -m tests.load.run $(LOADTEST_ARGS)

# The journey at a steady rate for 20 minutes (`make soak SOAK_MINUTES=5`) on a PostgreSQL
# cluster and a redis-server of the soak's own (temporary, free ports), while a chaos script
# kill -9s a Celery worker, restarts Redis and restarts PostgreSQL; then the checker
# (tests/load/check.py). SOAK_ARGS passes more options (tests/load/soak.py --help).
SOAK_MINUTES ?= 20
soak: venv
	@$(PY) -m tests.load.soak --minutes $(SOAK_MINUTES) $(SOAK_ARGS)

# Schemathesis against the real server on a throwaway database (tests/contract/run_schemathesis.py):
# fails on any 5xx, undocumented status or answer that breaks the OpenAPI document. CI passes
# CONTRACT_ARGS="--postgres postgres://postgres@127.0.0.1:5432/agora_contract" to run it on PostgreSQL.
contract: venv
	@$(PY) -m tests.contract.run_schemathesis $(CONTRACT_ARGS)

# Mutation testing of the rules that must never silently break (tests/mutation/run.py, the
# modules and test files in pyproject's [tool.mutmut]): embedded, no service needed; slow, so
# not in CI. MUTATION_ARGS="--module audits.chain" retries one module, "--scores" only prints.
mutation: venv
	@$(PY) -m tests.mutation.run $(MUTATION_ARGS)

ci:
	@bash .ci/run

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .import_linter_cache
