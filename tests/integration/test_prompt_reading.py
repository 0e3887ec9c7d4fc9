"""Reading a long prompt with the real default model in its own process: the progress the
app shows ("reading 3,100 / 7,900 tokens"), the same reply as without it, and a stop while
the model reads."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest

from chatapp.domain import ChatMessage, GenerationSettings
from chatapp.engine.backend import ModelSpec
from chatapp.engine.llama_backend import LlamaBackend
from chatapp.engine.model_process import ProcessBackend

pytestmark = pytest.mark.model

BATCH = 32  # small batches: many progress steps from a prompt the tests can afford
GREEDY = GenerationSettings(temperature=0.0, max_tokens=8, seed=1)
# one thread: on a busy machine llama.cpp's spinning threads make two 10x slower than one
SPEC = {"n_ctx": 1024, "n_batch": BATCH, "gpu": "cpu", "n_threads": 1}


def long_question(words: int = 160, what: str = "item") -> list[ChatMessage]:
    paste = " ".join(f"{what}{i} costs {i % 97} euros;" for i in range(words // 4))
    return [ChatMessage("user", f"{paste}\nWhich item costs 5 euros?")]


@pytest.fixture(scope="module")
def backend(default_model: Path):  # type: ignore[no-untyped-def]
    b = ProcessBackend()
    b.load(ModelSpec(str(default_model), **SPEC))  # type: ignore[arg-type]
    yield b
    b.unload()


def test_progress_rises_batch_by_batch_to_the_whole_prompt_and_the_reply_is_unchanged(
    backend: ProcessBackend, default_model: Path
) -> None:
    messages = long_question()
    total = backend.count_tokens(messages)
    assert total > 4 * BATCH
    progress: list[tuple[int, int]] = []
    there = backend.generate(
        messages, GREEDY, threading.Event(), lambda _t: None, lambda d, t: progress.append((d, t))
    )
    assert progress[0] == (0, total)  # told before the first batch is read
    assert progress[-1] == (total, total)
    dones = [done for done, _ in progress]
    assert dones == sorted(set(dones)) and all(t == total for _, t in progress)
    assert all(b - a <= BATCH for a, b in itertools.pairwise(dones))
    assert len(progress) >= total // BATCH
    # llama-cpp-python reading the prompt itself (no progress asked) writes the same reply
    local = LlamaBackend()
    local.load(ModelSpec(str(default_model), **SPEC))  # type: ignore[arg-type]
    try:
        here = local.generate(messages, GREEDY, threading.Event(), lambda _t: None)
    finally:
        local.unload()
    assert there.text and there.text == here.text
    assert there.prompt_tokens == here.prompt_tokens == total


def test_a_prompt_already_read_is_not_read_again(backend: ProcessBackend) -> None:
    messages = long_question(140)
    backend.generate(messages, GREEDY, threading.Event(), lambda _t: None)
    again: list[tuple[int, int]] = []
    more = [*messages, ChatMessage("assistant", "item5."), ChatMessage("user", "And 6 euros?")]
    backend.generate(
        more, GREEDY, threading.Event(), lambda _t: None, lambda d, t: again.append((d, t))
    )
    assert backend.last_reused_tokens > 4 * BATCH
    assert again == []  # the new part fits one batch: nothing to tell


@pytest.mark.parametrize("how", ["event", "cancel_now"])
def test_stop_while_reading_ends_within_a_batch(backend: ProcessBackend, how: str) -> None:
    messages = long_question(200, how)  # a prompt of its own: nothing of it is cached
    total = backend.count_tokens(messages)
    cancel = threading.Event()
    progress: list[tuple[int, int]] = []
    stopped_at: list[int] = []

    def on_progress(done: int, all_: int) -> None:
        progress.append((done, all_))
        if done >= 2 * BATCH and not stopped_at:
            stopped_at.append(len(progress))
            cancel.set()
            if how == "cancel_now":
                backend.cancel_now()

    texts: list[str] = []
    result = backend.generate(messages, GREEDY, cancel, texts.append, on_progress)
    assert stopped_at and result.finish_reason == "cancelled"
    assert result.text == "" and texts == []
    assert len(progress) - stopped_at[0] <= 1  # at most the batch already being read
    assert progress[-1][0] < total
    # the next reply reads what is left and is the reply that prompt always gets
    after: list[tuple[int, int]] = []
    again = backend.generate(
        messages, GREEDY, threading.Event(), lambda _t: None, lambda d, t: after.append((d, t))
    )
    assert again.finish_reason != "cancelled" and again.text
    assert after[-1] == (total, total)
    fresh = ProcessBackend()
    fresh.load(ModelSpec(backend.info.path, **SPEC))  # type: ignore[arg-type, union-attr]
    try:
        same = fresh.generate(messages, GREEDY, threading.Event(), lambda _t: None)
        assert same.text == again.text
    finally:
        fresh.unload()
