#!/bin/bash
# GPU offload check on the device machine (an NVIDIA H200 with nvcc, cmake and Python 3.12, no network).
# Prepare here, once: put llama-cpp-python's sdist, diskcache's wheel and a tiny model in .gpucheck/
# (ignored by git):
#   .venv/bin/pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36 -d .gpucheck
#   .venv/bin/pip download --no-deps diskcache==5.6.3 -d .gpucheck
#   .venv/bin/python scripts/make_tiny_gguf.py .gpucheck/tiny.gguf
# Then run `bash scripts/cuda_device_check.sh` there with .gpucheck carried. The CUDA build
# (sm_90 only) runs in its own session, so a second call can pick it up if the first ran out of time.
# Measured 2026-11-28: the build took about 4 minutes, the whole call 263 s.
cd "$(dirname "$0")/.."
if [ ! -f /tmp/build.done ]; then
  if [ ! -f /tmp/build.started ]; then
    touch /tmp/build.started
    setsid nohup bash -c 'CMAKE_ARGS="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=90-real -DLLAVA_BUILD=OFF" \
      CMAKE_BUILD_PARALLEL_LEVEL=16 python3 -m pip install -v --no-index --no-deps --no-build-isolation \
      --no-cache-dir --target /tmp/site .gpucheck/diskcache-*.whl .gpucheck/llama_cpp_python-*.tar.gz \
      > /tmp/build.log 2>&1; echo $? > /tmp/build.done' > /dev/null 2>&1 &
  fi
  for _ in $(seq 1 "${WAIT:-500}"); do [ -f /tmp/build.done ] && break; sleep 1; done
fi
tail -c 20000 /tmp/build.log > "${OUT:-/tmp}/build.log" 2>/dev/null
if [ ! -f /tmp/build.done ]; then echo "the build is still running: call again"; exit 3; fi
echo "build exit status $(cat /tmp/build.done)"
nvidia-smi --query-gpu=name,memory.total --format=csv
PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 timeout 300 python3 scripts/gpu_check.py .gpucheck/tiny.gguf 2>&1 \
  | tee "${OUT:-/tmp}/check.log" | grep -v "^llama\|^load\|^print_info\|^ggml\|^\.\|^gguf"
