from pathlib import Path

import pytest

from chatapp.engine.backend import ModelSpec
from chatapp.engine.default_model import FILENAME, default_model_path
from chatapp.engine.device import parse_offload, requested_gpu_layers
from chatapp.engine.gguf_file import check_model_file
from chatapp.errors import ModelLoadError


def test_default_model_is_found_without_importing_llm() -> None:
    import sys

    path = default_model_path()
    assert path.name == FILENAME
    assert path.read_bytes()[:4] == b"GGUF"
    assert "llm" not in sys.modules


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        check_model_file(tmp_path / "nope.gguf")


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="is a folder"):
        check_model_file(tmp_path)


def test_text_file_is_not_gguf(tmp_path: Path) -> None:
    fake = tmp_path / "x.gguf"
    fake.write_text("hello, I am not a model")
    with pytest.raises(ModelLoadError, match="not a GGUF"):
        check_model_file(fake)


@pytest.mark.parametrize(
    ("gpu", "layers", "available", "expected", "notice"),
    [
        ("auto", None, True, -1, False),
        ("auto", None, False, 0, False),
        ("cpu", None, True, 0, False),
        ("gpu", None, False, 0, True),
        ("gpu", 12, True, 12, False),
        ("auto", 5, False, 0, True),
    ],
)
def test_offload_policy(
    gpu: str, layers: int | None, available: bool, expected: int, notice: bool
) -> None:
    got, why = requested_gpu_layers(ModelSpec("m.gguf", gpu=gpu, gpu_layers=layers), available)
    assert got == expected
    assert (why is not None) == notice


def test_unknown_policy_is_an_error() -> None:
    with pytest.raises(ValueError):
        requested_gpu_layers(ModelSpec("m.gguf", gpu="tpu"), True)


def test_offload_is_read_from_llamas_log() -> None:
    lines = [
        "llama_model_load_from_file_impl: using device CUDA0 (NVIDIA H200) - 140000 MiB free",
        "load_tensors: offloading 30 repeating layers to GPU",
        "load_tensors: offloaded 31/31 layers to GPU",
    ]
    assert parse_offload(lines) == (31, 31, "CUDA0 (NVIDIA H200)")
    assert parse_offload(["nothing here"]) == (None, None, None)


def test_rpc_servers_are_parsed_and_a_silent_one_is_found() -> None:
    import socket

    from chatapp.engine import rpc

    assert rpc.parse_servers(" 10.0.0.2:50052; host-b:1,[::1]:50052 ") == [
        "10.0.0.2:50052",
        "host-b:1",
        "[::1]:50052",
    ]
    with pytest.raises(ValueError, match="'host' is not host:port"):
        rpc.parse_servers("host")
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    try:
        assert rpc.unreachable([f"127.0.0.1:{listening.getsockname()[1]}"]) is None
        server, why = rpc.unreachable(
            [f"127.0.0.1:{listening.getsockname()[1]}", f"127.0.0.1:{closed_port}"]
        ) or ("", "")
        assert server == f"127.0.0.1:{closed_port}" and "refused" in why.lower()
    finally:
        listening.close()
