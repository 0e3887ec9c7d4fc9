"""Model files: time to list a folder of 50 GGUF headers, load time of the default model,
and this process's resident memory after each of 10 load/unload cycles, with the model in
a child process (as the app runs it) and then in this process (as it ran before)."""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from chatapp.bench.report import table, write_json


def rss_mb() -> float:
    """Resident memory of this process (Linux /proc; elsewhere the peak from getrusage)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m chatapp.bench models")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--cycles", type=int, default=10)
    args = parser.parse_args(argv)

    from chatapp.engine.backend import ModelSpec
    from chatapp.engine.default_model import default_model_path
    from chatapp.engine.gguf_meta import scan
    from chatapp.engine.llama_backend import LlamaBackend
    from chatapp.engine.model_process import ProcessBackend

    source = default_model_path()
    with tempfile.TemporaryDirectory(prefix="chatapp-models-bench-") as tmp:
        folder = Path(tmp)
        for n in range(args.files):  # hard links: 50 real GGUF files, no extra disk
            target = folder / f"model-{n:02d}.Q4_1.gguf"
            try:
                os.link(source, target)
            except OSError:
                target.write_bytes(source.read_bytes())
        scans = []
        for _ in range(3):
            t0 = time.perf_counter()
            found, failed = scan([folder])
            scans.append(time.perf_counter() - t0)
        assert len(found) == args.files and not failed

    # as the app runs it: the model in a child process (first), then as it ran before
    spec = ModelSpec(str(source), n_ctx=4096)
    bare_start = rss_mb()
    import llama_cpp  # noqa: F401  the app's process imports it once, for the tokenizer
    from llama_cpp import llama_chat_format  # noqa: F401

    sides: dict[str, dict] = {}
    rows = []
    info = None
    for side, backend in (("process", ProcessBackend()), ("thread", LlamaBackend())):
        base = rss_mb()
        loads = []
        cycles = []
        for cycle in range(args.cycles):
            t0 = time.perf_counter()
            info = backend.load(spec)
            loads.append(time.perf_counter() - t0)
            loaded = rss_mb()
            backend.unload()
            cycles.append((cycle + 1, loaded, rss_mb()))
        sides[side] = {"before": base, "loads": loads, "cycles": cycles}
        rows += [[side, c, a, u, u - base] for c, a, u in cycles]
    assert info is not None
    figures = {
        "scan_files": args.files,
        "scan_s_median": statistics.median(scans),
        "load_s_median": statistics.median(sides["process"]["loads"]),
        "load_s_median_in_process": statistics.median(sides["thread"]["loads"]),
        "device": info.device,
        "rss_mb_before_imports": bare_start,
        "rss_mb_before": sides["process"]["before"],
        "rss_mb_cycles": [
            {"cycle": c, "loaded": a, "unloaded": u} for c, a, u in sides["process"]["cycles"]
        ],
        "rss_mb_after_cycles_minus_before": sides["process"]["cycles"][-1][2]
        - sides["process"]["before"],
        "in_process_rss_mb_before": sides["thread"]["before"],
        "in_process_rss_mb_cycles": [
            {"cycle": c, "loaded": a, "unloaded": u} for c, a, u in sides["thread"]["cycles"]
        ],
    }
    print(
        table(
            f"models: list {args.files} GGUF headers in "
            f"{figures['scan_s_median'] * 1000:.0f} ms (median of 3); "
            f"load the default model in {figures['load_s_median'] * 1000:.0f} ms "
            f"in a model process "
            f"({figures['load_s_median_in_process'] * 1000:.0f} ms in this process) "
            f"on {info.device}",
            ["model in", "cycle", "RSS loaded MB", "RSS after unload MB", "vs before MB"],
            rows,
        )
    )
    print(
        f"\nresident memory of this (the app's) process before the first load: "
        f"{sides['process']['before']:.0f} MB with llama-cpp-python imported ({bare_start:.0f} MB "
        f"without); after {args.cycles} load/unload cycles with the model process: "
        f"{figures['rss_mb_after_cycles_minus_before']:+.1f} MB"
    )
    write_json(args.json, figures)
    return 0
