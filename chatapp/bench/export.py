"""Export and import times of a 100,000-message thread, per format."""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

from chatapp.bench.report import table, write_json


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m chatapp.bench export")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--formats", default="json,md,txt,html,pdf")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from chatapp.bench.store import fill
    from chatapp.export.importers import import_file
    from chatapp.export.writer import export_threads
    from chatapp.store import Store
    from chatapp.ui.pdf_export import write_pdf

    rng = random.Random(3)
    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="chatapp-export-bench-") as tmp:
        store = Store.open(Path(tmp) / "db.sqlite3")
        fill(store, 2, args.messages + 10, args.messages, rng)
        for fmt in args.formats.split(","):
            out = Path(tmp) / f"thread.{fmt}"
            t0 = time.perf_counter()
            export_threads(store, [1], fmt, out, pdf=write_pdf)
            figures[fmt] = {"export_s": time.perf_counter() - t0, "bytes": out.stat().st_size}
            if fmt == "json":
                other = Store.open(Path(tmp) / "import.sqlite3")
                t0 = time.perf_counter()
                import_file(other, out)
                figures[fmt]["import_s"] = time.perf_counter() - t0
                other.close()
        store.close()
    print(
        table(
            f"export: one thread of {args.messages:,} messages",
            ["format", "export s", "size MB", "import s"],
            [
                [fmt, f["export_s"], f["bytes"] / 2**20, f.get("import_s", "")]
                for fmt, f in figures.items()
            ],
        )
    )
    write_json(args.json, {"messages": args.messages, "formats": figures})
    return 0
