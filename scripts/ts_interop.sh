#!/usr/bin/env bash
# Install Mastra's TypeScript packages (@mastra/memory, @mastra/libsql, @mastra/core; exact
# versions in tests/interop/package.json, the whole tree pinned by tests/interop/package-lock.json)
# into .services/ts-interop (or $MASTRA_TEST_TS_INTEROP) for tests/test_ts_interop.py.
# Idempotent: a stamp of the pinned files and the Node major version skips the install when
# nothing changed (~0.1 s). Cold: ~25 s and ~175 MB of node_modules on a 2-core machine.
# Needs Node >= 20 and npm (the packages declare Node 22 but run on 20; npm only warns).
set -euo pipefail
cd "$(dirname "$0")/.."
src=tests/interop
dest="${MASTRA_TEST_TS_INTEROP:-.services/ts-interop}"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "ts_interop: node and npm are needed (Node >= 20)" >&2
  exit 1
fi
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 20 ]; then
  echo "ts_interop: Node $(node --version) is too old (need >= 20)" >&2
  exit 1
fi
stamp="$(cat "$src/package.json" "$src/package-lock.json" "$src/deps.mjs" | sha256sum | cut -c1-16)-node$major"
if [ -f "$dest/.stamp" ] && [ "$(cat "$dest/.stamp")" = "$stamp" ] \
  && [ -f "$dest/node_modules/@mastra/memory/package.json" ]; then
  echo ">> Mastra TypeScript packages already installed in $dest"
  exit 0
fi
echo ">> installing Mastra TypeScript packages into $dest"
mkdir -p "$dest"
rm -f "$dest/.stamp"
cp "$src/package.json" "$src/package-lock.json" "$src/deps.mjs" "$dest/"
(cd "$dest" && npm ci --no-audit --no-fund --loglevel=error)
echo "$stamp" > "$dest/.stamp"
