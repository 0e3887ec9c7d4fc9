"""Does the model answer from memory? Planted facts, a long thread, one question per fact.

    python -m chatapp.bench answers [--budget 1500] [--json PATH]

A thread of the project's own making: a fact stated early (say, "My sister Eva lives in
Porto."), then a dozen varied exchanges, for each of sixteen facts, a day apart.
Then each fact is asked about ("Where does my sister Eva live?") with the default model
(greedy), once per prompt layout of the context builder:

    app      the app's CPU layout: best hits with the message, a kept block in the system message
    gpu      the app's GPU layout: the same, the block chosen afresh for every message
    split    the best hits and 30% of the rest with the message, 70% in the system message
    last     every recalled message in the last message (the layout before the kept block)

An answer is right when it contains the fact's key word. Printed per layout: right answers,
and in how many prompts the fact was in the last message / the system message at all. The
small default model's answers are noisy; treat a difference of one or two as none.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import threading
from pathlib import Path

from chatapp.bench.report import table, write_json

FACTS = [
    ("My sister Eva lives in Porto.", "Where does my sister Eva live?", "porto"),
    ("My dog is called Biscuit.", "What is my dog called?", "biscuit"),
    ("I work as a nurse at the city hospital.", "What is my job?", "nurse"),
    ("My favourite food is ramen.", "What is my favourite food?", "ramen"),
    ("I was born in Galway.", "Where was I born?", "galway"),
    ("I drive a red Volvo.", "What car do I drive?", "volvo"),
    ("My daughter plays the cello.", "Which instrument does my daughter play?", "cello"),
    ("I am allergic to peanuts.", "What am I allergic to?", "peanut"),
    ("My husband Tom is a pilot.", "What does my husband Tom do for a living?", "pilot"),
    ("I live in a small flat in Leeds.", "Which city do I live in?", "leeds"),
    ("My cat is named Miso.", "What is my cat's name?", "miso"),
    ("I go swimming every Tuesday.", "Which sport do I do every Tuesday?", "swim"),
    ("My birthday is on 14 July.", "In which month is my birthday?", "july"),
    ("I speak Portuguese at home.", "Which language do I speak at home?", "portuguese"),
    ("My son studies chemistry at university.", "What does my son study?", "chemistry"),
    ("I collect old postcards.", "What do I collect?", "postcard"),
]
CHATTER = [
    ("What is a good book about the sea?", "Try 'The Old Man and the Sea' by Hemingway."),
    (
        "How do I make a simple tomato soup?",
        "Soften onions, add tomatoes and stock, simmer, then blend.",
    ),
    (
        "Suggest a walk in a city park.",
        "Take the loop around the lake and stop at the rose garden.",
    ),
    ("What is a good warm-up before running?", "Five minutes of brisk walking, then leg swings."),
    ("Explain what a leap year is.", "A year with 366 days, added to keep the calendar in step."),
    ("How long should I boil an egg?", "About seven minutes for a firm yolk."),
    ("Recommend a film for a rainy evening.", "'Amélie' is warm and gentle."),
    ("How can I sleep better?", "Keep a regular bedtime and avoid screens late."),
    ("What is the capital of Canada?", "Ottawa."),
    ("Give me a tip for learning chess.", "Learn the basic checkmates first."),
    ("How do I keep basil alive?", "Sun, regular water, and pinch off the flowers."),
    ("What is a haiku?", "A three-line poem of five, seven and five syllables."),
]
LAYOUTS = ("app", "gpu", "split", "last")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m chatapp.bench answers")
    parser.add_argument("--budget", type=int, default=1500, help="tokens for the memory part")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)

    from chatapp.domain import GenerationSettings, Role
    from chatapp.engine.backend import ModelSpec
    from chatapp.engine.default_model import default_model_path
    from chatapp.engine.model_process import ProcessBackend
    from chatapp.memory.builder import BuilderParams, ContextBuilder, params_for
    from chatapp.memory.embedder import shared_embedder
    from chatapp.memory.service import MemoryService
    from chatapp.store import Store

    params = {
        "app": params_for(on_gpu=False),
        "gpu": params_for(on_gpu=True),
        "split": BuilderParams(kept_share=0.7),
        "last": BuilderParams(kept_share=0.0, top_share=0.0),
    }
    backend = ProcessBackend()  # the model in its own process, as the app runs it
    backend.load(ModelSpec(str(default_model_path()), n_ctx=args.budget + 1024, gpu="cpu"))
    embedder = shared_embedder()
    settings = GenerationSettings(temperature=0.0, max_tokens=32, seed=1)
    system = "You are a helpful assistant. Answer briefly."
    results = {name: {"right": 0, "in_last": 0, "in_system": 0} for name in LAYOUTS}
    answers: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="chatapp-answers-bench-") as tmp:
        store = Store.open(Path(tmp) / "answers.sqlite3")
        thread = store.create_thread("answers")
        when = dt.datetime(2026, 3, 2, 9).timestamp()
        for i, (fact, _question, _key) in enumerate(FACTS):
            store.add_message(thread.id, Role.USER, fact, created_at=when)
            store.add_message(
                thread.id, Role.ASSISTANT, "Thanks, I will remember that.", created_at=when + 30
            )
            for j in range(12):
                ask, reply = CHATTER[(i * 5 + j) % len(CHATTER)]
                when += 600
                store.add_message(thread.id, Role.USER, ask, created_at=when)
                store.add_message(thread.id, Role.ASSISTANT, reply, created_at=when + 30)
            when += 86400  # a day per fact
        MemoryService(store, embedder.encode, embedder.name).ingest(thread.id)
        for fact, question, key in FACTS:
            message = store.add_message(thread.id, Role.USER, question, created_at=when)
            row = {"question": question}
            for name in LAYOUTS:
                builder = ContextBuilder(
                    store, backend.count_text_tokens, embedder.encode_one, params=params[name]
                )
                built = builder.build(thread.id, system, message, args.budget, now=when + 60)
                reply = backend.generate(
                    built.messages, settings, threading.Event(), lambda _t: None
                ).text
                results[name]["right"] += key in reply.lower()
                results[name]["in_last"] += fact in built.messages[-1].content
                results[name]["in_system"] += fact in built.messages[0].content
                row[name] = reply.strip()
            answers.append(row)
            store.delete_message(message.id)
        store.close()
    backend.unload()
    print(
        table(
            f"answers: {len(FACTS)} planted facts, memory budget {args.budget}, SmolLM2 greedy",
            ["layout", "right", "fact in last message", "fact in system message"],
            [
                [name, f"{r['right']}/{len(FACTS)}", r["in_last"], r["in_system"]]
                for name, r in results.items()
            ],
        )
    )
    write_json(
        args.json,
        {"budget": args.budget, "facts": len(FACTS), "layouts": results, "answers": answers},
    )
    return 0
