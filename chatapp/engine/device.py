"""GPU offload policy: how many layers to put on the GPU, and how to describe it."""

from __future__ import annotations

import os
import re

from chatapp.engine.backend import GPU_POLICIES, ModelSpec


def gpu_offload_supported() -> bool:
    """True when this llama.cpp build has a usable GPU device (Metal, CUDA, Vulkan...)."""
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())


def default_threads() -> int:
    """Threads for generation: all cores on small machines, half (the physical ones) on big."""
    count = os.cpu_count() or 1
    return count if count <= 4 else min(16, max(4, count // 2))


def requested_gpu_layers(spec: ModelSpec, gpu_available: bool) -> tuple[int, str | None]:
    """Layers to offload for `spec`, and a notice when the GPU was asked for but cannot be used."""
    if spec.gpu not in GPU_POLICIES:
        raise ValueError(f"unknown GPU policy {spec.gpu!r}; use one of {', '.join(GPU_POLICIES)}")
    if spec.gpu == "cpu":
        return 0, None
    if not gpu_available:
        if spec.gpu == "gpu" or (spec.gpu_layers or 0) > 0:
            return 0, "this build of llama.cpp has no GPU support (or no GPU was found)"
        return 0, None
    if spec.gpu_layers is not None:
        return max(0, spec.gpu_layers), None
    return -1, None


_OFFLOADED = re.compile(r"offloaded (\d+)/(\d+) layers to GPU")
_DEVICE = re.compile(r"using device (\S+) \(([^)]*)\)")


def parse_offload(log_lines: list[str]) -> tuple[int | None, int | None, str | None]:
    """(layers offloaded, total layers, device name) from llama.cpp's load log."""
    done = total = None
    device = None
    for line in log_lines:
        if m := _OFFLOADED.search(line):
            done, total = int(m.group(1)), int(m.group(2))
        if device is None and (m := _DEVICE.search(line)):
            device = f"{m.group(1)} ({m.group(2)})"
    return done, total, device


def rpc_supported() -> bool:
    """True when this llama.cpp build can use RPC servers (-DGGML_RPC=on)."""
    import llama_cpp

    return bool(llama_cpp.llama_supports_rpc())


def llama_version() -> str:
    """llama-cpp-python's version, or why it cannot be started here."""
    try:
        import llama_cpp
    except (ImportError, OSError):  # e.g. a CUDA build without the NVIDIA driver
        return "not available"
    return str(llama_cpp.__version__)
