"""Tokens/s and time to first token through the app's engine thread vs bare llama_cpp.Llama.

Both use the default model, the same prompt, settings, context and threads, in
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
    from chatapp.domain import ChatMessage, GenerationSettings
    from chatapp.workers.engine import ReplyRequest

    from PySide6.QtCore import QEventLoop

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
    from chatapp.workers.engine import EngineController

    path = str(default_model_path())
    threads = args.threads or device.default_threads()
    layers = -1 if device.gpu_offload_supported() else 0

    t0 = time.perf_counter()
    bare = llama_cpp.Llama(path, n_ctx=args.ctx, n_threads=threads, n_threads_batch=threads,
                           n_gpu_layers=layers, verbose=False)
    bare_load = time.perf_counter() - t0

    app = QCoreApplication.instance() or QCoreApplication([])
    engine = EngineController(LlamaBackend)
    loaded = threading.Event()
    info_box: list = []
    def on_loaded(info: object) -> None:
        info_box.append(info)
        loaded.set()

    def on_load_failed(message: str) -> None:
        print(message)
        loaded.set()

    engine.loaded.connect(on_loaded)
    engine.load_failed.connect(on_load_failed)
    engine.load(ModelSpec(path, n_ctx=args.ctx, n_threads=threads))
    while not loaded.is_set():
        app.processEvents()
        loaded.wait(0.01)
    if not info_box:
        return 1
    info = info_box[0]

    def count(text: str) -> int:
        return len(bare.tokenize(text.encode(), add_bos=False))

    rows: dict[str, list[tuple[float, float]]] = {"bare": [], "app": []}
    for run in range(args.runs):
        prompt = PROMPTS[run % len(PROMPTS)]  # new each run: neither side reuses a cached prompt
        for side in ("bare", "app") if run % 2 == 0 else ("app", "bare"):
            if side == "bare":
                ttft, decode, text = bare_run(bare, prompt, args.tokens, seed=run)
            else:
                ttft, decode, text = app_run(engine, prompt, args.tokens, seed=run)
            tps = (count(text) - 1) / decode if decode > 0 else 0.0
            rows[side].append((ttft, tps))
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
        "load_s": {"bare": bare_load, "app": info.load_seconds},
        "ttft_s": {"bare": med("bare", 0), "app": med("app", 0)},
        "tokens_per_s": {"bare": med("bare", 1), "app": med("app", 1)},
    }
    figures["tokens_per_s_ratio"] = figures["tokens_per_s"]["app"] / figures["tokens_per_s"]["bare"]
    figures["ttft_ratio"] = figures["ttft_s"]["app"] / figures["ttft_s"]["bare"]
    print(
        table(
            f"engine: {info.name} on {info.device}, {args.tokens} tokens, median of {args.runs} runs",
            ["path", "load s", "first token s", "tokens/s"],
            [
                ["bare llama_cpp.Llama", bare_load, figures["ttft_s"]["bare"], figures["tokens_per_s"]["bare"]],
                ["chatapp worker", info.load_seconds, figures["ttft_s"]["app"], figures["tokens_per_s"]["app"]],
                ["ratio app/bare", "", figures["ttft_ratio"], figures["tokens_per_s_ratio"]],
            ],
        )
    )
    write_json(args.json, figures)
    return 0
