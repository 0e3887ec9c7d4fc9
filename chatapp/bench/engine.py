"""Tokens/s and time to first token through the app's engine thread vs bare llama_cpp.Llama.

Three sides in one process and one run: bare llama_cpp.Llama, the app's engine thread
with the model in its own process (as the app runs it), and the engine thread with the
model in this process (as it ran before), so the cost of the process boundary shows.
All use the default model, the same prompt, settings, context and threads, in
this process, alternating runs; each side has its own Llama so neither reuses
the other's KV cache; each run has a new prompt, so time to first token is
that of a prompt never seen before. Tokens are counted the same way for both: the reply text
re-tokenized by the model.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

from chatapp.bench.report import table, write_json

PROMPTS = [
    "Write a detailed story about a lighthouse keeper and a storm.",
    "Describe, step by step, how a sailing ship crosses an ocean.",
    "Tell a long tale of a baker who opens a shop in a mountain village.",
    "Explain in detail how bees build and run their hive.",
    "Write a long letter from an astronaut to her family on Earth.",
]


def bare_run(llm, prompt: str, max_tokens: int, seed: int) -> tuple[float, float, str]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    first = None
    parts: list[str] = []
    for chunk in llm.create_chat_completion(
        messages=[{"role": "user", "content": prompt}],
        max_tokens=max_tokens,
        temperature=0.7,
        seed=seed,
        stream=True,
    ):
        text = chunk["choices"][0]["delta"].get("content")
        if text:
            first = first or time.perf_counter()
            parts.append(text)
    end = time.perf_counter()
    return (first or end) - start, end - (first or end), "".join(parts)


def app_run(engine, prompt: str, max_tokens: int, seed: int):  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QEventLoop

    from chatapp.domain import ChatMessage, GenerationSettings
    from chatapp.workers.engine import ReplyRequest

    loop = QEventLoop()
    state: dict = {}

    def on_text(_rid: int, text: str) -> None:
        state.setdefault("first", time.perf_counter())
        state["text"] = state.get("text", "") + text

    def on_finished(_rid: int, _result: object) -> None:
        state["end"] = time.perf_counter()
        loop.quit()

    engine.text.connect(on_text)
    engine.finished.connect(on_finished)
    def on_failed(_rid: int, message: str) -> None:
        state["error"] = message
        state["end"] = time.perf_counter()
        loop.quit()

    engine.failed.connect(on_failed)
    settings = GenerationSettings(temperature=0.7, max_tokens=max_tokens, seed=seed, top_p=0.95)
    start = time.perf_counter()
    engine.reply(ReplyRequest(None, [ChatMessage("user", prompt)], settings))
    loop.exec()  # sleeps until a signal arrives: no busy loop stealing a core from llama.cpp
    engine.text.disconnect(on_text)
    engine.finished.disconnect(on_finished)
    engine.failed.disconnect(on_failed)
    if "error" in state:
        raise RuntimeError(state["error"])
    first = state.get("first", state["end"])
    return first - start, state["end"] - first, state.get("text", "")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m chatapp.bench engine")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--ctx", type=int, default=2048)
    args = parser.parse_args(argv)

    import llama_cpp
    from PySide6.QtCore import QCoreApplication

    from chatapp.engine import device
    from chatapp.engine.backend import ModelSpec
    from chatapp.engine.default_model import default_model_path
    from chatapp.engine.llama_backend import LlamaBackend
    from chatapp.engine.model_process import ProcessBackend
    from chatapp.workers.engine import EngineController

    path = str(default_model_path())
    threads = args.threads or device.default_threads()
    layers = -1 if device.gpu_offload_supported() else 0

    t0 = time.perf_counter()
    bare = llama_cpp.Llama(path, n_ctx=args.ctx, n_threads=threads, n_threads_batch=threads,
                           n_gpu_layers=layers, verbose=False)
    bare_load = time.perf_counter() - t0

    app = QCoreApplication.instance() or QCoreApplication([])
    sides = {"process": ProcessBackend, "thread": LlamaBackend}
    engines = {}
    infos = {}
    ready_s = {}
    for side, factory in sides.items():
        engine = EngineController(factory)
        loaded = threading.Event()
        info_box: list = []

        def on_loaded(info: object, box: list = info_box, done: threading.Event = loaded) -> None:
            box.append(info)
            done.set()

        def on_load_failed(message: str, done: threading.Event = loaded) -> None:
            print(message)
            done.set()

        engine.loaded.connect(on_loaded)
        engine.load_failed.connect(on_load_failed)
        t0 = time.perf_counter()
        engine.load(ModelSpec(path, n_ctx=args.ctx, n_threads=threads))
        while not loaded.is_set():
            app.processEvents()
            loaded.wait(0.005)
        ready_s[side] = time.perf_counter() - t0  # from asking to a usable model
        if not info_box:
            return 1
        engines[side], infos[side] = engine, info_box[0]
    info = infos["process"]

    def count(text: str) -> int:
        return len(bare.tokenize(text.encode(), add_bos=False))

    order = ["bare", "process", "thread"]
    rows: dict[str, list[tuple[float, float]]] = {side: [] for side in order}
    for run in range(args.runs):
        prompt = PROMPTS[run % len(PROMPTS)]  # new each run: no side reuses a cached prompt
        for side in order[run % 3:] + order[: run % 3]:  # each side goes first in turn
            if side == "bare":
                ttft, decode, text = bare_run(bare, prompt, args.tokens, seed=run)
            else:
                ttft, decode, text = app_run(engines[side], prompt, args.tokens, seed=run)
            tps = (count(text) - 1) / decode if decode > 0 else 0.0
            rows[side].append((ttft, tps))
    for engine in engines.values():
        engine.shutdown()
    bare.close()

    def med(side: str, i: int) -> float:
        return statistics.median(r[i] for r in rows[side])

    figures = {
        "model": info.name,
        "device": info.device,
        "threads": threads,
        "max_tokens": args.tokens,
        "runs": args.runs,
        "load_s": {"bare": bare_load, "process": ready_s["process"], "thread": ready_s["thread"]},
        "ttft_s": {side: med(side, 0) for side in order},
        "tokens_per_s": {side: med(side, 1) for side in order},
    }
    figures["tokens_per_s_ratio"] = figures["tokens_per_s"]["process"] / figures["tokens_per_s"]["bare"]
    figures["ttft_ratio"] = figures["ttft_s"]["process"] / figures["ttft_s"]["bare"]
    figures["ttft_overhead_ms"] = (figures["ttft_s"]["process"] - figures["ttft_s"]["thread"]) * 1000
    figures["load_overhead_s"] = ready_s["process"] - ready_s["thread"]
    print(
        table(
            f"engine: {info.name} on {info.device}, {args.tokens} tokens, median of {args.runs} runs",
            ["path", "load to ready s", "first token s", "tokens/s"],
            [
                ["bare llama_cpp.Llama", bare_load, figures["ttft_s"]["bare"], figures["tokens_per_s"]["bare"]],
                ["chatapp, model process", ready_s["process"], figures["ttft_s"]["process"],
                 figures["tokens_per_s"]["process"]],
                ["chatapp, in-process (before)", ready_s["thread"], figures["ttft_s"]["thread"],
                 figures["tokens_per_s"]["thread"]],
                ["ratio model process/bare", "", figures["ttft_ratio"], figures["tokens_per_s_ratio"]],
            ],
        )
    )
    print(f"\nthe process boundary: first token {figures['ttft_overhead_ms']:+.1f} ms, "
          f"load {figures['load_overhead_s']:+.2f} s (model process minus in-process worker)")
    write_json(args.json, figures)
    return 0
