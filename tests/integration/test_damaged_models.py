"""Damaged copies of the default model, one header field changed per copy: none of them ends
the app's process. Each is refused with a message that names the file, or loads (and then
either replies or its child dies with a message)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from chatapp.bench.crash import DAMAGE, damaged_copy
from chatapp.domain import ChatMessage, GenerationSettings
from chatapp.engine.backend import ModelSpec
from chatapp.engine.gguf_meta import read_header
from chatapp.engine.model_process import ModelProcessCrashed, ProcessBackend
from chatapp.errors import GenerationError, ModelLoadError

pytestmark = pytest.mark.model

pytest.importorskip("gguf")


@pytest.fixture(scope="module")
def backend():  # type: ignore[no-untyped-def]
    b = ProcessBackend(load_deadline_s=90)
    yield b
    b.unload()


@pytest.mark.parametrize("label", [label for label, _change in DAMAGE])
def test_a_damaged_copy_never_ends_the_app(
    label: str, backend: ProcessBackend, default_model: Path, tmp_path: Path
) -> None:
    change = dict(DAMAGE)[label]
    path = damaged_copy(default_model, tmp_path / "damaged.gguf", change)
    try:  # the model library reads headers in the app's own process
        read_header(path)
    except ModelLoadError as exc:
        assert "damaged.gguf" in exc.message
    try:
        backend.load(ModelSpec(str(path), n_ctx=512, gpu="cpu"))
    except ModelProcessCrashed as exc:
        assert exc.message.startswith("The model process stopped while loading damaged.gguf (")
        assert exc.reason and backend.info is None
    except ModelLoadError as exc:
        assert "damaged.gguf" in exc.message, exc.message
        assert backend.info is None
    else:
        try:
            reply = backend.generate(
                [ChatMessage("user", "Hello")],
                GenerationSettings(temperature=0.0, max_tokens=8),
                threading.Event(),
                lambda _t: None,
            )
            assert reply.finish_reason in ("stop", "length")
        except GenerationError as exc:  # a child that dies replying says so
            assert exc.message
        backend.unload()
    assert backend.child_pid is None  # no child left behind; this process (the app's side) lives on
