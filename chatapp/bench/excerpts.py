"""Recall over long replies: a 400-message thread whose assistant replies run to ~330
tokens (as a chatty model's do), built for 30 questions with long messages cut to their
matching sentences (the app) and whole (the baseline), in the same process.

    python -m chatapp.bench excerpts [--json PATH] [--budget 2048]

Prints the first build (every long message's sentences counted once), then the median
and p95 of 30 warm builds, and how many old messages the prompt carried.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from chatapp.bench.report import table, write_json

TOPICS = [
    "garden",
    "tomatoes",
    "taxes",
    "cello",
    "Lisbon",
    "trains",
    "recipes",
    "python code",
    "running",
    "films",
]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m chatapp.bench excerpts")
    parser.add_argument("--budget", type=int, default=2048)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)

    from chatapp.domain import Role
    from chatapp.engine.backend import ModelSpec
    from chatapp.engine.default_model import default_model_path
    from chatapp.engine.llama_backend import LlamaBackend
    from chatapp.memory.builder import BuilderParams, ContextBuilder
    from chatapp.memory.embedder import shared_embedder
    from chatapp.memory.service import MemoryService
    from chatapp.store import Store

    backend = LlamaBackend()
    backend.load(ModelSpec(str(default_model_path()), n_ctx=4096, gpu="cpu"))
    embedder = shared_embedder()
    rnd = random.Random(1)
    rows = []
    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="chatapp-excerpts-bench-") as tmp:
        store = Store.open(Path(tmp) / "bench.sqlite3")
        thread = store.create_thread("long replies")
        t0 = time.time() - 400 * 3000
        for i in range(400):
            topic = rnd.choice(TOPICS)
            if i % 2 == 0:
                text = f"Tell me more about {topic}, I was thinking about it on day {i}."
            else:
                text = " ".join(
                    f"Point {k} about {topic}: a detailed sentence of advice, "
                    f"number {rnd.randint(0, 999)}."
                    for k in range(16)
                )
            store.add_message(
                thread.id,
                Role.USER if i % 2 == 0 else Role.ASSISTANT,
                text,
                created_at=t0 + i * 3000,
            )
        MemoryService(store, embedder.encode, embedder.name).ingest(thread.id)
        questions = [
            f"What did you say about {rnd.choice(TOPICS)} and {rnd.choice(TOPICS)}?"
            for _ in range(30)
        ]
        for label, cap in (
            ("cut to what matches (app)", BuilderParams().excerpt_tokens),
            ("whole messages", 10**9),
        ):
            builder = ContextBuilder(
                store,
                backend.count_text_tokens,
                embedder.encode_one,
                BuilderParams(excerpt_tokens=cap),
            )
            times: list[float] = []
            carried: list[int] = []
            for question in questions * 2:  # the first pass warms the counts, the second is timed
                message = store.add_message(thread.id, Role.USER, question)
                builder.forget(thread.id)
                started = time.perf_counter()
                built = builder.build(thread.id, "", message, args.budget)
                times.append((time.perf_counter() - started) * 1000)
                carried.append(
                    sum(len(p.sources) for p in built.parts if p.kind in ("recall", "recall_new"))
                )
                store.delete_message(message.id)
            warm = sorted(times[len(questions) :])
            figures[label] = {
                "first_build_ms": times[0],
                "build_ms_p50": statistics.median(warm),
                "build_ms_p95": warm[int(len(warm) * 0.95) - 1],
                "recalled_messages_mean": statistics.mean(carried),
            }
            f = figures[label]
            rows.append(
                [
                    label,
                    f["first_build_ms"],
                    f["build_ms_p50"],
                    f["build_ms_p95"],
                    f["recalled_messages_mean"],
                ]
            )
        store.close()
    backend.unload()
    print(
        table(
            f"excerpts: recall over long replies, memory budget {args.budget}",
            ["method", "first build ms", "p50 ms", "p95 ms", "old messages shown"],
            rows,
        )
    )
    write_json(args.json, {"budget": args.budget, "methods": figures})
    return 0
