"""Route llama.cpp's log to Python logging and keep recent lines for error messages.

llama-cpp-python's own callback prints to stderr with an outdated level map;
ours replaces it once, at start-up.
"""

from __future__ import annotations

import atexit
import collections
import ctypes
import logging
import threading

log = logging.getLogger("chatapp.engine.llama")

# ggml_log_level: NONE=0, DEBUG=1, INFO=2, WARN=3, ERROR=4, CONT=5 (continues the last line)
_LEVELS = {
    0: logging.CRITICAL,
    1: logging.DEBUG,
    2: logging.INFO,
    3: logging.WARNING,
    4: logging.ERROR,
}

# a load logs a few lines per layer: room for the whole load of a big model
_lines: collections.deque[tuple[int, int, str]] = collections.deque(maxlen=4000)
_counter = 0
_partial = ""
_last_level = logging.DEBUG
_lock = threading.Lock()
_callback = None  # keeps the ctypes callback alive


def install() -> None:
    global _callback
    if _callback is not None:
        return
    import llama_cpp

    @llama_cpp.llama_log_callback
    def _on_log(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        global _counter, _partial, _last_level
        try:
            py_level = _LEVELS.get(level, _last_level)  # 5 (GGML_LOG_LEVEL_CONT) continues
            _last_level = py_level
            chunk = text.decode("utf-8", errors="replace")
            with _lock:
                _partial += chunk
                if not _partial.endswith("\n"):
                    return
                line, _partial = _partial.rstrip("\n"), ""
                _counter += 1
                _lines.append((_counter, py_level, line))
            log.log(py_level if py_level >= logging.WARNING else logging.DEBUG, "%s", line)
        except Exception:  # noqa: BLE001, S110 (a callback from C must never raise into it)
            pass

    _callback = _on_log
    llama_cpp.llama_log_set(_callback, ctypes.c_void_p(0))
    # llama.cpp may log while the interpreter shuts down; Python code must not run then
    atexit.register(_uninstall)


def _uninstall() -> None:
    """Hand logging back to llama.cpp's own C printer (a NULL callback)."""
    import llama_cpp

    llama_cpp.llama_log_set(ctypes.cast(None, llama_cpp.llama_log_callback), ctypes.c_void_p(0))


def mark() -> int:
    """A position in the log; `since(mark)` returns what came after it."""
    with _lock:
        return _counter


def since(position: int, min_level: int = logging.DEBUG) -> list[str]:
    with _lock:
        return [text for n, level, text in _lines if n > position and level >= min_level]
