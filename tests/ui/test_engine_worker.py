"""The engine thread with a scripted backend: signals, batching, cancel, failure, shutdown."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QTimer

from chatapp.domain import ChatMessage, GenerationSettings
from chatapp.engine.backend import ModelSpec
from chatapp.engine.fake import FakeBackend
from chatapp.errors import GenerationError, ModelLoadError
from chatapp.workers.engine import EngineController, ReplyRequest


def request(text: str = "hi", **settings) -> ReplyRequest:  # type: ignore[no-untyped-def]
    return ReplyRequest(None, [ChatMessage("user", text)], GenerationSettings(**settings))


def load(qtbot, engine: EngineController) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(engine.loaded, timeout=5000) as blocker:
        engine.load(ModelSpec("fake.gguf"))
    assert blocker.args[0].name == "fake"


def test_reply_streams_and_finishes(qtbot, engine: EngineController, fake: FakeBackend) -> None:  # type: ignore[no-untyped-def]
    load(qtbot, engine)
    fake.enqueue(["one two three four"])
    texts: list[str] = []
    engine.text.connect(lambda _rid, t: texts.append(t))
    started: list[object] = []
    engine.started.connect(started.append)
    req = request()
    with qtbot.waitSignal(engine.finished, timeout=5000) as blocker:
        assert engine.reply(req)
    rid, result = blocker.args
    assert rid == req.id and result.text == "one two three four"
    assert started[0].request_id == req.id and started[0].prompt_tokens > 0
    assert "".join(texts) == "one two three four"
    assert not engine.busy


def test_model_runs_on_the_engine_thread(
    qtbot, engine: EngineController, fake: FakeBackend
) -> None:  # type: ignore[no-untyped-def]
    threads: list[threading.Thread] = []
    real_generate = fake.generate

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread())
        return real_generate(*args, **kwargs)

    fake.generate = spy  # type: ignore[method-assign]
    load(qtbot, engine)
    with qtbot.waitSignal(engine.finished, timeout=5000):
        engine.reply(request())
    assert threads and threads[0] is not threading.main_thread()


def test_text_is_batched(qtbot, engine: EngineController, fake: FakeBackend) -> None:  # type: ignore[no-untyped-def]
    load(qtbot, engine)
    fake.enqueue([" ".join(f"w{i}" for i in range(400))])
    batches: list[str] = []
    engine.text.connect(lambda _rid, t: batches.append(t))
    with qtbot.waitSignal(engine.finished, timeout=5000):
        engine.reply(request(max_tokens=1000))
    assert "".join(batches).split() == [f"w{i}" for i in range(400)]
    assert len(batches) < 40  # not one signal per token


def test_cancel_stops_within_a_token_and_twice_is_harmless(
    qtbot, engine: EngineController, fake: FakeBackend
) -> None:  # type: ignore[no-untyped-def]
    fake.delay = 0.02
    load(qtbot, engine)
    fake.enqueue([" ".join(["word"] * 500)])
    with qtbot.waitSignal(engine.text, timeout=5000):
        engine.reply(request(max_tokens=1000))
    with qtbot.waitSignal(engine.finished, timeout=5000) as blocker:
        engine.cancel()
        engine.cancel()
    result = blocker.args[1]
    assert result.cancelled and result.completion_tokens < 500
    engine.cancel()  # nothing running: still harmless


def test_second_request_while_busy_is_refused(
    qtbot, engine: EngineController, fake: FakeBackend
) -> None:  # type: ignore[no-untyped-def]
    fake.delay = 0.01
    load(qtbot, engine)
    fake.enqueue(["a b c d e f g h i j", "second"])
    first = request()
    assert engine.reply(first)
    assert not engine.reply(request("again"))
    with qtbot.waitSignal(engine.finished, timeout=5000):
        pass
    assert engine.reply(request("now"))
    with qtbot.waitSignal(engine.finished, timeout=5000) as blocker:
        pass
    assert blocker.args[1].text == "second"


def test_failures_are_signals_not_crashes(
    qtbot, engine: EngineController, fake: FakeBackend
) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(engine.failed, timeout=5000) as blocker:
        engine.reply(request())
    assert "No model is loaded" in blocker.args[1]
    fake.load_error = ModelLoadError("x.gguf is not a GGUF model file.")
    with qtbot.waitSignal(engine.load_failed, timeout=5000) as blocker:
        engine.load(ModelSpec("x.gguf"))
    assert "not a GGUF" in blocker.args[0]
    load(qtbot, engine)
    fake.enqueue([GenerationError("The model failed while replying."), RuntimeError("bug inside")])
    with qtbot.waitSignal(engine.failed, timeout=5000) as blocker:
        engine.reply(request())
    assert "failed while replying" in blocker.args[1]
    with qtbot.waitSignal(engine.failed, timeout=5000) as blocker:
        engine.reply(request())
    assert "bug inside" in blocker.args[1]
    fake.enqueue(["still alive"])
    with qtbot.waitSignal(engine.finished, timeout=5000) as blocker:
        engine.reply(request())
    assert blocker.args[1].text == "still alive"


def test_shutdown_mid_reply_ends_quickly_and_unloads(qtbot, fake: FakeBackend) -> None:  # type: ignore[no-untyped-def]
    fake.delay = 0.05
    engine = EngineController(lambda: fake)
    load(qtbot, engine)
    fake.enqueue([" ".join(["slow"] * 1000)])
    with qtbot.waitSignal(engine.text, timeout=5000):
        engine.reply(request(max_tokens=2000))
    assert engine.shutdown(3000)
    assert fake.unloads == 1 and fake.info is None
    assert engine.shutdown(100)  # a second call is harmless


# -- the real model in its own process ------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.model
def test_a_child_killed_mid_reply_keeps_the_text_and_the_model_comes_back(
    qtbot, default_model
) -> None:  # type: ignore[no-untyped-def]
    import os
    import signal

    from chatapp.engine.model_process import ProcessBackend

    engine = EngineController(ProcessBackend)
    try:
        with qtbot.waitSignal(engine.loaded, timeout=60000):
            engine.load(ModelSpec(str(default_model), n_ctx=1024, gpu="cpu"))
        pid = engine.model_pid
        assert pid is not None and pid != os.getpid()
        texts: list[str] = []
        engine.text.connect(lambda _rid, t: texts.append(t))
        restarted: list[str] = []
        engine.restarting.connect(restarted.append)
        req = request("Tell me a long story about a lighthouse.", temperature=0.0, max_tokens=400)
        with qtbot.waitSignal(engine.text, timeout=60000):
            assert engine.reply(req)
        finished: list[tuple[int, object]] = []
        engine.finished.connect(lambda rid, result: finished.append((rid, result)))
        with qtbot.waitSignal(engine.loaded, timeout=60000):
            os.kill(pid, signal.SIGKILL)
        assert len(finished) == 1  # the reply ended before the model came back
        rid, result = finished[0]
        assert rid == req.id and result.finish_reason == "interrupted" and result.cancelled
        assert result.text and result.text == "".join(texts)  # nothing streamed is lost
        assert "The model process stopped while writing this reply" in result.error
        assert restarted == ["SmolLM2-135M-Instruct.Q4_1.gguf"]
        assert engine.model_pid not in (None, pid) and not engine.busy
        with qtbot.waitSignal(engine.finished, timeout=60000) as blocker:
            engine.reply(request("Hi", temperature=0.0, max_tokens=8))
        assert blocker.args[1].finish_reason in ("stop", "length")
    finally:
        assert engine.shutdown(15000)


@pytest.mark.model
def test_a_file_that_crashes_the_loader_is_named_and_the_previous_model_returns(
    qtbot, default_model, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from chatapp.bench.crash import _scalar, damaged_copy
    from chatapp.engine.model_process import ProcessBackend

    broken = damaged_copy(default_model, tmp_path / "broken.gguf", _scalar("llama.block_count", 0))
    engine = EngineController(ProcessBackend)
    try:
        with qtbot.waitSignal(engine.loaded, timeout=60000):
            engine.load(ModelSpec(str(default_model), n_ctx=1024, gpu="cpu"))
        failures: list[str] = []
        crashes: list[str] = []
        # a listener of load_failed that looks a turn of the event loop later already knows
        # of the crash (app.send_once waits for the built-in model so): both come in one event
        known_a_turn_later: list[bool] = []
        engine.load_failed.connect(failures.append)
        engine.load_failed.connect(
            lambda _m: QTimer.singleShot(0, lambda: known_a_turn_later.append(bool(crashes)))
        )
        engine.load_crashed.connect(lambda path, _reason: crashes.append(path))
        with qtbot.waitSignal(engine.load_crashed, timeout=60000) as crashed:
            engine.load(ModelSpec(str(broken), n_ctx=512, gpu="cpu"))
        qtbot.waitUntil(lambda: bool(known_a_turn_later), timeout=5000)
        assert known_a_turn_later == [True]
        assert crashed.args == [str(broken.resolve()), "llama.cpp aborted"]
        assert failures[0].startswith(
            "The model process stopped while loading broken.gguf (llama.cpp aborted)"
        )
        assert "GGML_ASSERT" in failures[0]  # llama.cpp's own words, in the details
        if engine.model_pid is None:  # it was stopped to make room: it is loaded again
            with qtbot.waitSignal(engine.loaded, timeout=60000) as blocker:
                pass
            assert blocker.args[0].path == str(default_model.resolve())
        with qtbot.waitSignal(engine.finished, timeout=60000) as blocker:
            engine.reply(request("Hi", temperature=0.0, max_tokens=8))
        assert blocker.args[1].finish_reason in ("stop", "length")
    finally:
        assert engine.shutdown(15000)


@pytest.mark.model
def test_quitting_while_a_child_loads_ends_it(qtbot, default_model) -> None:  # type: ignore[no-untyped-def]
    import time

    from chatapp.engine.model_process import ProcessBackend

    engine = EngineController(ProcessBackend)
    loaded: list[object] = []
    engine.loaded.connect(loaded.append)
    engine.load(ModelSpec(str(default_model), n_ctx=1024, gpu="cpu"))
    deadline = time.monotonic() + 30
    while engine.model_pid is None and time.monotonic() < deadline:
        time.sleep(0.005)
    pid = engine.model_pid
    assert pid is not None
    assert engine.shutdown(10000)
    assert not _alive(pid) and not loaded
