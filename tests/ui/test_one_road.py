"""One road to a context: every reply the window asks for is built by the memory's context
builder from the window's store, for a model file and for a server alike; a request that names
a thread without a store is refused in words, never answered from some other context."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest

from chatapp.domain import ChatMessage, GenerationSettings, Role
from chatapp.engine.backend import ModelSpec
from chatapp.engine.fake import FakeBackend
from chatapp.engine.remote import Endpoint
from chatapp.store import Store
from chatapp.workers.engine import EngineController, ReplyRequest

FACT = "My sister's name is Quenby and she lives in Tromsø."
QUESTION = "What is my sister's name?"


def long_thread(store: Store, exchanges: int = 120) -> int:
    """A thread that opens with a fact, then far more small talk than a small context holds."""
    thread = store.create_thread()
    store.add_message(thread.id, Role.USER, FACT)
    store.add_message(thread.id, Role.ASSISTANT, "Noted, thank you.")
    for i in range(exchanges):
        store.add_message(thread.id, Role.USER, f"Tell me about cloud type number {i} today.")
        store.add_message(thread.id, Role.ASSISTANT, f"Cloud type {i} is grey, flat and common.")
    return thread.id


def prompt_text(messages: list[ChatMessage] | list[dict]) -> str:
    return "\n".join(m["content"] if isinstance(m, dict) else m.content for m in messages)


def test_the_window_gives_the_engine_its_store(make_window, engine: EngineController) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    assert engine.store is window.store


def test_a_reply_in_the_window_is_built_by_the_memory_builder(
    qtbot, make_window, fake: FakeBackend, engine: EngineController
) -> None:  # type: ignore[no-untyped-def]
    fake.n_ctx = 1024  # the thread is far longer than the context
    window = make_window()
    thread_id = long_thread(window.store)
    starts: list[object] = []
    engine.started.connect(starts.append)
    fake.enqueue(["Quenby."])
    with qtbot.waitSignal(window.session.reply_done, timeout=10000):
        assert window.session.send(thread_id, QUESTION)
    # the reply's prompt, as the model got it (a summary may run after the reply)
    prompt = starts[-1].context.messages
    assert prompt in fake.prompts
    assert prompt[-1].role == "user" and prompt[-1].content.endswith(QUESTION)
    assert prompt[0].role == "system" and "Today is" in prompt[0].content
    # the fact is 240 messages back, out of any recent window that fits: only recall finds it
    assert "Quenby" in prompt_text(prompt)
    assert len(prompt) < len(window.store.path(thread_id))
    assert starts[-1].prompt_tokens <= 1024


def test_a_request_naming_a_thread_without_a_store_is_refused_in_words(
    qtbot, fake: FakeBackend, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    store = Store.open(tmp_path / "elsewhere.sqlite3")
    thread = store.create_thread()
    message = store.add_message(thread.id, Role.USER, QUESTION)
    engine = EngineController(lambda: fake)  # given no store
    try:
        with qtbot.waitSignal(engine.loaded, timeout=5000):
            engine.load(ModelSpec("fake.gguf"))
        request = ReplyRequest(None, [], GenerationSettings(), thread_id=thread.id, message=message)
        with qtbot.waitSignal(engine.failed, timeout=5000) as blocker:
            assert engine.reply(request)
        assert "no conversation store" in blocker.args[1]
        assert fake.prompts == []  # nothing was answered from a context made another way
    finally:
        assert engine.shutdown(5000)
        store.close()


class _ChatServer(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible server on the loopback address: one model, streamed replies, no
    tokenizer (counts are estimated); it keeps every chat request's messages."""

    bodies: ClassVar[list[dict]] = []

    def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
        pass

    def do_GET(self) -> None:
        self._send(200, {"object": "list", "data": [{"id": "lab-model", "object": "model"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        if not self.path.endswith("/chat/completions"):
            self._send(404, {"error": "no such address"})
            return
        type(self).bodies.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for event in (
            {"choices": [{"delta": {"content": "Quenby."}}]},
            {"choices": [{"delta": {}, "finish_reason": "stop"}]},
        ):
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def _send(self, code: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def chat_server() -> Iterator[str]:
    _ChatServer.bodies = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ChatServer)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_a_server_model_gets_its_context_the_same_way(
    qtbot, make_window, engine: EngineController, chat_server: str
) -> None:  # type: ignore[no-untyped-def]
    window = make_window(load=False)
    thread_id = long_thread(window.store)
    spec = ModelSpec(chat_server, endpoint=Endpoint("lab", chat_server, timeout=10, n_ctx=1024))
    with qtbot.waitSignal(engine.loaded, timeout=10000):
        engine.load(spec)
    with qtbot.waitSignal(window.session.reply_done, timeout=10000) as blocker:
        assert window.session.send(thread_id, QUESTION)
    assert blocker.args[0].content == "Quenby."
    messages = _ChatServer.bodies[0]["messages"]  # the reply's (a summary may come after)
    assert messages[-1]["role"] == "user" and messages[-1]["content"].endswith(QUESTION)
    assert messages[0]["role"] == "system" and "Today is" in messages[0]["content"]
    assert "Quenby" in prompt_text(messages)
    assert len(messages) < len(window.store.path(thread_id))
