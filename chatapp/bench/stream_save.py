"""What saving a streaming reply costs: every batch the engine sends vs every SAVE_SECONDS.

The window saves a reply while it streams so a hard kill keeps what was shown. Saved every
half second, the last words on screen could be missing from disk (walkthrough 2, item 20);
saved with every batch, what is shown is always stored first. This measures the price of that
in CPU time on the GUI thread, with a real store file (WAL, its FTS triggers re-indexing the
growing reply) holding a history, at a CPU-like and a GPU-like token rate.

    python -m chatapp.bench streamsave [--tokens 2000] [--history 2000] [--json PATH]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from chatapp.bench.report import table, write_json

OLD_SAVE_SECONDS = 0.5  # the session's throttle before saving with every batch

WORDS = [
    "the",
    "fox",
    "ran",
    "over",
    "a",
    "hill",
    "while",
    "the",
    "moon",
    "rose",
    "slowly",
    "and",
    "the",
    "river",
    "kept",
    "its",
    "old",
    "song",
    "under",
    "a",
    "sky",
    "of",
    "quiet",
    "stars",
    "that",
    "nobody",
    "had",
    "counted",
    "since",
    "the",
    "town",
    "was",
    "young",
]


def run(store_path: Path, tokens: int, rate: float, batch_s: float, every: float) -> dict:
    """Stream `tokens` words at `rate` a second in the engine's batches; save when `every`
    seconds of simulated time passed since the last save (0: every batch)."""
    from chatapp.domain import MessageStatus, Role
    from chatapp.store import Store

    store = Store.open(store_path)
    try:
        thread = store.create_thread("stream")
        store.add_message(thread.id, Role.USER, "tell me a long story")
        reply = store.add_message(thread.id, Role.ASSISTANT, "", status=MessageStatus.STREAMING)
        per_batch = max(1, round(rate * batch_s))
        step = per_batch / rate  # simulated seconds between batches
        text, unsaved, worst_unsaved, since, clock = "", 0, 0, 0.0, 0.0
        costs: list[float] = []
        for start in range(0, tokens, per_batch):
            piece = " ".join(WORDS[i % len(WORDS)] for i in range(start, start + per_batch))
            text += (" " if text else "") + piece
            unsaved += per_batch
            clock += step
            since += step
            if since >= every:
                t0 = time.process_time()
                store.update_message(reply.id, content=text)
                costs.append(time.process_time() - t0)
                unsaved, since = 0, 0.0
            worst_unsaved = max(worst_unsaved, unsaved)  # words shown but not on disk
        total = sum(costs)
        return {
            "saves": len(costs),
            "ms_per_save": 1000 * statistics.fmean(costs),
            "p95_ms": 1000 * sorted(costs)[int(0.95 * (len(costs) - 1))],
            "cpu_s": total,
            "share_of_reply_pct": 100 * total / clock,
            "words_shown_not_saved": worst_unsaved,
        }
    finally:
        store.close()


def main(argv: list[str]) -> int:
    from chatapp.workers.engine import BATCH_SECONDS

    parser = argparse.ArgumentParser(prog="python -m chatapp.bench streamsave")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--tokens", type=int, default=2000, help="words in the reply")
    parser.add_argument("--history", type=int, default=2000, help="messages already stored")
    parser.add_argument("--rates", default="20,100", help="tokens a second (CPU-like, GPU-like)")
    args = parser.parse_args(argv)

    from chatapp.domain import Role
    from chatapp.store import Store

    rows, figures = [], {}
    with tempfile.TemporaryDirectory(prefix="chatapp-streamsave-") as tmp:
        for rate in (float(r) for r in args.rates.split(",")):
            for label, every in (
                ("every batch", 0.0),
                (f"every {OLD_SAVE_SECONDS} s", OLD_SAVE_SECONDS),
            ):
                path = Path(tmp) / f"{rate}-{every}.sqlite3"
                store = Store.open(path)
                old = store.create_thread("history")
                for i in range(args.history):
                    role = Role.USER if i % 2 == 0 else Role.ASSISTANT
                    store.add_message(old.id, role, " ".join(WORDS[i % 7 :] * 3))
                store.close()
                got = run(path, args.tokens, rate, BATCH_SECONDS, every)
                figures[f"{rate:g} tok/s, {label}"] = got
                rows.append(
                    [
                        f"{rate:g} tok/s",
                        label,
                        got["saves"],
                        got["ms_per_save"],
                        got["p95_ms"],
                        got["cpu_s"],
                        got["share_of_reply_pct"],
                        got["words_shown_not_saved"],
                    ]
                )
    print(
        table(
            f"Saving a {args.tokens}-word streaming reply (CPU time, GUI thread; "
            f"{args.history} messages stored)",
            ["rate", "saved", "saves", "ms/save", "p95 ms", "CPU s", "% of reply", "unsaved"],
            rows,
        )
    )
    write_json(args.json, figures)
    return 0
