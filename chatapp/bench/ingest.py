"""Ingest speed: turns of a LoCoMo-format file (LongMemEval's long user-assistant messages)
through the memory service, session by session as the app ingests after each exchange.

    python -m chatapp.bench ingest --data FILE [--turns 200] [--json PATH]

Two ways on the same messages, each into a fresh store, in one process (so a busy
machine disturbs both alike; CPU time is this process's, which other programs do not
change):

- "as before": every message embedded by the ingest, in batches of 64 on torch's threads;
- "users first, then replies": the app's way: the ingest embeds the user's messages and
  writes their facts (the thread is searchable by words at once), the assistant's replies
  and the sentence vectors of the user's messages are made after, in steps (`ready` is the
  ingest alone, `total` includes them).

The attribute examples are embedded before timing (the app does that once per process).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from chatapp.bench.report import table, write_json


def _turns(path: str, limit: int) -> list[list[tuple[bool, str, float]]]:
    """Sessions of (is the user, text, time) from the file's samples, up to `limit` turns."""
    import json

    from chatapp.bench.memory import is_user, sessions, turn_text

    out: list[list[tuple[bool, str, float]]] = []
    count = 0
    for sample in json.loads(Path(path).read_text(encoding="utf-8")):
        conv = sample["conversation"]
        for _n, when, session in sessions(conv):
            out.append(
                [(is_user(t, conv), turn_text(t), when + 30 * i) for i, t in enumerate(session)]
            )
            count += len(session)
            if count >= limit:
                return out
    return out


def _run(
    sessions: list[list[tuple[bool, str, float]]], encode: Any, name: str, deferred: bool
) -> dict[str, Any]:
    from chatapp.domain import Role
    from chatapp.memory.service import MemoryService
    from chatapp.store import Store

    with tempfile.TemporaryDirectory(prefix="chatapp-ingest-bench-") as tmp:
        store = Store.open(Path(tmp) / "db.sqlite3")
        service = MemoryService(store, encode, name)
        service.attributes  # noqa: B018 - made once per process in the app, not per ingest
        thread = store.create_thread("ingest")
        ready_wall = ready_cpu = rest_wall = rest_cpu = 0.0
        turns = users = 0
        for session in sessions:
            for user, text, when in session:
                store.add_message(
                    thread.id, Role.USER if user else Role.ASSISTANT, text, created_at=when
                )
                users += user
            turns += len(session)
            t0, c0 = time.perf_counter(), time.process_time()
            service.ingest(thread.id, reply_limit=0 if deferred else None)
            ready_wall += time.perf_counter() - t0
            ready_cpu += time.process_time() - c0
            if deferred:
                t0, c0 = time.perf_counter(), time.process_time()
                while service.embed_later(thread.id, 32):
                    pass
                rest_wall += time.perf_counter() - t0
                rest_cpu += time.process_time() - c0
        store.close()
    return {
        "turns": turns,
        "user_turns": users,
        "ready_wall_s": ready_wall,
        "ready_cpu_s": ready_cpu,
        "total_wall_s": ready_wall + rest_wall,
        "total_cpu_s": ready_cpu + rest_cpu,
        "ready_turns_per_s": turns / ready_wall,
        "ready_turns_per_cpu_s": turns / ready_cpu,
        "total_turns_per_s": turns / (ready_wall + rest_wall),
        "total_turns_per_cpu_s": turns / (ready_cpu + rest_cpu),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m chatapp.bench ingest")
    parser.add_argument(
        "--data", required=True, help="LoCoMo-format JSON file (e.g. LongMemEval's)"
    )
    parser.add_argument("--turns", type=int, default=200, help="turns to ingest (whole sessions)")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    if args.turns < 1:
        parser.error("--turns must be 1 or more")

    from chatapp.memory.embedder import shared_embedder

    sessions = _turns(args.data, args.turns)
    if not sessions:
        parser.error(f"{args.data} holds no sessions")
    embedder = shared_embedder()
    embedder.encode(["warm up"] * 8)
    import torch

    cores = torch.get_num_threads()  # torch's default, which bulk encodes used before
    runs = {
        f"as before: all at once, batches of 64, {cores} threads": _run(
            sessions,
            lambda texts: embedder.encode(texts, batch_size=64, threads=cores),
            embedder.name,
            deferred=False,
        ),
        "users first, then replies": _run(sessions, embedder.encode, embedder.name, deferred=True),
    }
    rows = [
        [
            name,
            r["turns"],
            f"{r['ready_turns_per_s']:.1f}",
            f"{r['ready_turns_per_cpu_s']:.1f}",
            f"{r['total_turns_per_s']:.1f}",
            f"{r['total_turns_per_cpu_s']:.1f}",
        ]
        for name, r in runs.items()
    ]
    print(
        table(
            f"ingest: {sum(len(s) for s in sessions)} turns of {args.data}, session by session",
            [
                "way",
                "turns",
                "ready turns/s",
                "ready turns/CPU-s",
                "total turns/s",
                "total turns/CPU-s",
            ],
            rows,
        )
    )
    print(
        "\nready: the ingest alone (user messages embedded, facts written; all words searchable); "
        "total: with every reply embedded. turns/s is wall time (disturbed by other programs), "
        "turns/CPU-s this process's CPU time (torch's threads together)."
    )
    write_json(args.json, {"data": args.data, "runs": runs})
    return 0
