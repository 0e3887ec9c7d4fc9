"""Background jobs: results, errors and progress come back on the GUI thread; a cancelled job's
callbacks never run; quitting lets a running job finish and drops the queued ones."""

from __future__ import annotations

import threading

import pytest
from pytestqt.qtbot import QtBot

from chatapp.errors import UserFacingError
from chatapp.workers.jobs import Job, Jobs


@pytest.fixture
def jobs(qtbot: QtBot):
    pool = Jobs(workers=1)
    yield pool
    pool.shutdown(wait=True)


def test_the_result_arrives_on_the_gui_thread(qtbot: QtBot, jobs: Jobs) -> None:
    seen: list[tuple[object, bool, bool]] = []

    def work(job: Job) -> int:
        seen.append(("work", threading.current_thread() is threading.main_thread(), False))
        return 42

    def done(value: int) -> None:
        seen.append((value, threading.current_thread() is threading.main_thread(), True))

    job = jobs.run(work, done)
    qtbot.waitUntil(job.done.is_set)
    assert seen == [("work", False, False), (42, True, True)]


def test_an_expected_error_reaches_on_error_with_its_message(qtbot: QtBot, jobs: Jobs) -> None:
    errors: list[str] = []

    def work(job: Job) -> None:
        raise UserFacingError("The disk is full.")

    job = jobs.run(work, lambda _: errors.append("done?"), errors.append)
    qtbot.waitUntil(job.done.is_set)
    assert errors == ["The disk is full."]


def test_a_bug_is_logged_and_shown_without_an_on_error(qtbot: QtBot, jobs: Jobs, caplog) -> None:
    shown: list[str] = []
    jobs.on_bug = shown.append

    def broken(job: Job) -> None:
        raise KeyError("slot")

    job = jobs.run(broken)
    qtbot.waitUntil(job.done.is_set)
    assert shown == ["broken failed: KeyError: 'slot'"]
    assert "background job broken failed" in caplog.text


def test_a_cancelled_job_calls_nothing_back(qtbot: QtBot, jobs: Jobs) -> None:
    started, release = threading.Event(), threading.Event()
    called: list[object] = []

    def slow(job: Job) -> str:
        started.set()
        release.wait(5)
        return "late"

    job = jobs.run(slow, called.append, called.append)
    assert started.wait(5)
    job.cancel()
    release.set()
    qtbot.waitUntil(job.done.is_set)
    assert called == []


def test_a_job_that_checks_stops_when_cancelled(qtbot: QtBot, jobs: Jobs) -> None:
    steps: list[int] = []
    job_started = threading.Event()

    def loop(job: Job) -> None:
        job_started.set()
        for i in range(10_000):
            job.check()
            steps.append(i)
            threading.Event().wait(0.001)

    job = jobs.run(loop)
    assert job_started.wait(5)
    job.cancel()
    qtbot.waitUntil(job.done.is_set)
    assert len(steps) < 10_000


def test_progress_is_reported_on_the_gui_thread(qtbot: QtBot, jobs: Jobs) -> None:
    reports: list[tuple[int, int, bool]] = []

    def counted(job: Job) -> None:
        for i in range(1, 4):
            job.progress(i, 3)

    job = jobs.run(
        counted,
        on_progress=lambda done, total: reports.append(
            (done, total, threading.current_thread() is threading.main_thread())
        ),
    )
    qtbot.waitUntil(job.done.is_set)
    qtbot.waitUntil(lambda: len(reports) == 3)
    assert reports == [(1, 3, True), (2, 3, True), (3, 3, True)]


def test_shutdown_lets_the_running_job_finish_and_drops_queued_ones(qtbot: QtBot) -> None:
    jobs = Jobs(workers=1)
    started = threading.Event()
    finished: list[str] = []

    def writing(job: Job) -> None:
        started.set()
        threading.Event().wait(0.2)
        finished.append("written")

    jobs.run(writing)
    assert started.wait(5)
    jobs.run(lambda job: finished.append("queued ran"))
    jobs.shutdown(wait=True)
    assert finished == ["written"]
    after = jobs.run(lambda job: finished.append("after quit"))
    assert after.cancelled


def test_finished_is_known_without_an_event_loop(qtbot: QtBot) -> None:
    """At quit no event loop runs the callbacks: `finished` is set on the job's own thread,
    and a job a shutdown dropped unstarted counts as finished (nothing waits on it forever)."""
    jobs = Jobs(workers=1)
    release = threading.Event()
    running = jobs.run(lambda job: release.wait(5))
    queued = jobs.run(lambda job: None)
    assert not running.finished.is_set()
    release.set()
    assert running.finished.wait(5) and not running.done.is_set()  # no loop ran yet
    jobs.shutdown(wait=True)
    assert queued.finished.is_set()


def test_quit_waits_for_the_embedding_models_load(qtbot: QtBot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The embedding model loads as a job; a quit right after start waits for it (a thread
    left inside torch's start-up at interpreter shutdown crashed the process)."""
    from chatapp.store import Store
    from chatapp.workers.memory import MemoryController

    store = Store.open(tmp_path / "m.sqlite3")
    jobs = Jobs(workers=2)
    memory = MemoryController(store)
    memory.start(jobs)
    assert memory.shutdown()  # at once, as a quit right after start does
    assert memory._warm_up is not None and memory._warm_up.finished.is_set()
    assert memory.holder.loaded  # the real model finished loading before the thread ended
    jobs.shutdown(wait=True)
    assert not [t for t in threading.enumerate() if t.name.startswith("chatapp-job")]
    store.close()


def test_the_daily_backup_is_a_job_that_a_quit_waits_for(qtbot: QtBot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from chatapp.app import start_daily_backup
    from chatapp.config import paths
    from chatapp.domain import Role
    from chatapp.store import Store

    store = Store.open(paths.database_path(tmp_path))
    store.add_message(store.create_thread("kept").id, Role.USER, "hi")
    jobs = Jobs(workers=1)
    job = start_daily_backup(jobs, tmp_path, store.key)
    jobs.shutdown(wait=True)  # what the quit does before its own backup
    assert job.finished.is_set()
    assert list(paths.backups_dir(tmp_path).glob("*")), "the day's backup was written"
    store.close()
