"""llama.cpp RPC: a model's layers on an `rpc-server` (here on loopback).

The default llama-cpp-python build has no RPC, so this runs only when
CHATAPP_RPC_BUILD names a llama.cpp build folder (its bin/ holding libllama with
-DGGML_RPC=ON and ggml-rpc-server); see the README, "Spreading one model over
several machines". The model runs in a child process that loads that library.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.model

BUILD = os.environ.get("CHATAPP_RPC_BUILD")

CHILD = r"""
import sys, threading
from chatapp.domain import ChatMessage, GenerationSettings
from chatapp.engine.backend import ModelSpec
from chatapp.engine.llama_backend import LlamaBackend
backend = LlamaBackend()
info = backend.load(ModelSpec(sys.argv[1], n_ctx=1024, gpu="auto", rpc_servers=sys.argv[2]))
out = backend.generate([ChatMessage("user", "Hi")], GenerationSettings(temperature=0, max_tokens=8),
                       threading.Event(), lambda _t: None)
print("DEVICE", info.device)
print("TOKENS", out.completion_tokens)
backend.unload()
from chatapp.errors import ModelLoadError
try:  # a silent server is refused before ggml would abort the process
    backend.load(ModelSpec(sys.argv[1], n_ctx=1024, gpu="auto", rpc_servers=sys.argv[3]))
except ModelLoadError as exc:
    print("SILENT", exc.message)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(
    not BUILD, reason="CHATAPP_RPC_BUILD is not set (needs a llama.cpp build with RPC)"
)
def test_layers_run_on_an_rpc_server(default_model: Path) -> None:
    bin_dir = Path(BUILD or "") / "bin"
    port = _free_port()
    server = subprocess.Popen(
        [str(bin_dir / "ggml-rpc-server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.1)
        env = dict(os.environ, LLAMA_CPP_LIB_PATH=str(bin_dir))
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                str(default_model),
                f"127.0.0.1:{port}",
                f"127.0.0.1:{_free_port()}",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert f"DEVICE RPC0 (127.0.0.1:{port}), 31/31 layers" in done.stdout
        tokens = int(done.stdout.split("TOKENS ")[1].split()[0])
        assert tokens > 0
        assert (
            "SILENT The RPC server 127.0.0.1:" in done.stdout and "does not answer" in done.stdout
        )
    finally:
        server.terminate()
        server.wait(10)
