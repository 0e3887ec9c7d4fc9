"""GPU offload check for a machine with a CUDA (or Metal) build of llama-cpp-python.

    python scripts/gpu_check.py MODEL.gguf

Loads the model with each offload policy and prints where it ran, as the status
bar would say it, and the reply speed; then again with no GPU visible
(CUDA_VISIBLE_DEVICES=""), as on a machine with a CUDA build but no usable GPU,
which must load on the CPU and say why. (scripts/make_tiny_gguf.py writes a small
model for machines the real one cannot be copied to; scripts/cuda_device_check.sh
builds llama-cpp-python with CUDA on the device machine and runs this.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from chatapp.domain import ChatMessage, GenerationSettings
from chatapp.engine import device
from chatapp.engine.backend import ModelSpec
from chatapp.engine.llama_backend import LlamaBackend


def main(path: str) -> int:
    import llama_cpp

    print(
        "llama-cpp-python",
        llama_cpp.__version__,
        "| GPU offload supported:",
        device.gpu_offload_supported(),
    )
    failures = 0
    for label, spec in (
        ("auto", ModelSpec(path, n_ctx=2048, gpu="auto")),
        ("gpu", ModelSpec(path, n_ctx=2048, gpu="gpu")),
        ("1 layer", ModelSpec(path, n_ctx=2048, gpu="gpu", gpu_layers=1)),
        ("cpu", ModelSpec(path, n_ctx=2048, gpu="cpu")),
        ("flash", ModelSpec(path, n_ctx=2048, gpu="auto", flash_attn=True)),
    ):
        backend = LlamaBackend()
        info = backend.load(spec)
        cancel = threading.Event()
        t0 = time.perf_counter()
        result = backend.generate(
            [ChatMessage("user", "Tell me a story.")],
            GenerationSettings(max_tokens=64, seed=1),
            cancel,
            lambda _t: None,
        )
        seen: list[str] = []
        stopper = threading.Event()

        def stop_soon(
            piece: str, seen: list[str] = seen, stopper: threading.Event = stopper
        ) -> None:
            seen.append(piece)
            if len(seen) == 3:
                stopper.set()

        stopped = backend.generate(
            [ChatMessage("user", "Another story, please.")],
            GenerationSettings(max_tokens=200, seed=2),
            stopper,
            stop_soon,
        )
        backend.unload()
        print(
            f"{label:8} -> {info.device:45} on_gpu={info.on_gpu}"
            f" fallback={info.fallback_reason!r}"
            f" | {result.completion_tokens} tokens, {result.tokens_per_second:.0f} tok/s,"
            f" {time.perf_counter() - t0:.2f}s"
            f" | stop after {len(seen)} pieces: {stopped.finish_reason}"
        )
        if label in ("auto", "gpu") and device.gpu_offload_supported() and not info.on_gpu:
            failures += 1
        if label == "cpu" and info.on_gpu:
            failures += 1
    if device.gpu_offload_supported():
        env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
        code = (
            "import sys; from chatapp.engine.backend import ModelSpec; "
            "from chatapp.engine.llama_backend import LlamaBackend; "
            "i = LlamaBackend().load(ModelSpec(sys.argv[1], n_ctx=512, gpu='gpu')); "
            "print(i.device, '|', i.fallback_reason); sys.exit(1 if i.on_gpu else 0)"
        )
        hidden = subprocess.run(
            [sys.executable, "-c", code, path],
            check=False,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        print("no GPU visible ->", hidden.stdout.strip() or hidden.stderr[-500:])
        failures += hidden.returncode != 0
    print("RESULT:", "ok" if failures == 0 else f"{failures} unexpected")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
