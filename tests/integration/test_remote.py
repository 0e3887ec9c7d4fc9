"""The OpenAI-compatible backend against real servers on the loopback address only:
llama-cpp-python's own server with the default model, and small misbehaving ones."""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatapp.domain import ChatMessage, GenerationSettings, Role
from chatapp.engine.backend import ModelSpec
from chatapp.engine.remote import Endpoint, RemoteBackend, ReplyInterrupted
from chatapp.errors import GenerationError, ModelLoadError

pytestmark = pytest.mark.model
KEY = "test-key-123"
GREEDY = GenerationSettings(temperature=0.0, max_tokens=24, seed=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--api_key",
            KEY,
            "--n_ctx",
            "2048",
            "--verbose",
            "False",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": f"Bearer {KEY}"}
            )
            with urllib.request.urlopen(req, timeout=1):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("llama_cpp.server exited") from None
            time.sleep(0.25)
    proc.kill()
    raise RuntimeError("llama_cpp.server did not start")


@pytest.fixture(scope="module")
def server(default_model: Path) -> Iterator[str]:
    port = free_port()
    proc = start_server(default_model, port)
    yield f"http://127.0.0.1:{port}/v1"
    proc.terminate()
    proc.wait(10)


def spec(url: str, key: str | None = KEY, timeout: float = 30) -> ModelSpec:
    return ModelSpec(
        url, endpoint=Endpoint("test server", url, api_key=key, timeout=timeout, n_ctx=2048)
    )


def test_streamed_reply_and_token_counts(server: str, default_model: Path) -> None:
    import llama_cpp

    backend = RemoteBackend()
    info = backend.load(spec(server))
    assert info.n_ctx == 2048 and "test server" in info.name
    pieces: list[str] = []
    question = [ChatMessage("user", "What is the capital of France?")]
    result = backend.generate(question, GREEDY, threading.Event(), pieces.append)
    assert result.text.strip() and len(pieces) > 1 and "".join(pieces) == result.text
    # greedy decoding on the server repeats itself (what the model knows is not this test's
    # business: its greedy answer depends on the CPU's kernels)
    assert (
        backend.generate(question, GREEDY, threading.Event(), lambda _text: None).text
        == result.text
    )
    local = llama_cpp.Llama(str(default_model), vocab_only=True, verbose=False)
    text = "Count me, café ☕ <|im_start|>"
    assert backend.count_text_tokens(text) == len(local.tokenize(text.encode(), special=True))
    local.close()


def test_stop_mid_reply(server: str) -> None:
    backend = RemoteBackend()
    backend.load(spec(server))
    cancel = threading.Event()
    seen: list[str] = []

    def on_text(piece: str) -> None:
        seen.append(piece)
        if len(seen) == 3:
            cancel.set()

    result = backend.generate(
        [ChatMessage("user", "Write a long story about a dragon.")],
        GenerationSettings(max_tokens=300, seed=2),
        cancel,
        on_text,
    )
    assert result.cancelled and len(seen) <= 4
    again = backend.generate(
        [ChatMessage("user", "Say hi")], GREEDY, threading.Event(), lambda _t: None
    )
    assert again.text


def test_memory_builder_on_a_remote_model(server: str, store) -> None:  # type: ignore[no-untyped-def]
    from chatapp.memory.builder import ContextBuilder

    backend = RemoteBackend()
    backend.load(spec(server))
    t = store.create_thread()
    for i in range(30):
        store.add_message(
            t.id,
            Role.USER if i % 2 == 0 else Role.ASSISTANT,
            f"Message {i} about gardening and tomatoes.",
        )
    q = store.add_message(t.id, Role.USER, "What did we say about tomatoes?")
    built = ContextBuilder(store, backend.count_text_tokens).build(t.id, "", q, 300)
    assert built.memory_tokens <= 300 and built.left_out.get("recent", 0) > 0
    result = backend.generate(built.messages, GREEDY, threading.Event(), lambda _t: None)
    assert result.text


def test_wrong_key_and_wrong_url(server: str) -> None:
    with pytest.raises(ModelLoadError, match="refused the API key"):
        RemoteBackend().load(spec(server, key="wrong"))
    with pytest.raises(ModelLoadError, match="Nothing answers"):
        RemoteBackend().load(spec(f"http://127.0.0.1:{free_port()}/v1"))
    with pytest.raises(ModelLoadError, match="HTTP 404"):
        RemoteBackend().load(spec(server.removesuffix("/v1") + "/nothing-here"))


def test_a_server_that_dies_mid_reply(default_model: Path) -> None:
    port = free_port()
    proc = start_server(default_model, port)
    try:
        backend = RemoteBackend()
        backend.load(spec(f"http://127.0.0.1:{port}/v1"))
        seen: list[str] = []

        def on_text(piece: str) -> None:
            seen.append(piece)
            if len(seen) == 2:
                os.kill(proc.pid, signal.SIGKILL)

        with pytest.raises(ReplyInterrupted, match="stopped answering"):
            backend.generate(
                [ChatMessage("user", "Write a long essay about rivers.")],
                GenerationSettings(max_tokens=400, seed=1),
                threading.Event(),
                on_text,
            )
        assert len(seen) >= 2
    finally:
        proc.kill()
        proc.wait()


class _Odd(http.server.BaseHTTPRequestHandler):
    mode = "slow"

    def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
        pass

    def do_GET(self) -> None:
        if self.mode == "slow":
            time.sleep(3)
        body = (
            b"this is not json"
            if self.mode == "garbage"
            else json.dumps({"data": [{"id": "m"}]}).encode()
        )
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        if self.path.endswith("/chat/completions"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            self.wfile.write(
                b': ping\n\ndata: {"choices": [{"delta": {"content": "ok"}}]}\n\ndata: {broken\n\n'
            )
            return
        self.send_response(404)
        self.end_headers()


@pytest.fixture
def odd_server() -> Iterator[tuple[str, type[_Odd]]]:
    handler = type("Handler", (_Odd,), {})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", handler
    httpd.shutdown()
    httpd.server_close()


def test_a_slow_server_times_out(odd_server) -> None:  # type: ignore[no-untyped-def]
    url, handler = odd_server
    handler.mode = "slow"
    with pytest.raises(ModelLoadError, match="did not answer within 1 seconds"):
        RemoteBackend().load(spec(url, timeout=1))


def test_malformed_json_is_a_clear_error(odd_server) -> None:  # type: ignore[no-untyped-def]
    url, handler = odd_server
    handler.mode = "garbage"
    with pytest.raises(ModelLoadError, match="not JSON"):
        RemoteBackend().load(spec(url))
    handler.mode = "fine"
    backend = RemoteBackend()
    info = backend.load(spec(url))
    assert info.template_notice and "estimated" in info.template_notice  # no tokenize endpoint
    assert backend.count_tokens([ChatMessage("user", "x" * 100)]) >= 100 / 2.5
    got: list[str] = []
    with pytest.raises(GenerationError, match="not JSON"):
        backend.generate([ChatMessage("user", "hi")], GREEDY, threading.Event(), got.append)
    assert got == ["ok"]
