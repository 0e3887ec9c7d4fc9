"""Start-up: command line, logging, crash handler, database, engine thread, main window."""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from chatapp import __version__, logs
from chatapp.config import paths
from chatapp.config.settings import AppSettings
from chatapp.engine.backend import GPU_POLICIES, ModelSpec
from chatapp.errors import DatabaseCorrupt, ModelLoadError, StorageError, UserFacingError

if TYPE_CHECKING:
    from chatapp.workers.jobs import Job, Jobs

log = logging.getLogger("chatapp.app")


def build_parser() -> argparse.ArgumentParser:
    from chatapp import cli

    parser = argparse.ArgumentParser(
        prog="chatapp",
        description="Chat with local language models (GGUF) that remember.",
        epilog=cli.commands_help(),  # every subcommand, from the parser that runs them
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"chatapp {__version__}")
    parser.add_argument(
        "--model", metavar="PATH", help="GGUF model file to load (default: the built-in SmolLM2)"
    )
    parser.add_argument(
        "--data-dir", metavar="DIR", help=f"where threads are kept (also ${paths.ENV_HOME})"
    )
    parser.add_argument(
        "--gpu", choices=GPU_POLICIES, help="GPU offload: auto (default), gpu or cpu"
    )
    parser.add_argument(
        "--gpu-layers", type=int, metavar="N", help="offload exactly N layers to the GPU"
    )
    parser.add_argument(
        "--ctx",
        type=int,
        metavar="TOKENS",
        help="context size (default: per model, automatic up to 8192)",
    )
    parser.add_argument("--threads", type=int, metavar="N", help="CPU threads for the model")
    parser.add_argument("--print-startup", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--quit-after", type=int, metavar="MS", help="quit after MS milliseconds (smoke tests)"
    )
    parser.add_argument(
        "--send",
        metavar="TEXT",
        help="send TEXT in a new thread once the model is loaded, then quit when the reply ends "
        "(smoke tests)",
    )
    return parser


def model_spec(args: argparse.Namespace, settings: AppSettings) -> tuple[ModelSpec, str | None]:
    """The model to load at start: --model, else the preferred one, else the built-in; and a
    note when the preferred one is skipped because it crashed the model process before
    (loading it at every start would be a crash loop; --model still loads it)."""
    from chatapp.engine.default_model import default_model_path

    path = args.model or settings.default_model
    note = None
    if path and not args.model and settings.crash_reason(path):
        note = (
            f"{Path(path).name} was not loaded at start: last time it stopped the model process "
            f"({settings.crash_reason(path)}). Load it from the model library to try again."
        )
        path = None
    if not path:
        path = str(default_model_path())
    spec = settings.spec(
        str(path), n_ctx=args.ctx, gpu=args.gpu, gpu_layers=args.gpu_layers, n_threads=args.threads
    )
    return spec, note


def use_offscreen_for_send(args: argparse.Namespace, environ: dict[str, str]) -> bool:
    """--send on a machine without a display (a server, CI, ssh) draws its window offscreen:
    Qt's default platform there aborts the process ("could not load the Qt platform plugin
    xcb") before a word is sent. An explicit QT_QPA_PLATFORM, or a display, is left alone."""
    if args.send is None or "QT_QPA_PLATFORM" in environ:
        return False
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return False  # Windows and macOS always have their own platform plugin
    return not (environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def guard_crash_loop(settings: AppSettings, settings_file: Path) -> None:
    """A load still marked as running means the last run ended during it (the app's own
    process died, or the machine): that file is remembered as one that crashed."""
    if settings.loading_model:
        log.warning(
            "the last run ended while loading %s; not loading it automatically",
            settings.loading_model,
        )
        settings.mark_crashed(settings.loading_model, "chatapp ended while loading it")
        settings.loading_model = None
        try:
            settings.save(settings_file)
        except OSError as exc:
            log.warning("settings could not be saved: %s", exc)


def install_crash_handler(root: Path) -> None:
    """Unexpected exceptions are bugs: log them with recent log lines to crash.log."""
    crash_log = paths.crash_log_path(root)
    fault_file = open(root / "faults.log", "a", encoding="utf-8")  # noqa: SIM115 (kept open)
    faulthandler.enable(fault_file)

    def excepthook(exc_type, exc, tb):  # type: ignore[no-untyped-def]
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        log.critical("uncaught exception:\n%s", text)
        try:
            with open(crash_log, "a", encoding="utf-8") as fh:
                fh.write(f"chatapp {__version__} crashed:\n{text}\nrecent log:\n")
                fh.write("\n".join(logs.ring.lines()[-200:]) + "\n\n")
        except OSError:
            pass
        sys.__excepthook__(exc_type, exc, tb)

    sys.excepthook = excepthook


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from chatapp import cli

    if len(argv) >= 3 and argv[0] == "--data-dir" and argv[2] in cli.COMMANDS:
        argv = argv[2:3] + argv[:2] + argv[3:]  # chatapp --data-dir D import F
    if argv and argv[0] in cli.COMMANDS:
        return cli.main(argv)
    args = build_parser().parse_args(argv)
    if args.send is not None and not args.send.strip():
        print("chatapp: --send needs some text to send; nothing was sent.", file=sys.stderr)
        return 2
    try:
        root = paths.data_dir(args.data_dir)
        check_writable(root)
    except UserFacingError as exc:
        print(f"chatapp: {exc}", file=sys.stderr)
        return 1
    logs.setup(log_file=str(root / "chatapp.log"))
    install_crash_handler(root)
    if use_offscreen_for_send(args, dict(os.environ)):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        log.info("no display: --send runs with Qt's offscreen platform")

    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from chatapp.ui.main_window import MainWindow
    from chatapp.ui.single_instance import SingleInstance
    from chatapp.workers.engine import EngineController
    from chatapp.workers.jobs import Jobs

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("chatapp")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(paths.APP_ID)  # pairs the window with its desktop entry
    from PySide6.QtGui import QIcon

    app.setWindowIcon(QIcon(str(paths.resource("icons", "chatapp.svg"))))

    instance = SingleInstance(str(root))
    if not instance.acquire():
        print(
            f"chatapp is already running with data in {root}; its window was raised.",
            file=sys.stderr,
        )
        if args.send:
            print("chatapp: --send did not send: close the running chatapp first.", file=sys.stderr)
            return 1
        return 0

    settings, notices = AppSettings.load_with_notices(paths.settings_path(root))
    from chatapp.ui.theme import apply_theme

    # the passphrase, conversion and restore dialogs come before the window: the chosen theme
    # first, so a dark app does not greet with a light dialog
    apply_theme(app, settings.theme)
    store = open_store_interactively(root)
    if store is None:
        return 1
    # one pool for the app's background jobs: a conversion asked for, the day's backup, the
    # embedding model's load, then the window's search, export, import, model scan and server
    # listing
    jobs = Jobs(workers=4)
    store = convert_if_requested(root, store, jobs)  # Settings ▸ Privacy asked, then restarted
    from chatapp.store.crypto import ERRORS

    watch = store.watch()
    recovered = store.recover_interrupted()
    if recovered:
        log.info("%d interrupted replies marked stopped", recovered)
    try:
        purged = store.purge_trash()
    except (StorageError, *ERRORS) as exc:  # old trash can wait: the app must still start
        log.warning("the trash could not be emptied now: %s", exc)
        purged = 0
    if purged:
        log.info("%d threads purged from the trash", purged)
    start_daily_backup(jobs, root, store.key)

    guard_crash_loop(settings, paths.settings_path(root))
    ui_settings = QSettings(str(root / "ui.ini"), QSettings.Format.IniFormat)
    startup_error = None
    try:
        spec, startup_error = model_spec(args, settings)
    except ModelLoadError as exc:
        spec, startup_error = None, str(exc)

    from chatapp.engine.model_process import ProcessBackend
    from chatapp.workers.memory import MemoryController
    from chatapp.workers.store_writer import StoreWriter

    memory = MemoryController(store)
    memory.start(jobs)  # loads the embedding model as a background job
    engine = EngineController(ProcessBackend, store=store, embed=memory.holder.embed)
    writer = StoreWriter()  # the window's writes: the GUI thread asks, this thread writes
    window = MainWindow(
        store,
        engine,
        spec,
        ui_settings,
        memory,
        settings,
        paths.settings_path(root),
        jobs=jobs,
        writer=writer,
    )
    instance.raise_requested.connect(window.raise_)
    instance.raise_requested.connect(window.activateWindow)
    from chatapp.ui import guard

    guard.set_reporter(window.show_error)  # a row that cannot be drawn is said, not fatal
    window.show()
    if args.print_startup:  # packaging/build.py times the first window with it
        QTimer.singleShot(0, lambda: print("chatapp: window shown", flush=True))
        engine.loaded.connect(
            lambda info: print(
                f"chatapp: model loaded in process {engine.model_pid} (app process {os.getpid()})",
                flush=True,
            )
        )
    if startup_error:
        window.show_error(startup_error)
    for notice in notices:
        window.show_error(notice)
    watch_timer = QTimer(window)
    watch_timer.timeout.connect(lambda: _check_database(watch, window))
    watch_timer.start(5000)

    if args.send:
        send_once(args.send, window, engine, memory)
    if args.quit_after:
        QTimer.singleShot(args.quit_after, window.close)

    result = app.exec()
    # every job ends before what it uses does: a thread left inside torch's start-up or
    # SQLite's backup while the interpreter shuts down can crash it (the window's close
    # waited already; this covers a quit that did not go through it)
    jobs.shutdown(wait=True)
    writer.shutdown()  # what was asked is written before the store closes
    engine.shutdown()
    if settings.loading_model:  # quitting during a load is not a crash
        settings.loading_model = None
        with contextlib.suppress(OSError):
            settings.save(paths.settings_path(root))
    memory.shutdown()
    guard.set_reporter(None)
    vanished = watch.check()
    if vanished is None and watch.vanished:
        vanished = watch.rescue()  # again, with what was written since
    store.close()
    backup_at_quit(root, store.key)  # the day's backup has ended: two copies would race
    instance.release()
    if getattr(window, "restart_requested", False) and not vanished:
        restart()
    if vanished:
        print(f"chatapp: {vanished}", file=sys.stderr)
        return 5
    return getattr(window, "send_exit_code", 0) or result


def check_writable(root: Path) -> None:
    """The data folder must take chatapp's log (an unwritable or immutable folder once gave a
    traceback); say so in a sentence instead."""
    try:
        with open(root / "chatapp.log", "a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise StorageError(
            f"chatapp cannot write in its data folder {root} ({exc.strerror or exc}). Make it "
            f"writable, or choose another folder with --data-dir or {paths.ENV_HOME}."
        ) from exc


def _check_database(watch, window) -> None:  # type: ignore[no-untyped-def]
    """A stat on the GUI thread; the rescue copies the whole database under the store's lock,
    so it runs as a job and the window is told when it is done."""
    if not watch.changed():
        return

    def told(message: str | None) -> None:
        if message:
            window.database_written_back(message)

    window.jobs.run(lambda _job: watch.check(), told, name="Writing the database back")


def backup_at_quit(root: Path, key: str | None = None) -> None:
    """A backup of what this session changed (the daily one may be a day behind); an
    encrypted database's backups are encrypted with its key."""
    from chatapp.store import backup as backups

    try:
        made = backups.backup_if_changed(
            paths.database_path(root), paths.backups_dir(root), key=key
        )
    except (StorageError, OSError) as exc:
        log.warning("the backup at quit failed: %s", exc)
        return
    if made is not None:
        log.info("backup at quit: %s", made)


def send_once(text: str, window, engine, memory) -> None:  # type: ignore[no-untyped-def]
    """--send: one message through the real model and the memory, then quit (smoke tests of
    installs and bundles). Exit status 0 only when a complete reply came back and the
    exchange went into the memory; 2 no reply, 3 an incomplete one, 4 memory unavailable."""
    from PySide6.QtCore import QTimer

    from chatapp.store.memory_tables import MemoryTables

    window.send_exit_code = 2
    state: dict[str, object] = {"thread": None, "memory": None}

    def send(_info: object) -> None:
        window.new_thread_then(opened)

    def opened(thread_id: int) -> None:
        state["thread"] = thread_id
        window.composer.setPlainText(text)
        window.send()

    def done(message) -> None:  # type: ignore[no-untyped-def]
        print(f"reply: {message.content}", flush=True)
        window.send_exit_code = 0 if message.status.value == "complete" and message.content else 3
        if state["memory"] == "unavailable" and window.send_exit_code == 0:
            window.send_exit_code = 4
        if window.send_exit_code or state["memory"] == "unavailable":
            window.close()
        elif state["memory"] == "ready":
            memory.ingest(message.thread_id)  # again: the reply's own ingest may have come first

    def ready() -> None:
        state["memory"] = "ready"
        if window.send_exit_code == 0 and state["thread"] is not None:
            memory.ingest(state["thread"])

    def unavailable(message: str) -> None:
        state["memory"] = "unavailable"
        print(message, file=sys.stderr, flush=True)
        if window.send_exit_code != 2:  # the reply is done: nothing else to wait for
            window.send_exit_code = window.send_exit_code or 4
            window.close()

    def ingested(thread_id: int, _report: object) -> None:
        if thread_id == state["thread"] and window.send_exit_code == 0 and not state.get("indexed"):
            state["indexed"] = True  # the window closes after this; a second ingest may be queued
            count = MemoryTables(window.store).embedding_count(thread_id)
            print(f"memory: the exchange is indexed ({count} messages with embeddings)", flush=True)
            window.close()

    def load_failed(message: str) -> None:
        print(message, file=sys.stderr, flush=True)
        # a file that crashed the model process is followed by the built-in model's load
        # (queued right behind this signal): wait for it rather than quit
        QTimer.singleShot(0, lambda: None if window.model_loading else window.close())

    engine.loaded.connect(send)
    engine.load_failed.connect(load_failed)
    window.session.reply_done.connect(done)
    memory.ready.connect(ready)
    memory.unavailable.connect(unavailable)
    memory.ingested.connect(ingested)


def open_store_interactively(root: Path):  # type: ignore[no-untyped-def]
    """Open the database; if damaged, offer the latest backup (never overwriting the damaged
    file)."""
    from PySide6.QtWidgets import QMessageBox

    from chatapp.store import Store, convert, crypto
    from chatapp.store import backup as backups

    db_path = paths.database_path(root)
    lost = backups.missing_with_backups(db_path, paths.backups_dir(root))
    if lost:
        found = backups.backups(paths.backups_dir(root))
        box = QMessageBox(QMessageBox.Icon.Warning, "chatapp", lost)
        box.setInformativeText(
            "Restore the latest backup? Start empty keeps the backups in a folder of their "
            "own (backups/before-<date>); nothing is deleted."
        )
        restore = box.addButton("Restore the latest backup", QMessageBox.ButtonRole.AcceptRole)
        empty = box.addButton("Start empty", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        if box.clickedButton() is restore:
            aside = backups.restore(db_path, found[0])
            log.warning(
                "restored the latest backup %s; what was there is kept as %s", found[0], aside
            )
        elif box.clickedButton() is empty:
            kept = backups.set_aside(paths.backups_dir(root))
            log.warning("starting empty; the backups of the lost database are kept in %s", kept)
        else:
            return None
    try:
        store = Store.open(db_path, start_key(db_path))
        convert.cleanup(db_path)  # what a killed conversion left beside a database that opens
        return store
    except PassphraseCancelled:  # nothing was opened or changed
        return None
    except (crypto.WrongKey, crypto.KeyMissing) as exc:
        # a passphrase's database whose mark was lost (or a conversion stopped half-way): the
        # passphrase from the environment, else asked; Cancel leads to the other ways out
        key = passphrase_from_env(db_path) or _ask_lost_passphrase(db_path, exc)
        if key is not None:
            try:
                store = Store.open(db_path, key)
            except StorageError as again:
                QMessageBox.critical(None, "chatapp", str(again))
                return None
            crypto.set_passphrase_mark(db_path, True)
            convert.cleanup(db_path)
            return store
        if isinstance(exc, crypto.KeyMissing):
            return _damaged(root, db_path, exc)
        QMessageBox.critical(None, "chatapp", exc.message)  # likely intact: said, never replaced
        return None
    except DatabaseCorrupt as exc:
        return _damaged(root, db_path, exc)
    except StorageError as exc:
        QMessageBox.critical(None, "chatapp", str(exc))
        return None


def _ask_lost_passphrase(db_path: Path, exc: StorageError) -> str | None:
    """No kept key opens the database, but a passphrase may: its mark in chatapp.key-id was
    lost (the file deleted, or a folder copied without it) or a switch to a passphrase stopped
    before writing it. The dialog says so and checks what is typed read-only; None when
    cancelled or when the file cannot be an intact encrypted database (then the message with
    a backup and a key file's ways is shown)."""
    from chatapp.store import crypto
    from chatapp.ui.passphrase_dialog import ask_passphrase

    if not crypto.whole_pages(db_path):  # damaged (or not a database): no passphrase helps
        return None
    missing = isinstance(exc, crypto.KeyMissing)
    intro = (
        f"The conversations in {db_path.parent} are encrypted, and "
        + (
            f"this computer keeps no key for them ({crypto.id_file(db_path).name}, which names "
            "their key, is missing or names a key kept elsewhere)."
            if missing
            else "the key kept for them does not open them."
        )
        + " If you protected them with a passphrase, type it. Cancel shows the other ways to "
        "open them (a key file from another computer, a backup); nothing is changed."
    )
    note = (
        f"The passphrase in {crypto.ENV_PASSPHRASE} does not open it."
        if crypto.passphrase_from_env()
        else ""
    )
    return ask_passphrase(db_path, note, intro=intro)


class PassphraseCancelled(Exception):
    """The person cancelled the passphrase dialog at start: chatapp quits, touching nothing."""


def start_key(db_path: Path) -> str | None:
    """The key to open the database with at start. For one keyed by a passphrase:
    CHATAPP_PASSPHRASE when it is right, else the passphrase dialog before the window opens
    (it says a wrong one and asks again; Cancel raises PassphraseCancelled)."""
    from chatapp.store import crypto
    from chatapp.store.db import kept_key_that_opens

    try:
        return crypto.key_for(db_path)
    except crypto.PassphraseNeeded:
        pass
    key = passphrase_from_env(db_path) or kept_key_that_opens(db_path)
    if key is not None:
        return key
    note = (
        f"The passphrase in {crypto.ENV_PASSPHRASE} does not open it."
        if crypto.passphrase_from_env()
        else ""
    )
    from chatapp.ui.passphrase_dialog import ask_passphrase

    key = ask_passphrase(db_path, note)
    if key is None:
        raise PassphraseCancelled
    return key


def passphrase_from_env(db_path: Path) -> str | None:
    """The key from CHATAPP_PASSPHRASE when it is set and opens the database, else None."""
    from chatapp.store import crypto
    from chatapp.store.db import key_opens

    given = crypto.passphrase_from_env()
    if not given or crypto.state(db_path) == "plain":
        return None
    key = crypto.key_from_passphrase(db_path, given)
    return key if key_opens(db_path, key) else None


def _damaged(root: Path, db_path: Path, exc: DatabaseCorrupt):  # type: ignore[no-untyped-def]
    """A damaged database (or one without its key): offer the latest backup, never write
    over the file."""
    from PySide6.QtWidgets import QMessageBox

    from chatapp.store import Store
    from chatapp.store import backup as backups

    found = backups.backups(paths.backups_dir(root))
    if not found:
        QMessageBox.critical(
            None, "chatapp", f"{exc.message}\n\nNo backup was found in {paths.backups_dir(root)}."
        )
        return None
    answer = QMessageBox.question(
        None,
        "chatapp",
        f"{exc.message}\n\nRestore the latest backup ({found[0].name})? "
        "The damaged file is kept beside it.",
    )
    if answer != QMessageBox.StandardButton.Yes:
        return None
    aside = backups.restore(db_path, found[0])
    log.warning("damaged database kept as %s", aside)
    try:
        return Store.open(db_path, start_key(db_path))
    except PassphraseCancelled:
        return None
    except StorageError as again:
        QMessageBox.critical(None, "chatapp", str(again))
        return None


def convert_if_requested(root: Path, store, jobs: Jobs | None = None):  # type: ignore[no-untyped-def]
    """Run the conversion Settings ▸ Privacy asked for, before anything else uses the
    database: a new passphrase is asked first (Cancel: nothing changes), then the checked
    conversion runs on a thread behind a progress dialog. Returns the Store to use, reopened
    under its new key, or the old one unchanged when it could not be done (said)."""
    from PySide6.QtCore import QEventLoop, Qt, QTimer
    from PySide6.QtWidgets import QMessageBox, QProgressDialog

    from chatapp.store import Store, convert

    db_path = store.db_path
    target = convert.take_request(db_path)
    if target is None:
        return store
    passphrase = None
    if target == "passphrase":
        from chatapp.ui.passphrase_dialog import PassphraseDialog

        dialog = PassphraseDialog(db_path, new=True)
        dialog.exec()
        if dialog.passphrase is None:
            log.info("no passphrase chosen: the database was left as it was")
            return store
        passphrase = dialog.passphrase
    key = store.key
    store.close()
    progress = QProgressDialog("Converting your conversations and their backups…", "", 0, 0)
    progress.setCancelButton(None)  # a conversion stops only at its safe points
    progress.setWindowModality(Qt.WindowModality.ApplicationModal)
    progress.setMinimumDuration(0)
    progress.show()
    outcome: dict[str, object] = {}

    def work(_job: Job) -> None:
        try:
            outcome["key"] = convert.run(
                db_path,
                paths.backups_dir(root),
                target,
                key,
                passphrase=passphrase,
                progress=lambda done, total: outcome.update(done=done, total=total),
            )
        except (StorageError, OSError) as exc:
            outcome["error"] = str(exc)

    from chatapp.workers.jobs import Jobs

    own_jobs = jobs is None
    pool = Jobs(workers=1) if jobs is None else jobs
    worker = pool.run(work, name="Converting the database")
    loop = QEventLoop()
    timer = QTimer()

    def poll() -> None:
        if "total" in outcome:
            progress.setMaximum(int(outcome["total"]))  # type: ignore[call-overload]
            progress.setValue(int(outcome["done"]))  # type: ignore[call-overload]
        if worker.finished.is_set():
            loop.quit()

    timer.timeout.connect(poll)
    timer.start(50)
    loop.exec()
    timer.stop()
    worker.finished.wait()
    if own_jobs:
        pool.shutdown(wait=True)
    progress.close()
    if "error" in outcome:
        QMessageBox.warning(None, "chatapp", f"{outcome['error']}\n\nchatapp goes on as before.")
        return Store.open(db_path, key)
    log.info("the database was converted (%s)", target)
    return Store.open(db_path, outcome["key"])  # type: ignore[arg-type]


def restart() -> None:
    """Start chatapp again the way it was started (Settings ▸ Privacy's conversion runs at
    start, with the database closed)."""
    if getattr(sys, "frozen", False):
        argv = [sys.executable, *sys.argv[1:]]
    else:
        argv = [sys.executable, *sys.orig_argv[1:]]
    logging.shutdown()
    os.execv(sys.executable, argv)


def start_daily_backup(jobs: Jobs, root: Path, key: str | None = None) -> Job:
    """Back up once a day as a background job (the copy is consistent while the app writes);
    the quit waits for it (`jobs.shutdown`) before the app's own quit backup."""
    from chatapp.store import backup as backups

    def run(_job: Job) -> None:
        try:
            backups.daily_backup(paths.database_path(root), paths.backups_dir(root), key=key)
        except (StorageError, OSError) as exc:  # logged here: the loop may be gone by then
            log.warning("daily backup failed: %s", exc)

    return jobs.run(run, name="The daily backup")


if __name__ == "__main__":
    raise SystemExit(main())
