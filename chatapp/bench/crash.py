"""Damaged model files: how many of them end the app's process (the target is none), and
the time from a model process's death to a usable model again.

The damaged copies are the default model with one header field changed per copy (the
kinds of damage a bad conversion, a metadata tool or a half-finished download leaves).
Needs the `gguf` package (the test extra).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from chatapp.bench.report import table, write_json

U32 = 2**32 - 1


def _scalar(key: str, value: int) -> Callable[[Any], None]:
    def change(reader: Any) -> None:
        reader.fields[key].parts[-1][0] = value

    return change


def _array_count(key: str, value: int) -> Callable[[Any], None]:
    def change(reader: Any) -> None:
        reader.fields[key].parts[4][0] = value  # key length, key, type, item type, count

    return change


def _tensor(index: int, part: str, value: int) -> Callable[[Any], None]:
    def change(reader: Any) -> None:
        parts = reader.tensors[index].field.parts  # name length, name, n_dims, dims, type, offset
        where = {"n_dims": 2, "dims": 3, "type": 4, "offset": 5}[part]
        if part == "offset" and value < 0:
            parts[where][0] = parts[where][0] + 1  # misaligned by one byte
        else:
            parts[where][0] = value

    return change


def _template(reader: Any) -> None:
    text = reader.fields["tokenizer.chat_template"].parts[-1]
    raw = bytes(text)
    at = raw.index(b"{% for")
    text[at + 3 : at + 6] = list(b"fxr")  # a template llama-cpp-python cannot compile


def _header(key: str, value: int) -> Callable[[Any], None]:
    def change(reader: Any) -> None:
        reader.fields[key].parts[0][0] = value

    return change


DAMAGE: list[tuple[str, Callable[[Any], None]]] = [
    ("block_count 0", _scalar("llama.block_count", 0)),
    ("block_count huge", _scalar("llama.block_count", U32)),
    ("context_length 0", _scalar("llama.context_length", 0)),
    ("embedding_length 0", _scalar("llama.embedding_length", 0)),
    ("embedding_length huge", _scalar("llama.embedding_length", U32)),
    ("feed_forward_length huge", _scalar("llama.feed_forward_length", U32)),
    ("head_count 0", _scalar("llama.attention.head_count", 0)),
    ("head_count_kv 0", _scalar("llama.attention.head_count_kv", 0)),
    ("head_count_kv > head_count", _scalar("llama.attention.head_count_kv", 1000)),
    ("rope dimension_count 0", _scalar("llama.rope.dimension_count", 0)),
    ("vocab_size huge", _scalar("llama.vocab_size", U32)),
    ("bos_token_id out of range", _scalar("tokenizer.ggml.bos_token_id", 10**9)),
    ("eos_token_id out of range", _scalar("tokenizer.ggml.eos_token_id", U32)),
    ("padding_token_id out of range", _scalar("tokenizer.ggml.padding_token_id", 49152)),
    ("unknown_token_id out of range", _scalar("tokenizer.ggml.unknown_token_id", 2**31)),
    ("tokens count huge", _array_count("tokenizer.ggml.tokens", 2**40)),
    ("tokens count small", _array_count("tokenizer.ggml.tokens", 10)),
    ("token_type count small", _array_count("tokenizer.ggml.token_type", 5)),
    ("merges count 0", _array_count("tokenizer.ggml.merges", 0)),
    ("tensor n_dims 0", _tensor(0, "n_dims", 0)),
    ("tensor n_dims 9", _tensor(0, "n_dims", 9)),
    ("tensor dims huge", _tensor(1, "dims", 2**40)),
    ("tensor dims 0", _tensor(1, "dims", 0)),
    ("tensor type invalid", _tensor(5, "type", 99)),
    ("tensor type changed", _tensor(5, "type", 0)),
    ("tensor offset beyond the file", _tensor(10, "offset", 2**50)),
    ("tensor offset misaligned", _tensor(10, "offset", -1)),
    ("tensor_count huge", _header("GGUF.tensor_count", 10**6)),
    ("tensor_count small", _header("GGUF.tensor_count", 5)),
    ("kv_count huge", _header("GGUF.kv_count", 10**9)),
    ("kv_count small", _header("GGUF.kv_count", 3)),
    ("chat template broken", _template),
]


def damaged_copy(source: Path, target: Path, change: Callable[[Any], None]) -> Path:
    """A copy of `source` with one change made through gguf's reader (in place)."""
    from gguf import GGUFReader

    shutil.copyfile(source, target)
    reader = GGUFReader(target, "r+")
    change(reader)
    reader.data.flush()
    del reader
    return target


def damaged_copies(source: Path, folder: Path) -> Iterator[tuple[str, Path]]:
    """Each damaged copy in turn (one at a time on disk: each is as large as the model)."""
    for label, change in DAMAGE:
        target = folder / ("damaged-" + label.replace(" ", "_").replace(">", "gt") + ".gguf")
        damaged_copy(source, target, change)
        try:
            yield label, target
        finally:
            target.unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m chatapp.bench crash")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--deaths", type=int, default=5, help="children killed mid-reply")
    args = parser.parse_args(argv)

    import tempfile

    from chatapp.domain import ChatMessage, GenerationSettings
    from chatapp.engine.backend import ModelSpec
    from chatapp.engine.default_model import default_model_path
    from chatapp.engine.model_process import ModelProcessDied, ProcessBackend
    from chatapp.errors import ModelLoadError

    source = default_model_path()
    rows = []
    outcomes = {"loaded": 0, "refused": 0, "child died": 0}
    backend = ProcessBackend(load_deadline_s=60)
    with tempfile.TemporaryDirectory(prefix="chatapp-crash-bench-") as tmp:
        for label, path in damaged_copies(source, Path(tmp)):
            t0 = time.perf_counter()
            try:
                backend.load(ModelSpec(str(path), n_ctx=512, gpu="cpu"))
                outcome = "loaded"
                backend.unload()
            except ModelLoadError as exc:
                outcome = "child died" if getattr(exc, "reason", "") else "refused"
                why = exc.message
            else:
                why = ""
            outcomes[outcome] += 1
            rows.append([label, outcome, f"{time.perf_counter() - t0:.2f}", why[:70]])
    print(
        table(
            "Damaged copies of the default model, loaded through the model process",
            ["damage", "outcome", "s", "message"],
            rows,
        )
    )
    print(
        f"\n{len(rows)} damaged copies: the app's process survived all of them "
        f"(this process, pid {os.getpid()}, is the app's side)"
    )

    # the time from a child's death mid-reply to a usable model again
    spec = ModelSpec(str(source), n_ctx=1024, gpu="cpu")
    backend.load(spec)
    recoveries = []
    for _ in range(args.deaths):
        cancel = threading.Event()
        killed: list[float] = []

        def on_text(_t: str, killed: list[float] = killed) -> None:
            if not killed:
                pid = backend.child_pid
                assert pid is not None
                killed.append(time.perf_counter())
                os.kill(pid, signal.SIGKILL)

        try:
            backend.generate(
                [ChatMessage("user", "Tell me a story.")],
                GenerationSettings(max_tokens=200),
                cancel,
                on_text,
            )
        except ModelProcessDied:
            pass
        backend.load(spec)  # what the engine thread does next
        recoveries.append(time.perf_counter() - killed[0])
    backend.unload()
    print(
        table(
            "From a model process's death to a usable model",
            ["case", "median s", "max s"],
            [
                [
                    "SIGKILL mid-reply",
                    f"{statistics.median(recoveries):.2f}",
                    f"{max(recoveries):.2f}",
                ]
            ],
        )
    )
    write_json(
        args.json,
        {
            "damaged_copies": len(DAMAGE),
            # this process is the app's side: every copy it got past did not end it
            "copies_the_app_process_survived": len(rows),
            "outcomes": outcomes,
            "per_copy": [dict(zip(["damage", "outcome", "seconds", "message"], r)) for r in rows],
            "death_to_usable_s_median": statistics.median(recoveries),
            "death_to_usable_s_max": max(recoveries),
        },
    )
    return 0
