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
