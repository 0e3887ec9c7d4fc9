"""How much of each turn's prompt llama.cpp takes from its KV cache, over a 40-turn thread.

The real default model, the app's context builder with memory on, summaries made
after each turn as the app makes them. Printed per turn: prompt tokens, tokens
llama.cpp evaluated, and whether a summary changed before the turn.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import threading
import time
from pathlib import Path

from chatapp.bench.report import table, write_json

TOPICS = [
    "My name is Ada and I live in Berlin.",
    "What is a good book about the sea?",
    "I work as a nurse on night shifts.",
    "How do I make a simple tomato soup?",
    "My sister Eva is visiting next week.",
    "Suggest a walk in a city park.",
    "I am learning to play the violin.",
    "What is a good warm-up before practice?",
    "I moved to Lisbon last month.",
    "What should I see in Lisbon?",
]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m chatapp.bench cache")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--ctx", type=int, default=2048)
    parser.add_argument("--reply-tokens", type=int, default=48)
    parser.add_argument(
        "--keep-coverage", type=float, help="the builder's keep_coverage (default: the app's)"
    )
    parser.add_argument(
        "--kept-share", type=float, help="the builder's kept_share (default: the app's)"
    )
    parser.add_argument(
        "--top-share", type=float, help="the builder's top_share (default: the app's)"
    )
    args = parser.parse_args(argv)

    from chatapp.domain import GenerationSettings, MessageStatus, Role
    from chatapp.engine.backend import ModelSpec
    from chatapp.engine.default_model import default_model_path
    from chatapp.engine.model_process import ProcessBackend
    from chatapp.memory import summaries
    from chatapp.memory.builder import BuilderParams, ContextBuilder
    from chatapp.memory.context import reply_room
    from chatapp.memory.embedder import shared_embedder
    from chatapp.memory.service import MemoryService
    from chatapp.store import Store
    from chatapp.store.memory_tables import MemoryTables

    settings = GenerationSettings(temperature=0.7, max_tokens=args.reply_tokens, seed=1)
    backend = ProcessBackend()  # the model in its own process, as the app runs it
    backend.load(ModelSpec(str(default_model_path()), n_ctx=args.ctx, gpu="cpu"))
    embedder = shared_embedder()
    rows = []
    with tempfile.TemporaryDirectory(prefix="chatapp-cache-bench-") as tmp:
        store = Store.open(Path(tmp) / "db.sqlite3")
        service = MemoryService(store, embedder.encode, embedder.name)
        tuned = {
            k: v
            for k, v in (
                ("keep_coverage", args.keep_coverage),
                ("kept_share", args.kept_share),
                ("top_share", args.top_share),
            )
            if v is not None
        }
        params = dataclasses.replace(BuilderParams(), **tuned)
        builder = ContextBuilder(
            store, backend.count_text_tokens, embedder.encode_one, params=params
        )
        thread = store.create_thread("cache")
        system = "You are a friendly assistant. Answer briefly."
        budget = args.ctx - reply_room(args.ctx, settings.max_tokens)
        summary_count = 0
        previous: list[int] = []
        previous_text = ""
        for turn in range(args.turns):
            text = TOPICS[turn % len(TOPICS)] + ("" if turn < len(TOPICS) else f" (again, {turn})")
            question = store.add_message(thread.id, Role.USER, text)
            fixed = backend.count_tokens([backend_msg("system", system), backend_msg("user", text)])
            built = builder.build(thread.id, system, question, max(0, budget - fixed - 64))
            tokens = backend.prompt_tokens(built.messages)
            rendered = backend.render_prompt(built.messages)
            same = _common_prefix(previous, tokens)
            breaks = _part_at(rendered, previous_text, built.messages) if previous else ""
            previous, previous_text = tokens, rendered
            t0 = time.perf_counter()
            result = backend.generate(built.messages, settings, threading.Event(), lambda _t: None)
            seconds = time.perf_counter() - t0
            reused = backend.last_reused_tokens
            store.add_message(thread.id, Role.ASSISTANT, result.text, status=MessageStatus.COMPLETE)
            service.ingest(thread.id)
            with backend.keeping_cache():  # as the engine thread does
                while (job := summaries.next_job(store, thread.id)) is not None:
                    if (
                        summaries.run_job(
                            store,
                            job,
                            lambda m, s, c: backend.generate(m, s, c, lambda _t: None).text,
                            threading.Event(),
                            "SmolLM2",
                        )
                        is None
                    ):
                        break
            changed = summary_count != len(
                MemoryTables(store).summaries(thread.id, current_only=False)
            )
            rows.append(
                {
                    "turn": turn + 1,
                    "prompt_tokens": result.prompt_tokens,
                    "reused": reused,
                    "evaluated": result.prompt_tokens - reused,
                    "summary_before": rows[-1]["summary_after"] if rows else False,
                    "summary_after": changed,
                    "seconds": seconds,
                    "window_start": built.window_start,
                    "system_hash": hash(built.messages[0].content) % 10000,
                    "recall_kept": built.recall_kept,
                    "recall_coverage": built.recall_coverage,
                    # recalled lines in the new message, and those earlier messages still carry
                    "per_turn_tokens": sum(p.tokens for p in built.parts if p.kind == "recall_new"),
                    "held_tokens": sum(p.tokens for p in built.parts if p.kind == "recall_held"),
                    "first_change": same if turn else None,
                    "changed_part": breaks,
                }
            )
            summary_count = len(MemoryTables(store).summaries(thread.id, current_only=False))
            row = rows[-1]
            print(  # progress: a run takes minutes (half an hour on a busy machine)
                f"turn {row['turn']}: prompt {row['prompt_tokens']}, evaluated {row['evaluated']},"
                f" window {row['window_start']}, per turn {row['per_turn_tokens']},"
                f" held {row['held_tokens']}, first change {row['first_change']}"
                f" {row['changed_part']}",
                file=sys.stderr,
                flush=True,
            )
        store.close()
    backend.unload()
    steady = [r for r in rows[1:] if not r["summary_before"]]
    ratio = sum(r["reused"] for r in steady) / max(1, sum(r["prompt_tokens"] for r in steady))
    overall = sum(r["reused"] for r in rows[1:]) / max(1, sum(r["prompt_tokens"] for r in rows[1:]))
    print(
        table(
            f"cache: {args.turns} turns, context {args.ctx}, SmolLM2 on the CPU,"
            f" keep_coverage {params.keep_coverage},"
            f" kept_share {params.kept_share}, top_share {params.top_share}",
            [
                "turn",
                "prompt",
                "evaluated",
                "reused %",
                "summary changed before",
                "window",
                "recall",
                "coverage",
                "per turn",
                "held",
                "first change",
            ],
            [
                [
                    r["turn"],
                    r["prompt_tokens"],
                    r["evaluated"],
                    f"{100 * r['reused'] / max(1, r['prompt_tokens']):.0f}%",
                    "yes" if r["summary_before"] else "",
                    r["window_start"],
                    ""
                    if r["recall_coverage"] is None
                    else ("kept" if r["recall_kept"] else "chosen"),
                    "" if r["recall_coverage"] is None else f"{100 * r['recall_coverage']:.0f}%",
                    r["per_turn_tokens"] or "",
                    r["held_tokens"] or "",
                    "" if r["first_change"] is None else f"{r['first_change']} {r['changed_part']}",
                ]
                for r in rows
            ],
        )
    )
    with_recall = [r for r in steady if r["recall_coverage"] is not None]
    recall_ratio = sum(r["reused"] for r in with_recall) / max(
        1, sum(r["prompt_tokens"] for r in with_recall)
    )
    recalled = [r["recall_coverage"] for r in rows if r["recall_coverage"] is not None]
    coverage = sum(recalled) / len(recalled) if recalled else None
    print(
        f"\nreused on turns where no summary changed: {ratio:.1%}"
        f"  (all turns after the first: {overall:.1%})"
    )
    if with_recall:
        print(
            "reused on those turns once recall is needed (the thread outgrew the context):"
            f" {recall_ratio:.1%},"
            f" {sum(r['evaluated'] for r in with_recall) / len(with_recall):.0f}"
            " tokens read per turn"
        )
    if coverage is not None:
        print(
            f"recall: the prompt carried {coverage:.1%} of what a fresh recall would show"
            f" (ranking-weighted, {len(recalled)} turns with recall;"
            f" the block was kept on {sum(r['recall_kept'] for r in rows)})"
        )
    write_json(
        args.json,
        {
            "turns": rows,
            "reused_ratio_no_summary_change": ratio,
            "reused_ratio_all": overall,
            "reused_ratio_with_recall": recall_ratio if with_recall else None,
            "recall_coverage_mean": coverage,
            "keep_coverage": params.keep_coverage,
            "kept_share": params.kept_share,
            "top_share": params.top_share,
        },
    )
    return 0


def backend_msg(role: str, content: str):  # type: ignore[no-untyped-def]
    from chatapp.domain import ChatMessage

    return ChatMessage(role, content)


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _part_at(rendered: str, before: str, messages) -> str:  # type: ignore[no-untyped-def]
    """Which part of the prompt holds its first character that differs from the prompt
    before: a section of the system message (by its heading), a recent message (counted from
    the window's start) or the last message."""
    at = next((i for i, (x, y) in enumerate(zip(rendered, before)) if x != y), None)
    if at is None:
        return "none" if len(rendered) == len(before) else "end"
    starts: list[tuple[int, str]] = []
    cursor = 0
    first = 0
    if messages and messages[0].role == "system":
        system = messages[0].content
        base = rendered.find(system)
        starts.append((0, "system"))
        for name, heading in (
            ("date", "Today is "),
            ("recall", "Excerpts from earlier in this conversation:"),
            ("summary", "Summary of the earlier conversation:"),
            ("slots", "What you know about the user and this conversation:"),
        ):
            if heading in system:
                starts.append((base + system.find(heading), name))
        cursor = base + len(system)
        first = 1
    for k, m in enumerate(messages[first:]):
        found = rendered.find(m.content, cursor)
        name = "last message" if first + k == len(messages) - 1 else f"recent[{k}]"
        # the template's tokens before a message belong to it
        starts.append((rendered.rfind("\n", cursor, found) if found > cursor else cursor, name))
        cursor = found + len(m.content)
    name = "system"
    for start, part in sorted(starts):
        if start <= at:
            name = part
    return name
