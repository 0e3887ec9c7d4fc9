"""The engine thread with a scripted backend: signals, batching, cancel, failure, shutdown."""

from __future__ import annotations

import threading

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


def test_model_runs_on_the_engine_thread(qtbot, engine: EngineController, fake: FakeBackend) -> None:  # type: ignore[no-untyped-def]
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


def test_cancel_stops_within_a_token_and_twice_is_harmless(qtbot, engine: EngineController, fake: FakeBackend) -> None:  # type: ignore[no-untyped-def]
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


def test_second_request_while_busy_is_refused(qtbot, engine: EngineController, fake: FakeBackend) -> None:  # type: ignore[no-untyped-def]
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


def test_failures_are_signals_not_crashes(qtbot, engine: EngineController, fake: FakeBackend) -> None:  # type: ignore[no-untyped-def]
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
