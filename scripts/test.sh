#!/usr/bin/env bash
# The README's test command: install the test dependencies, start the servers the tests use
# (PostgreSQL + pgvector, the MongoDB wire server, sqld, moto's DynamoDB, Redis; MariaDB when the
# machine runs it), run the whole test suite, stop the servers. Extra arguments go to pytest.
#
# The servers, Debian's Chromium and Mastra's TypeScript packages are installed and started in
# the background while pip installs the project: they are independent of it (each in its own
# venv or npm tree under .services/) and together take one to two minutes.
#
# pytest runs in MM_TEST_WORKERS (default 4) pytest-xdist workers: most of the suite's time is
# spent waiting on servers and subprocesses, not on the CPU, so four workers pay off even on two
# cores. Each worker gets its own sqld and moto (MM_SERVER_COPIES, see tests/conftest.py).
# MM_TEST_WORKERS=0 runs the suite in one process, as plain `pytest` does.
set -euo pipefail
cd "$(dirname "$0")/.."
export LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_MODE=PRODUCTION
workers="${MM_TEST_WORKERS:-4}"
export MM_SERVER_COPIES="${MM_SERVER_COPIES:-$((workers > 0 ? workers : 1))}"
mkdir -p .services
trap 'bash scripts/services.sh stop' EXIT
bash scripts/services.sh start >.services/start.log 2>&1 &
services_pid=$!
# Debian's Chromium for the inspector's browser test (skips when present or without root)
bash scripts/chromium.sh >.services/chromium.log 2>&1 &
chromium_pid=$!
# Mastra's TypeScript packages for the interop tests (~25 s cold, 0.3 s when installed); without
# node or the npm registry those tests skip instead of failing the run.
bash scripts/ts_interop.sh >.services/ts_interop.log 2>&1 &
ts_pid=$!
bash scripts/install.sh "test,pg,mongodb,sqlalchemy,libsql-client,server,local,redis,dynamodb,langgraph,openai-agents,llama-index,pydantic-ai,otel,mcp"
chromium_ok=0
wait "$chromium_pid" || chromium_ok=$?
cat .services/chromium.log
[ "$chromium_ok" -eq 0 ] || { echo ">> scripts/chromium.sh failed" >&2; exit 1; }
if wait "$ts_pid"; then
  cat .services/ts_interop.log
else
  cat .services/ts_interop.log >&2
  echo ">> Mastra TypeScript packages not installed: the interop tests will skip" >&2
fi
services_ok=0
wait "$services_pid" || services_ok=$?
cat .services/start.log >&2
[ "$services_ok" -eq 0 ] || { echo ">> scripts/services.sh start failed" >&2; exit 1; }
# shellcheck disable=SC1091
source .services/env
set +e
if [ "$workers" -gt 0 ]; then
  .venv/bin/python -m pytest -n "$workers" --dist worksteal "$@"
else
  .venv/bin/python -m pytest "$@"
fi
code=$?
set -e
if [ "$code" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$code"
