"""The model process: llama.cpp runs in a child process that the engine thread starts and owns.

llama.cpp parses model files downloaded from anywhere and calls abort() on many kinds of
damage (a `block_count` of 0, a tensor that does not fit), on a GPU driver fault and on a
silent RPC server. In a child, each of these is an exception here and a message for the
user; the app's process, its window and the reply text streamed so far stay.

Transport: a `multiprocessing` pipe (spawn context, no sockets) carrying small tuples;
a shared byte is the cancel flag the child checks between tokens and while it reads the
prompt. The child gets the model path and its settings, nothing of the store.

Token counts and the prompt's tokens come from a vocabulary-only copy of the model in
this process, opened only after the child has loaded the same file without crashing, so
the context builder counts as fast as before and the child only generates.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import multiprocessing
import os
import re
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from chatapp import errors
from chatapp.domain import ChatMessage, GenerationSettings
from chatapp.engine import memory_estimate
from chatapp.engine.backend import (
    ModelInfo,
    ModelSpec,
    ProgressCallback,
    ReplyResult,
    TextCallback,
)
from chatapp.engine.prompt_format import PromptFormat
from chatapp.errors import GenerationError, ModelLoadError, UserFacingError

log = logging.getLogger("chatapp.engine")

STOP_GRACE = 5.0  # seconds a child may take to honour a stop before it is ended
POLL = 0.1  # how often a waiting engine thread looks at a cancel event (cancel_now is at once)
SEND_EVERY = 0.04  # the child sends text at most this often (the first piece at once)
LOG_TAIL = 12  # llama.cpp log lines shown with a crash
QUIT_WAIT = 3.0  # seconds a child gets to close its model before it is killed


def load_deadline(path: str | Path) -> float:
    """Seconds a load may take before the child counts as hung: generous, since a big
    model read from a slow disk into GPU memory takes minutes (50 MB/s is a slow disk)."""
    try:
        size = Path(path).stat().st_size
    except OSError:
        size = 0
    return 120.0 + size / 50e6


_NOISE = re.compile(r"(set_abort_callback|state_(read|write)_data|llama_perf_)")


class ModelProcessCrashed(ModelLoadError):
    """The model process died (or hung) while loading `path`; the file may be damaged."""

    def __init__(self, message: str, *, detail: str = "", path: str = "", reason: str = "") -> None:
        super().__init__(message, detail=detail)
        self.path = path
        self.reason = reason


class ModelProcessDied(GenerationError):
    """The model process died (or ignored a stop) while replying; `partial_text` is what
    it wrote before."""

    def __init__(
        self, message: str, *, detail: str = "", partial_text: str = "", reason: str = ""
    ) -> None:
        super().__init__(message, detail=detail)
        self.partial_text = partial_text
        self.reason = reason


class ModelLoadInterrupted(ModelLoadError):
    """The load was abandoned because the app is quitting (nothing is wrong with the file)."""


QUITTING = "the app is quitting"


class _Died(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclasses.dataclass
class _Child:
    process: Any  # multiprocessing.Process
    conn: Any  # the parent's end of the pipe
    cancel: Any  # shared byte: 1 = stop
    log_path: str
    footprint: int = 0

    @property
    def pid(self) -> int | None:
        return self.process.pid


class ProcessBackend:
    """The `Backend` protocol with the model in a child process (one at a time, except
    briefly while switching when memory allows).

    `interrupt()` may be called from any thread: it ends the child and makes the running
    call fail at once (quitting while a model loads)."""

    reports_reading = True  # generate() takes on_progress

    def __init__(
        self, load_deadline_s: float | None = None, stop_grace: float = STOP_GRACE
    ) -> None:
        self.info: ModelInfo | None = None
        self.last_reused_tokens = 0
        # seconds of the last reply's first token spent crossing the boundary: from sending
        # the request to receiving the first text, less the child's own time to it
        self.last_transit_s: float | None = None
        self._deadline = load_deadline_s
        self._stop_grace = stop_grace
        self._child: _Child | None = None
        self._starting: _Child | None = None
        self._format: PromptFormat | None = None
        self._vocab: Any = None  # llama_cpp._internals.LlamaModel, vocabulary only
        self._lock = threading.Lock()
        self._interrupted = False

    # -- the child's life -------------------------------------------------

    @property
    def child_pid(self) -> int | None:
        """The process id of the child that holds (or is loading) the model."""
        child = self._starting or self._child
        return child.pid if child is not None else None

    def _start_child(self) -> _Child:
        ctx = multiprocessing.get_context("spawn")
        ours, theirs = ctx.Pipe(duplex=True)
        cancel = ctx.RawValue("b", 0)
        fd, log_path = tempfile.mkstemp(prefix="chatapp-model-", suffix=".log")
        os.close(fd)
        process = ctx.Process(
            target=child_main, args=(theirs, cancel, log_path), name="chatapp-model", daemon=True
        )
        child = _Child(process, ours, cancel, log_path)
        with self._lock:
            if self._interrupted:
                ours.close()
                theirs.close()
                os.unlink(log_path)
                raise _Died(QUITTING)
            self._starting = child
            process.start()
        theirs.close()
        return child

    def _stop_child(self, child: _Child, *, kill: bool = False) -> None:
        """End a child and everything it holds (RAM and VRAM go back to the system)."""
        if not kill and child.process.is_alive():
            with contextlib.suppress(OSError, ValueError):
                child.conn.send(("quit",))
            child.process.join(QUIT_WAIT)
        if child.process.is_alive():
            child.process.kill()
        child.process.join(5)
        child.conn.close()
        with contextlib.suppress(ValueError):
            child.process.close()
        with contextlib.suppress(OSError):
            os.unlink(child.log_path)
        with self._lock:
            if self._starting is child:
                self._starting = None
            if self._child is child:
                self._child = None

    def died(self) -> bool:
        """The child holding the loaded model has ended (killed, crashed) while nothing was
        asked of it. Safe from any thread: it looks at the process sentinel (and on Linux at
        the process's state, see _ending), reaping nothing."""
        child = self._child
        if child is None or self.info is None or self._interrupted:
            return False
        try:
            if wait([child.process.sentinel], 0):
                return True
        except (OSError, ValueError):  # closed meanwhile: being stopped on purpose
            return False
        return _ending(child.pid)

    def forget_dead(self) -> str:
        """Let go of a child that `died()`; the reason it ended, for the log and the user."""
        child = self._child
        if child is None:
            return "it was not running"
        reason = self._why(child)
        self._forget()
        self._stop_child(child, kill=True)
        return reason

    def cancel_now(self) -> None:
        """Stop the reply being written, from any thread, without waiting for the engine
        thread to notice its cancel event: the child sees the flag before its next token."""
        child = self._child
        if child is not None:
            child.cancel.value = 1

    def interrupt(self) -> None:
        """End the child now, from any thread: the engine thread's current call fails."""
        with self._lock:
            self._interrupted = True
            children = [c for c in (self._starting, self._child) if c is not None]
        for child in children:
            with contextlib.suppress(Exception):
                child.process.kill()

    def _why(self, child: _Child) -> str:
        child.process.join(1)
        code = child.process.exitcode
        if code is None:
            return "it stopped answering"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return {
                "SIGABRT": "llama.cpp aborted",
                "SIGSEGV": "llama.cpp crashed with a segmentation fault",
                "SIGBUS": "llama.cpp crashed with a bus error; the file may have changed on disk",
                "SIGKILL": "it was killed with SIGKILL, perhaps for lack of memory",
            }.get(name, f"it was ended by {name}")
        return f"it exited with status {code}"

    def _ended(self, child: _Child) -> _Died:
        """Why the child ended: the app's own quit (it killed the child) or what `_why` says."""
        return _Died(QUITTING if self._interrupted else self._why(child))

    def _log_tail(self, child: _Child) -> str:
        try:
            lines = Path(child.log_path).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return ""
        tail = [line for line in lines if line.strip() and not _NOISE.match(line)][-LOG_TAIL:]
        return "\n".join(tail)

    def _call(
        self,
        child: _Child,
        message: tuple[Any, ...],
        *,
        deadline: float | None = None,
        cancel: Any = None,
        on_text: TextCallback | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> tuple[Any, ...]:
        """Send one request and wait for its answer, streaming text on the way; _Died when
        the child dies, misses the deadline or ignores a stop."""
        try:
            child.conn.send(message)
        except (OSError, ValueError) as exc:
            raise self._ended(child) from exc
        stop_asked: float | None = None
        while True:
            if self._interrupted:
                raise _Died(QUITTING)
            now = time.monotonic()
            if cancel is not None and (cancel.is_set() or child.cancel.value):
                child.cancel.value = 1
                stop_asked = stop_asked or now
                if now - stop_asked > self._stop_grace:
                    raise _Died(f"it did not stop within {self._stop_grace:g} s")
            if deadline is not None and now > deadline:
                raise _Died("it did not finish loading in time; it may hang")
            ready = wait([child.conn, child.process.sentinel], POLL if cancel is not None else 0.2)
            if child.conn in ready:
                try:
                    reply = child.conn.recv()
                except (EOFError, OSError) as exc:
                    raise self._ended(child) from exc
                if reply[0] == "t":
                    if on_text is not None:
                        on_text(reply[1])
                    continue
                if reply[0] == "p":
                    if on_progress is not None:
                        on_progress(reply[1], reply[2])
                    continue
                return reply
            if ready:  # the sentinel: the child ended and nothing is left to read
                raise self._ended(child)

    @staticmethod
    def _raise_error(reply: tuple[Any, ...]) -> None:
        """Re-raise an error the child sent as (\"error\", class name, message, detail, extra)."""
        _, kind, message, detail, extra = reply
        cls = getattr(errors, kind, None)
        if kind == "ModelTooLarge":
            raise errors.ModelTooLarge(message, detail=detail, estimate=extra)
        if isinstance(cls, type) and issubclass(cls, UserFacingError):
            raise cls(message, detail=detail)
        raise GenerationError(message, detail=detail)

    # -- loading ----------------------------------------------------------

    def load(self, spec: ModelSpec) -> ModelInfo:
        """Load `spec` in a fresh child. The checks that need no llama.cpp (file, header,
        memory) run here first, so a refusal keeps the current model."""
        from chatapp.engine.gguf_file import check_model_file
        from chatapp.engine.gguf_meta import read_header
        from chatapp.engine.llama_backend import plan_load

        self._interrupted = False
        old = self._child
        if spec.endpoint is None:  # a missing or damaged file is told at once, before any child
            read_header(check_model_file(spec.path))
        try:  # the child starts Python and imports llama.cpp while the checks run here
            child = self._start_child()
        except _Died:
            raise ModelLoadInterrupted(
                f"{Path(spec.path).name} was not loaded: {QUITTING}."
            ) from None
        try:
            plan = plan_load(spec, old.footprint if old is not None else 0)
        except BaseException:
            self._stop_child(child, kill=True)  # it holds nothing yet
            raise
        if old is not None and not self._room_for_both(plan):
            self.unload()  # stop, then start: there is no room for two
            old = None
        name = plan.path.name
        deadline = time.monotonic() + (self._deadline or load_deadline(plan.path))
        try:
            reply = self._call(child, ("load", plan.spec), deadline=deadline)
        except _Died as died:
            tail = self._log_tail(child)
            self._stop_child(child, kill=True)
            if died.reason == QUITTING:
                raise ModelLoadInterrupted(f"{name} was not loaded: {QUITTING}.") from None
            log.warning(
                "the model process died loading %s (%s); its log:\n%s", name, died.reason, tail
            )
            raise ModelProcessCrashed(
                f"The model process stopped while loading {name} ({died.reason}). "
                "The file may be damaged.",
                detail=f"Last lines of llama.cpp's log:\n{tail}" if tail else "",
                path=str(plan.path),
                reason=died.reason,
            ) from None
        if reply[0] == "error":
            self._stop_child(child)
            self._raise_error(reply)
        _, info, footprint = reply
        child.footprint = footprint
        try:
            fmt, vocab = self._open_tokenizer(plan.path, plan.spec)
        except Exception:
            self._stop_child(child)
            raise
        if old is not None:
            self.unload()  # both fitted: the new one was ready before the old one went
        with self._lock:
            self._child, self._starting = child, None
        self._format, self._vocab = fmt, vocab
        self.info = info
        log.info("model process %s holds %s", child.pid, info.name)
        return info

    @staticmethod
    def _room_for_both(plan: Any) -> bool:
        """Start the new child before stopping the old only on the CPU and with room to
        spare (GPU memory cannot be checked here: stop first there)."""
        if plan.layers != 0:
            return False
        free = memory_estimate.available_memory()
        if free is None:
            return False
        need = memory_estimate.estimate(plan.header, plan.spec.n_ctx, plan.spec.n_batch).total
        return need < free * 0.8

    @staticmethod
    def _open_tokenizer(path: Path, spec: ModelSpec) -> tuple[PromptFormat, Any]:
        """The vocabulary of the file the child has just loaded, for counting and rendering
        here; its chat template as the child would use it."""
        import llama_cpp
        from llama_cpp import _internals

        params = llama_cpp.llama_model_default_params()
        params.vocab_only = True
        try:
            vocab = _internals.LlamaModel(path_model=str(path), params=params, verbose=False)
        except Exception as exc:
            raise ModelLoadError(
                f"The vocabulary of {path.name} could not be read.", detail=str(exc)
            ) from exc
        try:
            template = spec.chat_template or vocab.metadata().get("tokenizer.chat_template")
            return PromptFormat(vocab, template), vocab
        except Exception as exc:
            vocab.close()
            raise ModelLoadError(
                f"The chat template of {path.name} cannot be used.", detail=str(exc)
            ) from exc

    def unload(self) -> None:
        """End the child: all of its memory goes back to the system."""
        child = self._child
        self._forget()
        if child is not None:
            self._stop_child(child)

    def _forget(self) -> None:
        self.info = None
        self._format = None
        vocab, self._vocab = self._vocab, None
        if vocab is not None:
            vocab.close()
            del vocab
            if not self._interrupted:  # quitting: the process gives it all back (a full
                gc.collect()  # collection with torch loaded took most of a quit's time)
                _give_back_freed_memory()

    # -- tokens -----------------------------------------------------------

    def _require(self) -> tuple[_Child, PromptFormat]:
        if self._child is None or self._format is None or self.info is None:
            raise GenerationError("No model is loaded.")
        return self._child, self._format

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> list[int]:
        return self._require()[1].render(messages).tokens

    def render_prompt(self, messages: Sequence[ChatMessage]) -> str:
        return self._require()[1].render(messages).prompt

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return self._require()[1].count(messages)

    def count_text_tokens(self, text: str) -> int:
        return self._require()[1].count_text(text)

    # -- generation -------------------------------------------------------

    def generate(
        self,
        messages: Sequence[ChatMessage],
        settings: GenerationSettings,
        cancel: threading.Event,
        on_text: TextCallback,
        on_progress: ProgressCallback | None = None,
    ) -> ReplyResult:
        started = time.perf_counter()
        child, fmt = self._require()
        rendered = fmt.render(messages)
        child.cancel.value = 1 if cancel.is_set() else 0
        sent = time.perf_counter()
        pieces: list[str] = []
        first_at: list[float] = []

        def streamed(text: str) -> None:
            if not first_at:
                first_at.append(time.perf_counter())
            pieces.append(text)
            on_text(text)

        try:
            reply = self._call(
                child,
                ("generate", rendered.tokens, rendered.stop, settings, on_progress is not None),
                cancel=cancel,
                on_text=streamed,
                on_progress=on_progress,
            )
        except _Died as died:
            raise self._died_replying(child, died, "".join(pieces)) from None
        if reply[0] == "error":
            self._raise_error(reply)
        _, result, reused = reply
        self.last_reused_tokens = reused
        end = time.perf_counter()
        self.last_transit_s = first_at[0] - sent - result.time_to_first_token if first_at else None
        return dataclasses.replace(
            result,
            seconds=end - started,
            time_to_first_token=(first_at[0] if first_at else end) - started,
        )

    def _died_replying(self, child: _Child, died: _Died, text: str) -> ModelProcessDied:
        tail = self._log_tail(child)
        if died.reason == QUITTING:  # ended on purpose: nothing to look into
            log.info("the model process was ended mid-request: %s", QUITTING)
        else:
            log.warning("the model process died replying (%s); its log:\n%s", died.reason, tail)
        name = self.info.name if self.info is not None else "the model"
        if self._child is child:
            self._forget()
        self._stop_child(child, kill=True)
        return ModelProcessDied(
            f"The model process stopped while writing this reply ({died.reason}). "
            f"The text so far is kept; {name} is being loaded again.",
            detail=f"Last lines of llama.cpp's log:\n{tail}" if tail else "",
            partial_text=text,
            reason=died.reason,
        )

    @contextlib.contextmanager
    def keeping_cache(self) -> Iterator[None]:
        """Side work (a summary) without losing the chat's KV cache: the child keeps a copy
        of its state and puts it back after."""
        child, _ = self._require()
        self._expect_ok(child, ("keep",))
        try:
            yield
        finally:
            if self._child is child:
                self._expect_ok(child, ("restore",))

    def _expect_ok(self, child: _Child, message: tuple[Any, ...]) -> None:
        try:
            reply = self._call(child, message)
        except _Died as died:
            raise self._died_replying(child, died, "") from None
        if reply[0] == "error":
            self._raise_error(reply)


# -- the child's side -------------------------------------------------------


class _SharedFlag:
    """`is_set()` over the shared cancel byte, as LlamaBackend expects of a cancel event."""

    def __init__(self, value: Any) -> None:
        self._value = value

    def is_set(self) -> bool:
        return bool(self._value.value)


class _Stream:
    """Text to the app in small batches: the first piece at once (time to first token),
    then at most every SEND_EVERY seconds, so the app's engine thread is not woken per token."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._pieces: list[str] = []
        self._sent_at: float | None = None

    def add(self, text: str) -> None:
        self._pieces.append(text)
        now = time.monotonic()
        if self._sent_at is None or now - self._sent_at >= SEND_EVERY:
            self.flush()
            self._sent_at = now

    def flush(self) -> None:
        if self._pieces:
            self._conn.send(("t", "".join(self._pieces)))
            self._pieces.clear()


class _QuietStderr:
    """The child's Python stderr without llama-cpp-python's verbose prints (the model's
    metadata, its whole chat template, a line per reply on the cache): they filled the crash
    log shown to the user and chatapp.log. llama.cpp's own messages do not pass here (they
    come through logging, and its abort messages straight to file descriptor 2)."""

    CHATTER = (
        "Model metadata:",
        "Available chat formats",
        "Using gguf chat template",
        "Using chat eos_token",
        "Using chat bos_token",
        "Using fallback chat format",
        "Guessed chat format",
        "Llama.generate:",
        "Llama._create_completion:",
        "CPU : ",
    )

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._dropped = False  # the last write was chatter: its line end goes with it

    def write(self, text: str) -> int:
        if self._dropped and text == "\n":
            self._dropped = False
            return len(text)
        self._dropped = text.startswith(self.CHATTER)
        if self._dropped or self._inner is None:
            return len(text)
        return self._inner.write(text)

    def flush(self) -> None:
        if self._inner is not None:
            self._inner.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _watch_parent() -> None:
    """End this process when the app's process ends, however it ends (even SIGKILL)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="chatapp-parent-watch", daemon=True).start()


def child_main(conn: Any, cancel: Any, log_path: str) -> None:
    """The model process: load and generate on request until told to quit or the app ends."""
    _watch_parent()
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(fd, 2)  # llama.cpp's abort messages go to stderr: keep them for the app
    os.dup2(fd, 1)
    os.close(fd)
    # its own handle on the file: a windowed app may have no sys.stderr at all
    handler = logging.StreamHandler(open(log_path, "a", encoding="utf-8", buffering=1))  # noqa: SIM115
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("chatapp")
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    root.propagate = False
    os.environ["GGML_NO_BACKTRACE"] = "1"  # ggml would attach gdb to print one on abort
    sys.stderr = _QuietStderr(sys.stderr)

    from chatapp.engine.llama_backend import LlamaBackend

    with contextlib.suppress(Exception):  # now, while the app checks the file; a failure is
        import llama_cpp  # noqa: F401  (reported by the load)

    backend = LlamaBackend()
    backend.verbose = True
    states: list[Any] = []
    flag = _SharedFlag(cancel)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            break
        op = message[0]
        if op == "quit":
            break
        try:
            if op == "load":
                info = backend.load(message[1])
                conn.send(("ok", info, backend.footprint))
            elif op == "generate":
                _, tokens, stop, settings, progress = message
                stream = _Stream(conn)
                told = (lambda done, total: conn.send(("p", done, total))) if progress else None
                result = backend.generate_tokens(
                    tokens, stop, settings, flag, stream.add, on_progress=told
                )
                stream.flush()
                conn.send(("ok", result, backend.last_reused_tokens))
            elif op == "keep":
                states.append(backend.save_state())
                conn.send(("ok",))
            elif op == "restore":
                if states:
                    backend.load_state(states.pop())
                conn.send(("ok",))
            else:
                conn.send(("error", "GenerationError", f"unknown request {op!r}", "", None))
        except UserFacingError as exc:
            extra = getattr(exc, "estimate", None)
            conn.send(("error", type(exc).__name__, exc.message, exc.detail, extra))
        except (BrokenPipeError, EOFError):
            break
        except Exception as exc:  # a bug or an unexpected llama.cpp error: told, not fatal
            logging.getLogger("chatapp.engine").exception("model process request failed")
            conn.send(("error", "GenerationError", f"The model failed: {exc}", repr(exc), None))
    with contextlib.suppress(Exception):
        backend.unload()
    with contextlib.suppress(Exception):
        conn.close()


def _give_back_freed_memory() -> None:
    """glibc keeps freed heap pages (the vocabulary's many small strings) in the process;
    malloc_trim hands them back so that an unload shows in the app's resident memory."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _ending(pid: int | None) -> bool:
    """Whether the process has ended while its threads are still being torn down (Linux; False
    elsewhere). A killed process's main thread is a zombie at once, but its files, the end of
    the pipe the sentinel waits on among them, close when its last thread is gone: on a busy
    machine a message sent in between went to the dead child and failed instead of loading
    the model again first."""
    if pid is None:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return False
    end = stat.rfind(b")")  # the name in parentheses may hold anything
    return end >= 0 and stat[end + 2 : end + 3] in (b"Z", b"X")
