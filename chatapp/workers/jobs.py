"""Background jobs: the one way the GUI side runs work off its thread (besides the engine and
memory threads), in the manner of Picard's `run_task(func, next_func)`.

A job is a plain function run on a small shared pool; its result, its error or its progress is
handed back on the GUI thread to the callbacks given with it. Widgets never own executors:
they ask `Jobs.run` and keep the returned `Job` if they may want to cancel it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from chatapp.errors import UserFacingError

log = logging.getLogger("chatapp.workers")


class Cancelled(Exception):
    """Raised by `Job.check()` in a job whose caller no longer wants its result."""


class Job:
    """What a running job sees of itself: whether it was cancelled, and a way to report progress.

    A job function takes its `Job` as its only argument; long loops call `job.check()` (raises
    `Cancelled`) or read `job.cancelled`, and `job.progress(done, total)` where that helps a person.
    """

    def __init__(self, name: str, report: Callable[[int, int], None]) -> None:
        self.name = name
        self._cancel = threading.Event()
        self._report = report
        self.done = threading.Event()  # set once the job's callbacks have run (or it was dropped)
        # set on the job's own thread once its function has returned or raised: a quit waits on
        # it when no event loop is left to run the callbacks
        self.finished = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Ask the job to stop; its on_done/on_error will not be called."""
        self._cancel.set()

    def check(self) -> None:
        if self._cancel.is_set():
            raise Cancelled(self.name)

    def progress(self, done: int, total: int) -> None:
        if not self._cancel.is_set():
            self._report(done, total)


Done = Callable[[Any], None]
Failed = Callable[[str], None]
Progress = Callable[[int, int], None]


EXPECTED = (UserFacingError, OSError)  # a full disk, a locked database: not chatapp's bug


def failure_message(exc: BaseException, name: str) -> str:
    """What a person reads when work off the GUI thread failed: an expected failure says
    itself; anything else is a bug (its traceback is in the log), named in one short line."""
    if isinstance(exc, EXPECTED):
        return str(exc)
    return f"{name} failed: {type(exc).__name__}: {exc}"


class Delivery(QObject):
    """Hands callbacks from any thread to the thread that owns this object (the GUI thread),
    through a queued signal: the one way results of background work come back (`Jobs`,
    `StoreWriter`).

    Signals:
        _deliver(object): internal; carries a callback to run on the owner's thread
    """

    _deliver = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.on_bug: Failed = lambda message: None  # where a failure goes with no on_error
        self._deliver.connect(self._call)

    def post(self, callback: Callable[[], None]) -> None:
        """Run `callback` on the owner's thread, from its event loop."""
        self._deliver.emit(callback)

    @Slot(object)
    def _call(self, callback: Callable[[], None]) -> None:
        callback()


class Jobs(Delivery):
    """A small pool whose results come back on the thread that owns this object (the GUI thread).

    Expected failures (`UserFacingError`, `OSError`) reach `on_error` with their message; anything
    else is a bug: it is logged with its traceback and `on_error` gets a short message, or, with no
    `on_error`, it goes to `on_bug` (the window's error display).
    """

    def __init__(self, parent: QObject | None = None, workers: int = 2) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chatapp-job")
        self._closed = False

    def run(
        self,
        fn: Callable[[Job], Any],
        on_done: Done | None = None,
        on_error: Failed | None = None,
        on_progress: Progress | None = None,
        *,
        name: str | None = None,
    ) -> Job:
        job = Job(name or getattr(fn, "__name__", "job"), self._progress_reporter(on_progress))
        if self._closed:
            job.cancel()
            job.finished.set()
            job.done.set()
            return job

        def work() -> None:
            try:
                result = fn(job)
            except Cancelled:
                self.post(job.done.set)
                return
            except EXPECTED as exc:
                self._fail(job, failure_message(exc, job.name), on_error)
                return
            except Exception as exc:  # a bug: keep the traceback in the log, say it in the window
                log.exception("background job %s failed", job.name)
                self._fail(job, failure_message(exc, job.name), on_error)
                return
            self._finish(job, lambda: on_done(result) if on_done else None)

        future = self._pool.submit(work)
        # on the job's thread when it has run, or at once when a shutdown dropped it unstarted
        future.add_done_callback(lambda _future: job.finished.set())
        return job

    def shutdown(self, wait: bool = True) -> None:
        """Cancel what has not started and (with `wait`) let running jobs end: at quit, an
        export or import being written must finish rather than leave half a file."""
        self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def _finish(self, job: Job, callback: Callable[[], None]) -> None:
        def deliver() -> None:
            try:
                if not job.cancelled:
                    callback()
            finally:
                job.done.set()

        self.post(deliver)

    def _fail(self, job: Job, message: str, on_error: Failed | None) -> None:
        self._finish(job, lambda: (on_error or self.on_bug)(message))

    def _progress_reporter(self, on_progress: Progress | None) -> Callable[[int, int], None]:
        if on_progress is None:
            return lambda done, total: None
        return lambda done, total: self.post(lambda: on_progress(done, total))
