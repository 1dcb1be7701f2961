#!/usr/bin/env bash
# The README's test command: install the test dependencies, start the servers the tests use
# (PostgreSQL + pgvector, the MongoDB wire server, sqld; MariaDB when the machine runs it),
# run the whole test suite, stop the servers. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_MODE=PRODUCTION
bash scripts/install.sh "test,pg,mongodb,sqlalchemy,libsql-client,server,local,redis,dynamodb,langgraph,openai-agents,llama-index,pydantic-ai,otel,mcp"
# Debian's Chromium for the inspector's browser test (skips when present or without root)
bash scripts/chromium.sh
# Mastra's TypeScript packages for tests/test_ts_interop.py (~25 s cold, 0.3 s when installed);
# without node or the npm registry those tests skip instead of failing the run.
bash scripts/ts_interop.sh || echo ">> Mastra TypeScript packages not installed: tests/test_ts_interop.py will skip" >&2
if [ -f scripts/services.sh ]; then
  bash scripts/services.sh start
  trap 'bash scripts/services.sh stop' EXIT
  # shellcheck disable=SC1091
  source .services/env
fi
set +e
.venv/bin/python -m pytest "$@"
code=$?
set -e
if [ "$code" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$code"
