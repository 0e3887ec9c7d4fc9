"""Per-model settings applied to the real default model through llama.cpp."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from chatapp.domain import ChatMessage, GenerationSettings
from chatapp.engine import llama_log, memory_estimate
from chatapp.engine.backend import ModelSpec
from chatapp.engine.gguf_meta import read_header
from chatapp.engine.llama_backend import LlamaBackend
from chatapp.engine.templates import NAMED
from chatapp.errors import ModelLoadError, ModelTooLarge
from chatapp.ui.model_settings_dialog import check_template

pytestmark = pytest.mark.model

GREEDY = GenerationSettings(temperature=0.0, max_tokens=8, seed=7)


def test_automatic_context_and_the_estimate_match_what_llama_cpp_allocates(
    default_model: Path,
) -> None:
    backend = LlamaBackend()
    mark = llama_log.mark()
    info = backend.load(ModelSpec(str(default_model), n_ctx=0, gpu="cpu"))
    try:
        assert info.n_ctx == 8192  # the trained length: this machine has the memory
        logged = " ".join(llama_log.since(mark))
        kv = re.search(r"KV buffer size = +([\d.]+) MiB", logged)
        assert kv is not None, "llama.cpp no longer logs its KV buffer size"
        est = memory_estimate.estimate(read_header(default_model), info.n_ctx)
        assert est.kv_cache == round(float(kv.group(1)) * 2**20)
        compute = re.search(r"CPU compute buffer size = +([\d.]+) MiB", logged)
        assert compute is not None
        actual = float(compute.group(1)) * 2**20
        assert actual <= est.compute <= 1.5 * actual  # an upper bound, not a wild one
    finally:
        backend.unload()


def test_a_model_larger_than_free_memory_is_refused_and_the_loaded_one_stays(
    default_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = LlamaBackend()
    backend.load(ModelSpec(str(default_model), n_ctx=512, gpu="cpu"))
    try:
        monkeypatch.setattr(memory_estimate, "available_memory", lambda: 50 * 2**20)
        with pytest.raises(ModelTooLarge, match="of memory is free") as caught:
            backend.load(ModelSpec(str(default_model), n_ctx=4096, gpu="cpu"))
        assert (
            default_model.name in caught.value.message and "load it anyway" in caught.value.detail
        )
        assert backend.info is not None and backend.info.n_ctx == 512  # still usable
        out = backend.generate(
            [ChatMessage("user", "Hi")], GREEDY, threading.Event(), lambda _t: None
        )
        assert out.completion_tokens > 0
        info = backend.load(
            ModelSpec(str(default_model), n_ctx=1024, gpu="cpu", check_memory=False)
        )
        assert info.n_ctx == 1024  # the user said "load it anyway"
    finally:
        backend.unload()


def test_flash_attention_batch_and_threads_are_used(default_model: Path) -> None:
    backend = LlamaBackend()
    info = backend.load(
        ModelSpec(
            str(default_model), n_ctx=1024, gpu="cpu", flash_attn=True, n_batch=64, n_threads=1
        )
    )
    try:
        assert info.device == "CPU, 1 threads"
        assert backend._llm.context_params.flash_attn_type != 0 and backend._llm.n_batch == 64
        out = backend.generate(
            [ChatMessage("user", "Hi")], GREEDY, threading.Event(), lambda _t: None
        )
        assert out.completion_tokens > 0
    finally:
        backend.unload()


def test_rpc_servers_on_a_build_without_rpc_are_a_clear_error(default_model: Path) -> None:
    import llama_cpp

    if llama_cpp.llama_supports_rpc():
        pytest.skip("this llama.cpp has RPC; tests/integration/test_rpc.py covers it")
    backend = LlamaBackend()
    with pytest.raises(ModelLoadError, match="cannot use RPC servers") as caught:
        backend.load(
            ModelSpec(str(default_model), n_ctx=512, gpu="cpu", rpc_servers="127.0.0.1:50052")
        )
    assert "GGML_RPC=on" in caught.value.detail


def test_malformed_rpc_servers_are_named(default_model: Path) -> None:
    with pytest.raises(ModelLoadError, match="'nonsense' is not host:port"):
        LlamaBackend().load(
            ModelSpec(str(default_model), n_ctx=512, gpu="cpu", rpc_servers="nonsense")
        )


@pytest.mark.parametrize("name", sorted(NAMED))
def test_each_named_format_renders_in_the_sandbox_and_the_model_answers(
    default_model: Path, name: str
) -> None:
    assert check_template(NAMED[name]) is None
    backend = LlamaBackend()
    backend.load(ModelSpec(str(default_model), n_ctx=512, gpu="cpu", chat_template=NAMED[name]))
    try:
        prompt = backend.render_prompt(
            [ChatMessage("system", "Be brief."), ChatMessage("user", "Hi")]
        )
        assert "Be brief." in prompt and "Hi" in prompt
        out = backend.generate(
            [ChatMessage("user", "Hi")], GREEDY, threading.Event(), lambda _t: None
        )
        assert out.finish_reason in ("stop", "length")
    finally:
        backend.unload()


def test_a_hostile_or_broken_template_is_refused_before_saving() -> None:
    assert "unsafe" in (check_template("{{ ''.__class__.__mro__[1].__subclasses__() }}") or "")
    assert "TemplateSyntaxError" in (check_template("{% for m in messages %}") or "")
    assert check_template("static text") == "it does not write the messages' content"


CHECK_AS_NOBODY = r"""
import os, sys
import llama_cpp
from chatapp.engine.gguf_meta import read_header
from chatapp.engine.llama_backend import LlamaBackend
from chatapp.engine.backend import ModelSpec
from chatapp.errors import ModelLoadError
os.setgid(65534); os.setuid(65534)  # after the imports: only the model file is in question
for attempt in (
    lambda: read_header(sys.argv[1]),
    lambda: LlamaBackend().load(ModelSpec(sys.argv[1], gpu="cpu")),
):
    try:
        attempt()
    except ModelLoadError as exc:
        print("REFUSED", exc.message, "|", exc.detail)
"""


def test_an_unreadable_model_file_is_named_with_the_reason(
    default_model: Path, tmp_path: Path
) -> None:
    import os
    import shutil
    import subprocess
    import sys
    import tempfile

    if os.geteuid() != 0:
        path = tmp_path / "locked.gguf"
        shutil.copy(default_model, path)
        path.chmod(0)
        with pytest.raises(ModelLoadError, match="cannot be read") as caught:
            LlamaBackend().load(ModelSpec(str(path), gpu="cpu"))
        assert "ermission denied" in str(caught.value)
        return
    # root reads anything: check as an ordinary user (nobody), as a person would meet it
    import chatapp

    source = Path(chatapp.__file__).parent.parent
    with tempfile.TemporaryDirectory() as shared:
        Path(shared).chmod(0o755)
        path = Path(shared) / "locked.gguf"
        shutil.copy(default_model, path)
        path.chmod(0)
        env = dict(os.environ, PYTHONPATH=str(source), HOME=shared)
        done = subprocess.run(
            [sys.executable, "-c", CHECK_AS_NOBODY, str(path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=shared,
            check=False,
        )
    lines = [line for line in done.stdout.splitlines() if line.startswith("REFUSED")]
    assert len(lines) == 2, done.stdout + done.stderr[-2000:]
    assert "locked.gguf cannot be read: permission denied" in lines[0]
    assert (
        "The model file" in lines[1]
        and "cannot be read" in lines[1]
        and "Permission denied" in lines[1]
    )
