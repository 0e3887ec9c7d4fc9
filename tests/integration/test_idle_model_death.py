"""A model process that dies while nothing is asked of it (killed, out of memory): noticed at
once and loaded again, and the next message is answered instead of failing."""

from __future__ import annotations

import os
import signal

import pytest

from chatapp.domain import ChatMessage, GenerationSettings
from chatapp.engine.backend import ModelSpec
from chatapp.engine.model_process import ProcessBackend
from chatapp.workers.engine import EngineController, ReplyRequest
from tests.integration.test_model_process import killed_mid_reply

pytestmark = pytest.mark.model


def _request(text: str) -> ReplyRequest:
    return ReplyRequest(
        system=None,
        history=[ChatMessage("user", text)],
        settings=GenerationSettings(temperature=0.0, max_tokens=8, seed=1),
    )


def _dead(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[1][0] == "Z"
    except FileNotFoundError:
        return True


def _loaded_engine(qtbot, default_model) -> EngineController:  # type: ignore[no-untyped-def]
    engine = EngineController(ProcessBackend)
    with qtbot.waitSignal(engine.loaded, timeout=60000):
        engine.load(ModelSpec(str(default_model), n_ctx=1024, gpu="cpu"))
    return engine


def test_an_idle_death_is_noticed_and_the_model_comes_back(qtbot, default_model) -> None:  # type: ignore[no-untyped-def]
    engine = _loaded_engine(qtbot, default_model)
    try:
        pid = engine.model_pid
        assert pid is not None
        restarted: list[str] = []
        engine.restarting.connect(restarted.append)
        with qtbot.waitSignal(engine.loaded, timeout=60000) as blocker:
            os.kill(pid, signal.SIGKILL)  # nothing is asked of it: only the watch can see it
        assert restarted == [default_model.name]
        assert blocker.args[0].path == str(default_model.resolve())
        assert engine.model_pid not in (None, pid)
        with qtbot.waitSignal(engine.finished, timeout=60000) as done:
            assert engine.reply(_request("Say yes."))
        result = done.args[1]
        assert result.error is None and result.finish_reason in ("stop", "length")
        assert result.text.strip()
    finally:
        assert engine.shutdown(15000)


def test_a_message_sent_before_the_watch_looks_is_answered(qtbot, default_model) -> None:  # type: ignore[no-untyped-def]
    engine = _loaded_engine(qtbot, default_model)
    try:
        engine._watch.stop()  # the send must find the death itself
        pid = engine.model_pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        qtbot.waitUntil(lambda: _dead(pid), timeout=10000)
        failures: list[str] = []
        engine.failed.connect(lambda _rid, message: failures.append(message))
        restarted: list[str] = []
        engine.restarting.connect(restarted.append)
        with qtbot.waitSignal(engine.finished, timeout=60000) as done:
            assert engine.reply(_request("Say yes."))
        result = done.args[1]
        assert not failures and result.error is None, (failures, result.error)
        assert result.finish_reason in ("stop", "length") and result.text.strip()
        assert restarted == [default_model.name]
        assert engine.model_pid not in (None, pid)
    finally:
        assert engine.shutdown(15000)


def test_a_crash_report_holds_llama_cpp_not_its_python_chatter(default_model) -> None:  # type: ignore[no-untyped-def]
    """The tail of the child's log shown with a crash (and written to chatapp.log) had the
    model's metadata, its whole chat template and a "prefix-match hit" line per reply."""
    import threading

    backend = ProcessBackend()
    try:
        backend.load(ModelSpec(str(default_model), n_ctx=1024, gpu="cpu"))
        settings = GenerationSettings(temperature=0.0, max_tokens=4, seed=1)
        for _ in range(2):  # the second reuses the cache: llama-cpp-python says so when verbose
            backend.generate([ChatMessage("user", "Hi")], settings, threading.Event(), str)
        died, _pieces = killed_mid_reply(backend, after=2)
        detail = died.detail
        assert "loaded SmolLM2" in detail  # the tail is there: chatapp's own line of the load
        for chatter in ("Model metadata", "chat template", "prefix-match", "im_start"):
            assert chatter not in detail, chatter
    finally:
        backend.unload()


def test_quitting_mid_reply_logs_no_death_and_no_reload(qtbot, default_model, caplog) -> None:  # type: ignore[no-untyped-def]
    import logging

    engine = _loaded_engine(qtbot, default_model)
    caplog.set_level(logging.INFO, logger="chatapp")
    request = ReplyRequest(
        system=None,
        history=[ChatMessage("user", "Tell me a long story about a lighthouse.")],
        settings=GenerationSettings(temperature=0.0, max_tokens=400, seed=1),
    )
    with qtbot.waitSignal(engine.text, timeout=60000):
        assert engine.reply(request)
    restarted: list[str] = []
    engine.restarting.connect(restarted.append)
    assert engine.shutdown(15000)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not warnings, warnings
    assert not restarted


def test_a_model_that_keeps_dying_is_given_up_and_said_unloaded(qtbot, default_model) -> None:  # type: ignore[no-untyped-def]
    """Review: a model the system kills after every load (out of memory) was loaded again
    forever, and a reload that failed left the window believing a model was there."""
    from chatapp.workers.engine import DEATHS_IN_A_ROW

    engine = _loaded_engine(qtbot, default_model)
    try:
        failed: list[str] = []
        engine.load_failed.connect(failed.append)
        for _ in range(DEATHS_IN_A_ROW - 1):
            pid = engine.model_pid
            with qtbot.waitSignal(engine.loaded, timeout=60000):
                os.kill(pid, signal.SIGKILL)
        pid = engine.model_pid
        with qtbot.waitSignal(engine.unloaded, timeout=60000):
            os.kill(pid, signal.SIGKILL)
        assert failed and f"ended {DEATHS_IN_A_ROW} times" in failed[-1]
        loaded_again: list[object] = []
        engine.loaded.connect(loaded_again.append)
        qtbot.wait(2500)  # the watch looks about once a second: nothing is loaded again
        assert loaded_again == [] and _dead(pid)
        with qtbot.waitSignal(engine.failed, timeout=10000) as refused:
            engine.reply(_request("Say yes."))
        assert "No model is loaded" in refused.args[1]
    finally:
        assert engine.shutdown(15000)
