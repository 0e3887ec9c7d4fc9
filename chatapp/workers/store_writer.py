"""The store's one writer: every write the GUI side asks for runs here, in the order asked.

The GUI thread never waits on the database (Anki sends all its database work through one
single-worker executor; Picard keeps a single-thread pool for saves "to avoid race
conditions"). A write asked while an import holds the store's writer for seconds in one bulk
transaction waits here, behind it, while the window goes on; `waiting` tells the person
so. Results and errors come back on the GUI thread (`Delivery`, as for background jobs).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer, Signal

from chatapp.workers.jobs import EXPECTED, Delivery, Done, Failed, failure_message

log = logging.getLogger("chatapp.workers")

# a write that has waited this long is told about: an ordinary write takes milliseconds, so
# only a held writer (an import's transaction, another program's lock) makes one wait a
# second, and a person who sees nothing happen for longer starts to wonder
WAIT_MS = 1000


class _Write:
    __slots__ = ("args", "asked_at", "fn", "key", "kwargs", "name", "on_done", "on_error", "sync")

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple,
        kwargs: dict[str, Any],
        on_done: Done | None,
        on_error: Failed | None,
        key: Hashable | None,
        sync: _Sync | None = None,
    ) -> None:
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.on_done, self.on_error = on_done, on_error
        self.name = getattr(fn, "__name__", "a store write")
        self.key = key
        self.asked_at = time.monotonic()
        self.sync = sync


class _Sync:
    """The answer to a blocking `call`, handed over on the writer's thread."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class StoreWriter(Delivery):
    """One thread that runs the store writes asked of it, first asked first written.

    `ask` returns at once; `on_done(result)` or `on_error(message)` run later on the GUI
    thread (with no `on_error`, the message goes to `on_bug`, the window's error display). A
    write that fails (a locked database, a full disk) is said and the next ones still run.

    Signals:
        waiting(bool): True once a write has waited WAIT_MS (behind an import's transaction,
            another program's lock); False when every write asked has been written
    """

    waiting = Signal(bool)

    def __init__(self, parent: QObject | None = None, wait_ms: int = WAIT_MS) -> None:
        super().__init__(parent)
        self._cond = threading.Condition()
        self._queue: deque[_Write] = deque()
        self._keyed: dict[Hashable, _Write] = {}  # queued writes by coalesce key
        self._running: _Write | None = None
        self._closed = False
        self._outstanding = 0  # asked, answer not delivered yet
        self._wait_s = wait_ms / 1000
        self._told = False
        self._timer = QTimer(self, interval=max(50, wait_ms // 4))
        self._timer.timeout.connect(self._check_waiting)
        self._thread = threading.Thread(target=self._loop, name="chatapp-store-writer", daemon=True)
        self._thread.start()

    # -- asking -------------------------------------------------------------------------

    def ask(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_done: Done | None = None,
        on_error: Failed | None = None,
        coalesce: Hashable | None = None,
        **kwargs: Any,
    ) -> None:
        """Write `fn(*args, **kwargs)` after what was asked before. With `coalesce`, a write
        of the same key still waiting its turn is replaced by this one, in its place in the
        line (a draft saved again, a streamed reply's newer text), and only this one's
        callbacks run.
        After `shutdown` the write runs at once on the caller's thread, callbacks included."""
        write = _Write(fn, args, kwargs, on_done, on_error, coalesce)
        with self._cond:
            if not self._closed:
                older = self._keyed.get(coalesce) if coalesce is not None else None
                if older is not None:
                    self._queue[self._queue.index(older)] = write
                    write.asked_at = older.asked_at  # it has waited since the first was asked
                else:
                    self._queue.append(write)
                    self._outstanding += 1
                if coalesce is not None:
                    self._keyed[coalesce] = write
                self._cond.notify_all()
                if not self._timer.isActive() and QThread.currentThread() is self.thread():
                    self._timer.start()
                return
        self._answer(write, *self._run(write))  # after shutdown: nothing is dropped

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Write `fn(*args, **kwargs)` after what was asked before and wait for it: its result,
        or its exception raised here. For a quit, where no event loop runs answers any more."""
        if threading.current_thread() is self._thread:
            return fn(*args, **kwargs)
        sync = _Sync()
        write = _Write(fn, args, kwargs, None, None, None, sync)
        with self._cond:
            closed = self._closed
            if not closed:
                self._queue.append(write)
                self._cond.notify_all()
        if closed:  # the writer has stopped: this thread is the only writer left
            return fn(*args, **kwargs)
        sync.ready.wait()
        if sync.error is not None:
            raise sync.error
        return sync.result

    # -- waiting for it -----------------------------------------------------------------

    @property
    def idle(self) -> bool:
        """Nothing asked is still unwritten, and every answer has been delivered."""
        with self._cond:
            return self._outstanding == 0 and not self._queue and self._running is None

    def flush(self, timeout: float = 60.0) -> bool:
        """Wait (up to `timeout` seconds) until every write asked has been written; on the GUI
        thread, their answers are then delivered too. True when idle."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._running is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        if QThread.currentThread() is self.thread():
            QCoreApplication.sendPostedEvents(self)  # the answers queued for this object
        return self.idle

    def shutdown(self, timeout: float | None = None) -> bool:
        """Write what is asked, then stop the thread; later writes run on the caller's thread.
        True when the thread has ended."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)
        self._timer.stop()
        return not self._thread.is_alive()

    # -- the writer's thread --------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                write = self._queue.popleft()
                if write.key is not None and self._keyed.get(write.key) is write:
                    del self._keyed[write.key]
                self._running = write
            ok, value = self._run(write)
            if write.sync is not None:
                if ok:
                    write.sync.result = value
                else:
                    write.sync.error = value
                write.sync.ready.set()
            else:
                self.post(lambda w=write, o=ok, v=value: self._answer(w, o, v, delivered=True))
            with self._cond:
                self._running = None
                self._cond.notify_all()

    def _run(self, write: _Write) -> tuple[bool, Any]:
        try:
            return True, write.fn(*write.args, **write.kwargs)
        except EXPECTED as exc:  # a full disk, a locked database: said, and the next one runs
            return False, exc
        except Exception as exc:  # a bug: its traceback in the log, said in one line
            log.exception("store write %s failed", write.name)
            return False, exc

    def _answer(self, write: _Write, ok: bool, value: Any, delivered: bool = False) -> None:
        """On the GUI thread (or the caller's, after shutdown): the write's callback."""
        if delivered:
            with self._cond:
                self._outstanding -= 1
        try:
            if ok:
                if write.on_done is not None:
                    write.on_done(value)
            else:
                message = failure_message(value, write.name)
                (write.on_error or self.on_bug)(message)
        finally:
            if delivered and self.idle:
                self._check_waiting()

    def _check_waiting(self) -> None:
        """On the GUI thread, while writes are outstanding: has the oldest waited long?"""
        with self._cond:
            oldest = self._running or (self._queue[0] if self._queue else None)
            busy = self._outstanding > 0 or oldest is not None
            long = oldest is not None and time.monotonic() - oldest.asked_at >= self._wait_s
        if long and not self._told:
            self._told = True
            log.info("a store write has waited %.1f s", time.monotonic() - oldest.asked_at)
            self.waiting.emit(True)
        elif not busy:
            self._timer.stop()
            if self._told:
                self._told = False
                self.waiting.emit(False)
