"""Run a benchmark by name: python -m chatapp.bench NAME [options]."""

from __future__ import annotations

import importlib
import sys

BENCHES = {
    "engine": "chatapp.bench.engine",
    "store": "chatapp.bench.store",
    "memory": "chatapp.bench.memory",
    "cache": "chatapp.bench.cache",
    "export": "chatapp.bench.export",
    "gui": "chatapp.bench.gui",
    "models": "chatapp.bench.models",
    "crash": "chatapp.bench.crash",
    "remote": "chatapp.bench.remote",
    "answers": "chatapp.bench.answers",
    "excerpts": "chatapp.bench.excerpts",
    "updates": "chatapp.bench.updates",
    "ingest": "chatapp.bench.ingest",
    "streamsave": "chatapp.bench.stream_save",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in BENCHES:
        print(f"usage: python -m chatapp.bench {{{','.join(BENCHES)}}} [--json PATH] [options]")
        return 2
    module = importlib.import_module(BENCHES[argv[0]])
    return module.main(argv[1:])


raise SystemExit(main())
