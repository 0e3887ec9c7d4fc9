"""The real default model through llama.cpp."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from chatapp.domain import ChatMessage, GenerationSettings
from chatapp.engine.backend import ModelSpec
from chatapp.engine.llama_backend import LlamaBackend
from chatapp.errors import GenerationError, ModelLoadError

pytestmark = pytest.mark.model

GREEDY = GenerationSettings(temperature=0.0, max_tokens=40, seed=7)


@pytest.fixture(scope="module")
def backend(default_model: Path):
    b = LlamaBackend()
    b.load(ModelSpec(str(default_model), n_ctx=2048, gpu="cpu"))
    yield b
    b.unload()


def test_load_reports_where_it_runs(backend: LlamaBackend) -> None:
    info = backend.info
    assert info is not None
    assert info.n_ctx == 2048 and info.n_ctx_train == 8192
    assert info.device.startswith("CPU, ") and not info.on_gpu
    assert info.total_layers == 31
    assert info.template_notice is None  # SmolLM2 has its own template


def test_stream_a_reply(backend: LlamaBackend) -> None:
    """Streams, and greedy decoding repeats itself (the second run reads the prompt from the
    KV cache). What the 135M model answers is not checked here: its greedy answer to this
    question depends on the CPU's kernels (it said "Paris" where this test was written, and
    "L'Étoile, la Cité…" on an AVX-512 machine); `bench answers` measures what it knows."""
    pieces: list[str] = []
    question = [ChatMessage("user", "What is the capital of France?")]
    result = backend.generate(question, GREEDY, threading.Event(), pieces.append)
    again = backend.generate(question, GREEDY, threading.Event(), lambda _text: None)
    assert result.text.strip() and again.text == result.text
    assert "".join(pieces) == result.text
    assert len(pieces) > 1  # it streamed
    assert result.finish_reason in ("stop", "length")
    assert 0 < result.completion_tokens <= GREEDY.max_tokens
    assert result.tokens_per_second > 0 and 0 < result.time_to_first_token < result.seconds


def test_prompt_tokens_are_llamas_own_count(backend: LlamaBackend) -> None:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    messages = [
        ChatMessage("system", "You are terse."),
        ChatMessage("user", "Name three colours, café ☕."),
    ]
    llm = backend._llm
    formatter = Jinja2ChatFormatter(
        llm.metadata["tokenizer.chat_template"],
        eos_token=llm._model.token_get_text(llm.token_eos()),
        bos_token=llm._model.token_get_text(llm.token_bos()),
    )
    rendered = formatter(messages=[m.as_dict() for m in messages])
    expected = llm.tokenize(
        rendered.prompt.encode(), add_bos=not rendered.added_special, special=True
    )
    assert backend.count_tokens(messages) == len(expected)
    result = backend.generate(messages, GREEDY, threading.Event(), lambda _t: None)
    assert result.prompt_tokens == len(expected)


def test_length_limit_counts_completion_tokens(backend: LlamaBackend) -> None:
    settings = GenerationSettings(temperature=0.8, max_tokens=12, seed=1)
    result = backend.generate(
        [ChatMessage("user", "Tell me a long story about a dragon.")],
        settings,
        threading.Event(),
        lambda _t: None,
    )
    assert result.finish_reason == "length"
    assert result.completion_tokens == 12


def test_stop_mid_reply_ends_within_a_few_tokens(backend: LlamaBackend) -> None:
    cancel = threading.Event()
    seen: list[str] = []

    def on_text(piece: str) -> None:
        seen.append(piece)
        if len(seen) == 5:
            cancel.set()

    settings = GenerationSettings(temperature=0.8, max_tokens=300, seed=3)
    result = backend.generate(
        [ChatMessage("user", "Write a long essay about the history of Rome.")],
        settings,
        cancel,
        on_text,
    )
    assert result.cancelled
    assert len(seen) <= 7
    assert result.completion_tokens <= 7
    # the model is still usable after a stop
    again = backend.generate(
        [ChatMessage("user", "Say hi.")], GREEDY, threading.Event(), lambda _t: None
    )
    assert again.text


def test_stop_before_the_prompt_is_read(backend: LlamaBackend) -> None:
    cancel = threading.Event()
    cancel.set()
    long_prompt = "Summarize: " + "the quick brown fox jumps over the lazy dog. " * 120
    result = backend.generate([ChatMessage("user", long_prompt)], GREEDY, cancel, lambda _t: None)
    assert result.cancelled and result.text == ""
    again = backend.generate(
        [ChatMessage("user", "Say hi.")], GREEDY, threading.Event(), lambda _t: None
    )
    assert again.text


def test_three_turn_conversation(backend: LlamaBackend) -> None:
    """Every turn is answered from the whole conversation so far (a 135M model's memory is
    too weak to quiz it on earlier turns; the prompt it was given is what is checked)."""
    history = [ChatMessage("system", "You are a helpful assistant.")]
    prompt_sizes = []
    for question in ("My name is Ada.", "What is 2 plus 2?", "What is my name?"):
        history.append(ChatMessage("user", question))
        result = backend.generate(history, GREEDY, threading.Event(), lambda _t: None)
        assert result.text.strip()
        assert result.prompt_tokens == backend.count_tokens(history)
        prompt_sizes.append(result.prompt_tokens)
        history.append(ChatMessage("assistant", result.text))
    assert prompt_sizes[0] < prompt_sizes[1] < prompt_sizes[2]
    rendered = backend._llm.detokenize(backend.prompt_tokens(history[:-1])).decode()
    assert "My name is Ada." in rendered and "What is my name?" in rendered


def test_context_overflow_is_a_clear_error(backend: LlamaBackend) -> None:
    huge = "word " * 5000
    with pytest.raises(GenerationError, match="does not fit"):
        backend.generate([ChatMessage("user", huge)], GREEDY, threading.Event(), lambda _t: None)


# -- bad model files ---------------------------------------------------------


def test_missing_model(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        LlamaBackend().load(ModelSpec(str(tmp_path / "gone.gguf")))


def test_directory_as_model(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="folder"):
        LlamaBackend().load(ModelSpec(str(tmp_path)))


def test_text_file_named_gguf(tmp_path: Path) -> None:
    path = tmp_path / "x.gguf"
    path.write_text("not a model")
    with pytest.raises(ModelLoadError, match="not a GGUF"):
        LlamaBackend().load(ModelSpec(str(path)))


def test_truncated_model(tmp_path: Path, default_model: Path) -> None:
    data = default_model.read_bytes()
    path = tmp_path / "half.gguf"
    path.write_bytes(data[: len(data) // 2])
    backend = LlamaBackend()
    with pytest.raises(ModelLoadError, match="damaged or incomplete") as caught:
        backend.load(ModelSpec(str(path), gpu="cpu"))
    assert "llama.cpp said" in caught.value.detail
    assert backend.info is None


def test_gpu_failure_falls_back_to_cpu(
    default_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Simulated: the build claims a GPU and loading with offload raises, as out-of-memory does."""
    import llama_cpp

    from chatapp.engine import device

    real = llama_cpp.Llama
    calls: list[int] = []

    def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs["n_gpu_layers"])
        if kwargs["n_gpu_layers"] != 0:
            raise ValueError("Failed to create llama_context")
        return real(*args, **kwargs)

    monkeypatch.setattr(device, "gpu_offload_supported", lambda: True)
    monkeypatch.setattr(llama_cpp, "Llama", flaky)
    backend = LlamaBackend()
    info = backend.load(ModelSpec(str(default_model), n_ctx=512, gpu="auto"))
    try:
        assert calls == [-1, 0]
        assert info.device.startswith("CPU")
        assert info.fallback_reason and "Failed to create llama_context" in info.fallback_reason
        out = backend.generate(
            [ChatMessage("user", "Hi")], GREEDY, threading.Event(), lambda _t: None
        )
        assert out.completion_tokens > 0
    finally:
        backend.unload()


def test_loading_another_model_replaces_the_first(default_model: Path) -> None:
    backend = LlamaBackend()
    backend.load(ModelSpec(str(default_model), n_ctx=512, gpu="cpu"))
    first = backend._llm
    backend.load(ModelSpec(str(default_model), n_ctx=1024, gpu="cpu"))
    assert backend._llm is not first and backend.info.n_ctx == 1024
    backend.unload()
    assert backend.info is None and backend._llm is None
    with pytest.raises(GenerationError, match="No model"):
        backend.generate([ChatMessage("user", "Hi")], GREEDY, threading.Event(), lambda _t: None)


def test_unknown_architecture_is_named(tmp_path: Path) -> None:
    from tests.unit.engine.test_gguf_meta import write_gguf

    path = write_gguf(tmp_path / "alien.gguf", arch="madeuparch")
    backend = LlamaBackend()
    with pytest.raises(
        ModelLoadError, match="architecture this version of llama.cpp does not support"
    ) as caught:
        backend.load(ModelSpec(str(path), gpu="cpu"))
    assert "madeuparch" in caught.value.detail
    assert backend.info is None


def test_vocabulary_only_file_is_refused(tmp_path: Path) -> None:
    from tests.unit.engine.test_gguf_meta import write_gguf

    path = write_gguf(tmp_path / "vocab.gguf", tensors=False)
    with pytest.raises(ModelLoadError, match="only a vocabulary"):
        LlamaBackend().load(ModelSpec(str(path), gpu="cpu"))


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{% for m in messages %}{{ m.__class__.__init__.__globals__ }}{% endfor %}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    ],
)
def test_a_hostile_template_override_cannot_reach_python(
    default_model: Path, template: str
) -> None:
    """Overrides are rendered in llama-cpp-python's sandboxed Jinja environment."""
    backend = LlamaBackend()
    backend.load(ModelSpec(str(default_model), n_ctx=512, gpu="cpu", chat_template=template))
    try:
        for attempt in (backend.prompt_tokens, backend.render_prompt):
            with pytest.raises(GenerationError, match="chat template failed") as caught:
                attempt([ChatMessage("user", "hi")])
            assert "is unsafe" in caught.value.detail
    finally:
        backend.unload()


def test_a_template_override_is_used(default_model: Path) -> None:
    template = "{% for m in messages %}<<{{ m.role }}>>{{ m.content }}{% endfor %}<<assistant>>"
    backend = LlamaBackend()
    backend.load(ModelSpec(str(default_model), n_ctx=512, gpu="cpu", chat_template=template))
    try:
        rendered = backend.render_prompt([ChatMessage("user", "hi")])
        assert rendered == "<<user>>hi<<assistant>>"
    finally:
        backend.unload()
