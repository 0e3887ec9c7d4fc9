"""The model in its own process, with the real default model: the same tokens and replies as
in-process, stop, and every way a child can end without the app's process ending with it."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from chatapp.domain import ChatMessage, GenerationSettings
from chatapp.engine.backend import ModelSpec
from chatapp.engine.llama_backend import LlamaBackend
from chatapp.engine.model_process import (
    ModelProcessCrashed,
    ModelProcessDied,
    ProcessBackend,
)
from chatapp.errors import ModelLoadError

pytestmark = pytest.mark.model

GREEDY = GenerationSettings(temperature=0.0, max_tokens=24, seed=1)
QUESTION = [
    ChatMessage("system", "Be brief."),
    ChatMessage("user", "What is the capital of France?"),
]


def killed_mid_reply(backend: ProcessBackend, after: int) -> tuple[ModelProcessDied, list[str]]:
    """A story asked of the child, which is SIGKILLed after `after` pieces of text: the death
    reported, and the pieces that came before it."""
    pid = backend.child_pid
    assert pid is not None
    pieces: list[str] = []

    def on_text(text: str) -> None:
        pieces.append(text)
        if len(pieces) == after:
            os.kill(pid, signal.SIGKILL)

    with pytest.raises(ModelProcessDied) as caught:
        backend.generate(
            [ChatMessage("user", "Tell me a story.")],
            GenerationSettings(temperature=0.0, max_tokens=300),
            threading.Event(),
            on_text,
        )
    return caught.value, pieces


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def wait_until(check, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def backend(default_model: Path):  # type: ignore[no-untyped-def]
    b = ProcessBackend()
    b.load(ModelSpec(str(default_model), n_ctx=1024, gpu="cpu"))
    yield b
    b.unload()


def test_same_tokens_and_reply_as_in_process(backend: ProcessBackend, default_model: Path) -> None:
    local = LlamaBackend()
    local.load(ModelSpec(str(default_model), n_ctx=1024, gpu="cpu"))
    try:
        assert backend.child_pid != os.getpid()
        assert backend.prompt_tokens(QUESTION) == local.prompt_tokens(QUESTION)
        assert backend.render_prompt(QUESTION) == local.render_prompt(QUESTION)
        assert backend.count_text_tokens("Lisbon in spring") == local.count_text_tokens(
            "Lisbon in spring"
        )
        pieces: list[str] = []
        there = backend.generate(QUESTION, GREEDY, threading.Event(), pieces.append)
        here = local.generate(QUESTION, GREEDY, threading.Event(), lambda _t: None)
    finally:
        local.unload()
    assert there.text == here.text and "".join(pieces) == there.text
    assert (
        there.completion_tokens == here.completion_tokens
        and there.prompt_tokens == here.prompt_tokens
    )
    assert backend.info is not None and backend.info.device.startswith("CPU")


@pytest.mark.parametrize("how", ["event", "cancel_now"])
def test_stop_ends_the_reply_within_a_couple_of_tokens(backend: ProcessBackend, how: str) -> None:
    cancel = threading.Event()
    pieces: list[str] = []
    at_stop: list[int] = []

    def on_text(text: str) -> None:
        pieces.append(text)
        if not at_stop:
            at_stop.append(backend.count_text_tokens("".join(pieces)))
            if how == "event":
                cancel.set()  # what the engine thread sees
            else:
                backend.cancel_now()  # what the GUI thread does, besides setting the event

    result = backend.generate(
        [ChatMessage("user", "Write a long story about a lighthouse.")],
        GenerationSettings(temperature=0.0, max_tokens=300),
        cancel,
        on_text,
    )
    assert result.finish_reason == "cancelled" and result.text == "".join(pieces)
    # written but not yet sent when the stop came: at most one batch of text (SEND_EVERY)
    batch = max(backend.count_text_tokens(piece) for piece in pieces)
    assert at_stop[0] <= result.completion_tokens <= at_stop[0] + batch + 2
    assert result.completion_tokens < 100


def test_the_kv_cache_survives_side_work(backend: ProcessBackend) -> None:
    history = [ChatMessage("user", "Name three rivers in Europe.")]
    first = backend.generate(history, GREEDY, threading.Event(), lambda _t: None)
    follow = [
        *history,
        ChatMessage("assistant", first.text),
        ChatMessage("user", "And one in Asia?"),
    ]
    with backend.keeping_cache():
        backend.generate(
            [ChatMessage("user", "Summarise: nothing.")], GREEDY, threading.Event(), lambda _t: None
        )
    backend.generate(follow, GREEDY, threading.Event(), lambda _t: None)
    assert backend.last_reused_tokens >= len(backend.prompt_tokens(history)) - 1


def test_a_child_killed_mid_reply_keeps_the_text_so_far(
    backend: ProcessBackend, default_model: Path
) -> None:
    pid = backend.child_pid
    assert pid is not None
    died, pieces = killed_mid_reply(backend, after=5)
    assert "SIGKILL" in died.message and "The text so far is kept" in died.message
    assert died.partial_text == "".join(pieces) and len(pieces) >= 5
    assert backend.info is None and not alive(pid)
    backend.load(ModelSpec(str(default_model), n_ctx=1024, gpu="cpu"))  # a fresh child
    assert backend.child_pid not in (None, pid)
    assert backend.generate(QUESTION, GREEDY, threading.Event(), lambda _t: None).text


def test_a_child_that_ignores_a_stop_is_ended(default_model: Path) -> None:
    backend = ProcessBackend(stop_grace=1.0)
    backend.load(ModelSpec(str(default_model), n_ctx=1024, gpu="cpu"))
    pid = backend.child_pid
    assert pid is not None
    cancel = threading.Event()
    pieces: list[str] = []

    def on_text(text: str) -> None:
        pieces.append(text)
        if len(pieces) == 2:
            os.kill(pid, signal.SIGSTOP)  # frozen: it can neither stop nor answer
            cancel.set()

    try:
        with pytest.raises(ModelProcessDied) as caught:
            backend.generate(
                [ChatMessage("user", "Tell me a story.")],
                GenerationSettings(temperature=0.0, max_tokens=300),
                cancel,
                on_text,
            )
        assert "did not stop" in caught.value.reason and caught.value.partial_text == "".join(
            pieces
        )
        assert wait_until(lambda: not alive(pid))
    finally:
        backend.unload()


def test_a_child_that_aborts_while_loading_is_a_message(
    tmp_path: Path, default_model: Path
) -> None:
    from chatapp.bench.crash import _scalar, damaged_copy

    path = damaged_copy(
        default_model, tmp_path / "zero-blocks.gguf", _scalar("llama.block_count", 0)
    )
    backend = ProcessBackend()
    with pytest.raises(ModelProcessCrashed) as caught:
        backend.load(ModelSpec(str(path), n_ctx=512, gpu="cpu"))
    error = caught.value
    assert error.message == (
        "The model process stopped while loading zero-blocks.gguf (llama.cpp aborted). "
        "The file may be damaged."
    )
    assert error.path == str(path.resolve()) and error.reason == "llama.cpp aborted"
    assert "Last lines of llama.cpp's log:" in error.detail and "llama_model_loader" in error.detail
    assert backend.info is None and backend.child_pid is None


def test_a_failed_switch_keeps_the_model_that_was_loaded(
    backend: ProcessBackend, tmp_path: Path, default_model: Path
) -> None:
    from chatapp.bench.crash import _scalar, damaged_copy

    before = backend.child_pid
    path = damaged_copy(
        default_model, tmp_path / "zero-blocks.gguf", _scalar("llama.block_count", 0)
    )
    with pytest.raises(ModelLoadError):
        backend.load(ModelSpec(str(path), n_ctx=512, gpu="cpu"))
    if backend.info is not None:  # there was room for both: the old child never stopped
        assert backend.child_pid == before
        assert backend.generate(QUESTION, GREEDY, threading.Event(), lambda _t: None).text


def test_a_child_that_hangs_while_loading_meets_its_deadline(default_model: Path) -> None:
    backend = ProcessBackend(load_deadline_s=3.0)
    stopped: list[int] = []

    def freeze_the_child() -> None:
        if wait_until(lambda: backend.child_pid is not None, 30):
            pid = backend.child_pid
            assert pid is not None
            os.kill(pid, signal.SIGSTOP)  # before it can have imported llama.cpp
            stopped.append(pid)

    freezer = threading.Thread(target=freeze_the_child)
    freezer.start()
    try:
        with pytest.raises(ModelProcessCrashed) as caught:
            backend.load(ModelSpec(str(default_model), n_ctx=512, gpu="cpu"))
    finally:
        freezer.join()
    assert stopped and "did not finish loading in time" in caught.value.message
    assert wait_until(lambda: not alive(stopped[0]))


def test_unloading_ends_the_child(backend: ProcessBackend) -> None:
    pid = backend.child_pid
    assert pid is not None and alive(pid)
    backend.unload()
    assert not alive(pid) and backend.child_pid is None and backend.info is None


def test_a_model_file_deleted_while_its_child_runs(tmp_path: Path, default_model: Path) -> None:
    path = tmp_path / "copy.gguf"
    shutil.copyfile(default_model, path)
    backend = ProcessBackend()
    backend.load(ModelSpec(str(path), n_ctx=1024, gpu="cpu"))
    try:
        path.unlink()
        reply = backend.generate(QUESTION, GREEDY, threading.Event(), lambda _t: None)
        assert reply.text  # the child holds the file open (mapped): it goes on
        assert backend.count_tokens(QUESTION) > 0
    finally:
        backend.unload()
    with pytest.raises(ModelLoadError, match="does not exist"):
        backend.load(ModelSpec(str(path), n_ctx=1024, gpu="cpu"))
