"""Model files: time to list a folder of 50 GGUF headers, load time of the default model,
and resident memory after each of 10 load/unload cycles."""

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

    backend = LlamaBackend()
    spec = ModelSpec(str(source), n_ctx=4096)
    rows = []
    base = rss_mb()
    loads = []
    for cycle in range(args.cycles):
        t0 = time.perf_counter()
        info = backend.load(spec)
        loads.append(time.perf_counter() - t0)
        loaded = rss_mb()
        backend.unload()
        rows.append((cycle + 1, loaded, rss_mb()))
    figures = {
        "scan_files": args.files,
        "scan_s_median": statistics.median(scans),
        "load_s_median": statistics.median(loads),
        "device": info.device,
        "rss_mb_before": base,
        "rss_mb_cycles": [{"cycle": c, "loaded": a, "unloaded": u} for c, a, u in rows],
    }
    print(table(
        f"models: list {args.files} GGUF headers in {figures['scan_s_median'] * 1000:.0f} ms (median of 3); "
        f"load the default model in {figures['load_s_median'] * 1000:.0f} ms on {info.device}",
        ["cycle", "RSS loaded MB", "RSS after unload MB"],
        [[c, a, u] for c, a, u in rows],
    ))
    print(f"\nresident memory before the first load: {base:.0f} MB")
    write_json(args.json, figures)
    return 0
