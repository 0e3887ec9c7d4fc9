"""Tokens/s and time to first token through the app's engine thread vs bare llama_cpp.Llama.

Three sides in one process and one run: bare llama_cpp.Llama, the app's engine thread
with the model in its own process (as the app runs it), and the engine thread with the
model in this process (as it ran before), so the cost of the process boundary shows.

Built to give the same answer on a busy machine as on a quiet one, as far as that can be:
- every side runs the same thing: the prompt tokens the app renders, the app's sampling
  settings and seed, the same stop strings, context and threads; the replies come out the
  same token for token (the table says in how many rounds they did);
- rounds interleave the sides (each goes first in turn), so a burst of load elsewhere hits
  all of them; each round has a prompt no side has seen (no KV cache reuse);
- the ratios are taken within each round and their median reported, beside the medians.
Times are measured where the reply is used: for the app, from handing the messages to the
backend (rendering included) to the first piece of text and to the last, on the engine
thread (the model process's pieces after crossing the pipe); for bare, around
create_completion. Tokens are counted the same way for all: the reply re-tokenized.
CPU time per token (this process, plus the model process for that side) is the figure a
busy machine disturbs least: waiting for a core costs wall time, not CPU time. Likewise the
first token's time spent crossing the boundary is measured within one reply (the app's
wait from sending the request to the first text, less the model process's own time to it).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from typing import Any

from chatapp.bench.report import table, write_json

PROMPTS = [
    "Write a detailed story about a lighthouse keeper and a storm.",
    "Describe, step by step, how a sailing ship crosses an ocean.",
    "Tell a long tale of a baker who opens a shop in a mountain village.",
    "Explain in detail how bees build and run their hive.",
    "Write a long letter from an astronaut to her family on Earth.",
]
SIDES = ("bare", "process", "thread")


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) of this process, plus that of process `pid` when given."""
    import psutil

    total = time.process_time()
    if pid is not None:
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system
    return total


def round_prompt(run: int) -> str:
    """A prompt that no earlier round used, from its very first word (no cached prefix)."""
    return f"Story {run + 1}. {PROMPTS[run % len(PROMPTS)]}"


def bare_run(
    llm: Any, tokens: list[int], stop: list[str], settings: Any
) -> tuple[float, float, str]:
    """llama-cpp-python as a script would use it, with exactly what the app asks for."""
    start = time.perf_counter()
    first = None
    parts: list[str] = []
    for chunk in llm.create_completion(
        prompt=tokens,
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        top_p=settings.top_p,
        top_k=settings.top_k,
        min_p=settings.min_p,
        repeat_penalty=settings.repeat_penalty,
        seed=settings.seed,
        stop=stop,
        stream=True,
    ):
        text = chunk["choices"][0].get("text")
        if text:
            first = first or time.perf_counter()
            parts.append(text)
    end = time.perf_counter()
    return (first or end) - start, end - (first or end), "".join(parts)


def app_run(engine: Any, prompt: str, settings: Any) -> tuple[float, float, str]:
    """One reply through the engine thread; the backend's own clock (see the docstring)."""
    from PySide6.QtCore import QEventLoop

    from chatapp.domain import ChatMessage
    from chatapp.workers.engine import ReplyRequest

    loop = QEventLoop()
    state: dict[str, Any] = {}

    def on_finished(_rid: int, result: Any) -> None:
        state["result"] = result
        loop.quit()

    def on_failed(_rid: int, message: str) -> None:
        state["error"] = message
        loop.quit()

    engine.finished.connect(on_finished)
    engine.failed.connect(on_failed)
    engine.reply(ReplyRequest(None, [ChatMessage("user", prompt)], settings))
    loop.exec()  # sleeps until a signal arrives: no busy loop stealing a core from llama.cpp
    engine.finished.disconnect(on_finished)
    engine.failed.disconnect(on_failed)
    if "error" in state:
        raise RuntimeError(state["error"])
    result = state["result"]
    return result.time_to_first_token, result.seconds - result.time_to_first_token, result.text


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m chatapp.bench engine")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--runs", type=int, default=9, help="rounds (each runs every side once)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--ctx", type=int, default=2048)
    args = parser.parse_args(argv)

    import llama_cpp
    from PySide6.QtCore import QCoreApplication

    from chatapp.domain import ChatMessage, GenerationSettings
    from chatapp.engine import device
    from chatapp.engine.backend import ModelSpec
    from chatapp.engine.default_model import default_model_path
    from chatapp.engine.llama_backend import LlamaBackend
    from chatapp.engine.model_process import ProcessBackend
    from chatapp.engine.prompt_format import PromptFormat
    from chatapp.workers.engine import EngineController

    path = str(default_model_path())
    threads = args.threads or device.default_threads()
    layers = -1 if device.gpu_offload_supported() else 0

    t0 = time.perf_counter()
    bare = llama_cpp.Llama(
        path,
        n_ctx=args.ctx,
        n_threads=threads,
        n_threads_batch=threads,
        n_gpu_layers=layers,
        verbose=False,
    )
    bare_load = time.perf_counter() - t0
    bare_format = PromptFormat(bare._model, bare.metadata.get("tokenizer.chat_template"))

    app = QCoreApplication.instance() or QCoreApplication([])
    factories = {"process": ProcessBackend, "thread": LlamaBackend}
    engines: dict[str, Any] = {}
    infos: dict[str, Any] = {}
    ready_s: dict[str, float] = {}
    for side, factory in factories.items():
        engine = EngineController(factory)
        loaded = threading.Event()
        info_box: list[Any] = []

        def on_loaded(
            info: object, box: list[Any] = info_box, done: threading.Event = loaded
        ) -> None:
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

    rows: dict[str, list[tuple[float, float, float]]] = {side: [] for side in SIDES}
    transit_ms: list[float] = []  # the boundary's share of the first token, measured directly
    same_text = 0
    for run in range(args.runs):
        prompt = round_prompt(run)
        settings = GenerationSettings(max_tokens=args.tokens, seed=run)
        rendered = bare_format.render([ChatMessage("user", prompt)])
        texts = {}
        for side in SIDES[run % 3 :] + SIDES[: run % 3]:  # each side goes first in turn
            child = engines["process"].model_pid if side == "process" else None
            cpu = cpu_seconds(child)
            if side == "bare":
                ttft, decode, text = bare_run(bare, rendered.tokens, rendered.stop, settings)
            else:
                ttft, decode, text = app_run(engines[side], prompt, settings)
                transit = getattr(engines[side]._worker._backend, "last_transit_s", None)
                if transit is not None:
                    transit_ms.append(transit * 1000)
            cpu = cpu_seconds(child) - cpu
            n = count(text)
            tps = (n - 1) / decode if decode > 0 else 0.0
            rows[side].append((ttft, tps, cpu * 1000 / max(n, 1)))
            texts[side] = text
        same_text += len(set(texts.values())) == 1
    for engine in engines.values():
        engine.shutdown()
    bare.close()

    def med(side: str, i: int) -> float:
        return statistics.median(r[i] for r in rows[side])

    def per_round(a: str, b: str, i: int, how: str) -> list[float]:
        pairs = zip(rows[a], rows[b])
        if how == "ratio":
            return [x[i] / y[i] for x, y in pairs if y[i] > 0]
        return [(x[i] - y[i]) * 1000 for x, y in pairs]

    def spread(values: list[float]) -> str:
        low, high = min(values), max(values)
        return f"{low:.3f}..{high:.3f}" if abs(high) < 100 else f"{low:.1f}..{high:.1f}"

    tps_ratio = per_round("process", "bare", 1, "ratio")
    tps_ratio_thread = per_round("thread", "bare", 1, "ratio")
    cpu_ratio = per_round("bare", "process", 2, "ratio")  # bare's CPU per token / the app's
    boundary_ms = per_round("process", "thread", 0, "diff")
    over_bare_ms = per_round("process", "bare", 0, "diff")
    figures: dict[str, Any] = {
        "model": info.name,
        "device": info.device,
        "threads": threads,
        "max_tokens": args.tokens,
        "runs": args.runs,
        "same_text_rounds": same_text,
        "load_s": {"bare": bare_load, "process": ready_s["process"], "thread": ready_s["thread"]},
        "ttft_s": {side: med(side, 0) for side in SIDES},
        "tokens_per_s": {side: med(side, 1) for side in SIDES},
        "cpu_ms_per_token": {side: med(side, 2) for side in SIDES},
        # the figures to judge by: medians of the per-round comparisons
        "tokens_per_s_ratio": statistics.median(tps_ratio),
        "tokens_per_s_ratio_rounds": tps_ratio,
        "tokens_per_s_ratio_in_process": statistics.median(tps_ratio_thread),
        "cpu_per_token_ratio": statistics.median(cpu_ratio),
        "ttft_overhead_ms": statistics.median(boundary_ms),
        "ttft_overhead_ms_rounds": boundary_ms,
        "ttft_over_bare_ms": statistics.median(over_bare_ms),
        "ttft_transit_ms": statistics.median(transit_ms) if transit_ms else None,
        "load_overhead_s": ready_s["process"] - ready_s["thread"],
    }
    print(
        table(
            f"engine: {info.name} on {info.device}, {args.tokens} tokens, "
            f"{args.runs} interleaved rounds (medians)",
            ["path", "load to ready s", "first token s", "tokens/s", "CPU ms/token"],
            [
                [
                    label,
                    ready,
                    figures["ttft_s"][side],
                    figures["tokens_per_s"][side],
                    figures["cpu_ms_per_token"][side],
                ]
                for label, side, ready in [
                    ("bare llama_cpp.Llama", "bare", bare_load),
                    ("chatapp, model process", "process", ready_s["process"]),
                    ("chatapp, in-process (before)", "thread", ready_s["thread"]),
                ]
            ],
        )
    )
    print()
    print(
        table(
            "per-round comparisons (median, and lowest..highest over the rounds)",
            ["figure", "median", "rounds", "target"],
            [
                [
                    "tokens/s, model process / bare",
                    figures["tokens_per_s_ratio"],
                    spread(tps_ratio),
                    ">= 0.97",
                ],
                [
                    "tokens/s, in-process / bare",
                    figures["tokens_per_s_ratio_in_process"],
                    spread(tps_ratio_thread),
                    "",
                ],
                [
                    "CPU per token, bare / model process (both sides)",
                    figures["cpu_per_token_ratio"],
                    spread(cpu_ratio),
                    ">= 0.97",
                ],
                [
                    "first token ms, model process - in-process",
                    figures["ttft_overhead_ms"],
                    spread(boundary_ms),
                    "< 10",
                ],
                [
                    "first token ms, model process - bare",
                    figures["ttft_over_bare_ms"],
                    spread(over_bare_ms),
                    "",
                ],
                [
                    "first token ms spent crossing the process boundary",
                    figures["ttft_transit_ms"],
                    spread(transit_ms) if transit_ms else "",
                    "< 10",
                ],
            ],
        )
    )
    print(
        f"\nload to ready: model process {figures['load_overhead_s']:+.2f} s vs in-process; "
        f"the same reply on all three sides in {same_text}/{args.runs} rounds"
    )
    write_json(args.json, figures)
    return 0
