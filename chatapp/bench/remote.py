"""The same prompts through the local backend and through llama.cpp's OpenAI-compatible
server on loopback (same model, context and threads): tokens/s and time to first token."""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

from chatapp.bench.engine import PROMPTS
from chatapp.bench.report import table, write_json


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m chatapp.bench remote")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--tokens", type=int, default=150)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    from chatapp.domain import ChatMessage, GenerationSettings
    from chatapp.engine import device
    from chatapp.engine.backend import ModelSpec
    from chatapp.engine.default_model import default_model_path
    from chatapp.engine.model_process import ProcessBackend
    from chatapp.engine.remote import Endpoint, RemoteBackend

    model = str(default_model_path())
    threads = device.default_threads()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            model,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            "--n_threads",
            str(threads),
            "--verbose",
            "False",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url + "/models", timeout=1).close()
                break
            except OSError:
                time.sleep(0.25)
        local = ProcessBackend()  # the model in its own process, as the app runs it
        local.load(ModelSpec(model, n_ctx=2048, n_threads=threads))
        remote = RemoteBackend()
        remote.load(ModelSpec(url, endpoint=Endpoint("loopback", url, n_ctx=2048)))
        results: dict[str, list[tuple[float, float]]] = {"local": [], "server": []}
        for run in range(args.runs):
            settings = GenerationSettings(temperature=0.7, max_tokens=args.tokens, seed=run)
            prompt = [ChatMessage("user", PROMPTS[run % len(PROMPTS)])]
            for name, backend in (
                (("local", local), ("server", remote))
                if run % 2 == 0
                else (("server", remote), ("local", local))
            ):
                r = backend.generate(prompt, settings, threading.Event(), lambda _t: None)
                results[name].append((r.time_to_first_token, r.tokens_per_second))
        local.unload()
    finally:
        server.terminate()
        server.wait(10)

    def med(name: str, i: int) -> float:
        return statistics.median(x[i] for x in results[name])

    figures = {
        "tokens": args.tokens,
        "runs": args.runs,
        "threads": threads,
        "ttft_s": {"local": med("local", 0), "server": med("server", 0)},
        "tokens_per_s": {"local": med("local", 1), "server": med("server", 1)},
    }
    figures["tokens_per_s_ratio"] = (
        figures["tokens_per_s"]["server"] / figures["tokens_per_s"]["local"]
    )
    print(
        table(
            f"remote: the default model, {args.tokens} tokens, "
            f"median of {args.runs} runs ({threads} threads)",
            ["path", "first token s", "tokens/s"],
            [
                [
                    "local (the app's model process)",
                    figures["ttft_s"]["local"],
                    figures["tokens_per_s"]["local"],
                ],
                [
                    "loopback server (OpenAI API)",
                    figures["ttft_s"]["server"],
                    figures["tokens_per_s"]["server"],
                ],
                [
                    "ratio server/local",
                    figures["ttft_s"]["server"] / figures["ttft_s"]["local"],
                    figures["tokens_per_s_ratio"],
                ],
            ],
        )
    )
    write_json(args.json, figures)
    return 0
