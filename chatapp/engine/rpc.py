"""llama.cpp's RPC backend: other machines running `rpc-server` take part of a model.

llama-cpp-python has no parameter for it any more, so this does what llama.cpp's
`--rpc` option does: find ggml's RPC backend, add each server as a backend
device, and register it. llama.cpp then offloads layers to those devices like
to a local GPU (the GPU offload setting decides how many layers leave the CPU).
Devices stay registered for the life of the process: removing a server from the
settings takes effect at the next start. ggml aborts the whole process when an
RPC server it uses does not answer, so every server in use (the new ones and
those registered earlier) is reached over TCP first, and a silent one stops the
load with a message instead.
"""

from __future__ import annotations

import ctypes
import logging
import re
import socket
import sys
from pathlib import Path

from chatapp.errors import ModelLoadError

log = logging.getLogger("chatapp.engine")

_ENDPOINT = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")
_registered: set[str] = set()

BUILD_HINT = (
    'Reinstall llama-cpp-python with RPC: CMAKE_ARGS="-DGGML_RPC=on" pip install --force-reinstall '
    "--no-binary llama-cpp-python llama-cpp-python"
)


def parse_servers(text: str) -> list[str]:
    """'host:port, host:port' -> endpoints; ValueError naming the first malformed one."""
    servers = [s.strip() for s in text.replace(";", ",").split(",") if s.strip()]
    for server in servers:
        if not _ENDPOINT.match(server):
            raise ValueError(f"'{server}' is not host:port")
    return servers


CONNECT_TIMEOUT = 3.0  # seconds to reach an RPC server before loading


def unreachable(servers: list[str], timeout: float = CONNECT_TIMEOUT) -> tuple[str, str] | None:
    """(server, why) for the first server that does not accept a TCP connection, else None."""
    for server in servers:
        host, _, port = server.rpartition(":")
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
        except OSError as exc:
            return server, exc.strerror or str(exc) or type(exc).__name__
    return None


def _ggml_library() -> ctypes.CDLL:
    import llama_cpp.llama_cpp as lib_module

    folder = Path(getattr(lib_module, "_base_path", Path(lib_module.__file__).parent / "lib"))
    names = {"darwin": ["libggml.dylib"], "win32": ["ggml.dll"]}.get(sys.platform, ["libggml.so"])
    for name in names:
        if (folder / name).exists():
            return ctypes.CDLL(str(folder / name))
    raise ModelLoadError(
        "llama.cpp's ggml library was not found next to llama-cpp-python.", detail=str(folder)
    )


def add_servers(text: str) -> list[str]:
    """Register the RPC servers in `text` (those not registered yet) after checking that
    they, and any registered earlier, answer; the endpoints in use."""
    if not text.strip() and not _registered:
        return []
    import llama_cpp

    try:
        servers = parse_servers(text)
    except ValueError as exc:
        raise ModelLoadError(f"The RPC servers setting is not valid: {exc}.") from exc
    if servers and not llama_cpp.llama_supports_rpc():
        raise ModelLoadError("This build of llama.cpp cannot use RPC servers.", detail=BUILD_HINT)
    silent = unreachable([*servers, *sorted(_registered - set(servers))])
    if silent is not None:
        server, why = silent
        earlier = server not in servers
        raise ModelLoadError(
            f"The RPC server {server} does not answer ({why}).",
            detail="It was added earlier in this session: restart chatapp to stop using it."
            if earlier
            else "Start ggml-rpc-server there, or remove it from the model's settings.",
        )
    if not servers:
        return []
    ggml = _ggml_library()
    ggml.ggml_backend_reg_by_name.restype = ctypes.c_void_p
    ggml.ggml_backend_reg_by_name.argtypes = [ctypes.c_char_p]
    ggml.ggml_backend_reg_get_proc_address.restype = ctypes.c_void_p
    ggml.ggml_backend_reg_get_proc_address.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    ggml.ggml_backend_register.restype = None
    ggml.ggml_backend_register.argtypes = [ctypes.c_void_p]
    reg = ggml.ggml_backend_reg_by_name(b"RPC")
    if not reg:
        raise ModelLoadError("llama.cpp's RPC backend is not available.", detail=BUILD_HINT)
    address = ggml.ggml_backend_reg_get_proc_address(reg, b"ggml_backend_rpc_add_server")
    if not address:
        raise ModelLoadError(
            "This llama.cpp's RPC backend is too old to add servers.", detail=BUILD_HINT
        )
    add_server = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_char_p)(address)
    for server in servers:
        if server in _registered:
            continue
        server_reg = add_server(server.encode())
        if not server_reg:
            raise ModelLoadError(f"The RPC server {server} could not be added.")
        ggml.ggml_backend_register(server_reg)
        _registered.add(server)
        log.info("RPC server %s registered", server)
    return servers
