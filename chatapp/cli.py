"""Command-line export and import, usable without a display.

    chatapp export --thread ID | --all  --format md|json|html|pdf|txt  -o PATH
    chatapp import PATH
    chatapp list
    chatapp encrypt | decrypt

`encrypt` and `decrypt` convert the database and its backups (chatapp must be closed): the
other copy is written and checked before it takes the database's place. A database keyed by
a passphrase takes it from CHATAPP_PASSPHRASE, else asks at the terminal.

`list` and `export` only read: they open the database read-only when they can,
so a read-only file or folder, a full disk or a file-size limit does not keep
a person from rescuing their threads (and a failure names the output file,
not the database).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from chatapp.config import paths
from chatapp.errors import DatabaseCorrupt, DatabaseTooNew, StorageError, UserFacingError
from chatapp.export import FORMATS
from chatapp.timestamps import format_local

# what each subcommand does: its --help line, and the window's `chatapp --help` lists them all
HELP = {
    "export": "write threads to a file",
    "import": "import a chatapp JSON export or ChatGPT's conversations.json",
    "list": "the threads, with the ids export --thread takes",
    "encrypt": "encrypt the database and its backups (key in the keyring or a key file)",
    "decrypt": "write the database and its backups back as plain SQLite",
}
COMMANDS = tuple(HELP)


def commands_help() -> str:
    """The subcommands and what each does, for the window's `chatapp --help` (its own parser
    knows only the window's options; it named two commands of five)."""
    width = max(map(len, HELP))
    lines = [f"  chatapp {name.ljust(width)}  {text}" for name, text in HELP.items()]
    return "commands (each with --help):\n" + "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    return _run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatapp")
    sub = parser.add_subparsers(dest="command", required=True)
    exp = sub.add_parser("export", help=HELP["export"])
    which = exp.add_mutually_exclusive_group(required=True)
    which.add_argument("--thread", type=int, metavar="ID")
    which.add_argument("--all", action="store_true")
    exp.add_argument("--format", choices=FORMATS, required=True)
    exp.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="PATH",
        help="a file; with --all and a format other than json, a folder",
    )
    exp.add_argument("--data-dir", metavar="DIR")
    imp = sub.add_parser("import", help=HELP["import"])
    imp.add_argument("path")
    imp.add_argument("--data-dir", metavar="DIR")
    lst = sub.add_parser("list", help=HELP["list"])
    lst.add_argument("--data-dir", metavar="DIR")
    for name in ("encrypt", "decrypt"):
        conv = sub.add_parser(name, help=HELP[name])
        conv.add_argument("--data-dir", metavar="DIR")
    sub.choices["encrypt"].add_argument(
        "--passphrase",
        action="store_true",
        help="derive the key from a passphrase asked at every start (at a terminal, or "
        "CHATAPP_PASSPHRASE) instead of keeping a random key",
    )
    return parser


def _run(args: argparse.Namespace) -> int:
    from chatapp.store import backup

    try:
        root = paths.data_dir(args.data_dir)
        db = paths.database_path(root)
        lost = backup.missing_with_backups(db, paths.backups_dir(root))
        if lost:
            print(
                f"chatapp: {lost} Nothing was done: start chatapp (the window) to restore the "
                "latest backup, or move the backups away to start with an empty database.",
                file=sys.stderr,
            )
            return 1
        if args.command in ("encrypt", "decrypt"):
            return _convert(args, db, paths.backups_dir(root))
        key = key_for_command(db)
        store = _open_for_reading(db, key) if args.command in ("list", "export") else _open(db, key)
    except UserFacingError as exc:
        print(f"chatapp: {exc}", file=sys.stderr)
        return 1
    try:
        if args.command == "export":
            return _export(store, args)
        if args.command == "list":
            for thread in store.threads():
                when = format_local(thread.updated_at, "%Y-%m-%d %H:%M", "????-??-?? ??:??")
                print(
                    f"{thread.id:>6}  {when}  {store.path_length(thread.id):>6} messages  "
                    f"{thread.title or 'New chat'}"
                )
            return 0
        return _import(store, Path(args.path))
    except UserFacingError as exc:
        print(f"chatapp: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()


def _convert(args: argparse.Namespace, db: Path, backups: Path) -> int:
    from chatapp.store import convert, crypto

    if crypto.state(db) == "missing":
        print(f"chatapp: there is no database at {db}; nothing was done.", file=sys.stderr)
        return 1
    if args.command == "encrypt":
        passphrase = new_passphrase() if args.passphrase else None
        where = convert.encrypt(db, backups, passphrase=passphrase)
        if where == crypto.PASSPHRASE:
            print(f"encrypted {db} and its backups under your passphrase; it is asked at start")
            return 0
        print(f"encrypted {db} and its backups; the key is kept in {where}")
        if where != "keyring":
            print(
                "  no keyring works here, so the key is in a file only you can read: weaker than "
                "a keyring (anyone who can read your files can read the key). "
                "`chatapp encrypt --passphrase` on a plain database asks for a passphrase instead."
            )
    else:
        convert.decrypt(db, backups, key=key_for_command(db))
        print(f"decrypted {db} and its backups: they are plain SQLite files again")
    return 0


def key_for_command(db: Path) -> str | None:
    """The database's key; for one keyed by a passphrase, CHATAPP_PASSPHRASE, else asked at
    the terminal (three tries). A wrong one opens nothing and changes nothing."""
    import getpass

    from chatapp.store import crypto
    from chatapp.store.db import kept_key_that_opens, key_opens

    try:
        key = crypto.key_for(db)
    except crypto.PassphraseNeeded as exc:
        needed = exc
    except crypto.KeyMissing as exc:
        return _passphrase_for_lost_mark(db, exc)
    else:
        if key is None or key_opens(db, key):
            return key
        return _passphrase_for_lost_mark(db, crypto.WrongKey(crypto.wrong_key_message(db)))
    kept = kept_key_that_opens(db)
    if kept is not None:
        return kept
    given = crypto.passphrase_from_env()
    if given is not None:
        key = crypto.key_from_passphrase(db, given)
        if not key_opens(db, key):
            raise StorageError(
                f"Wrong passphrase in {crypto.ENV_PASSPHRASE} for {db}; nothing was read or "
                "changed."
            )
        return key
    if not sys.stdin.isatty():
        raise StorageError(
            f"{needed.message} Set {crypto.ENV_PASSPHRASE}, or run this at a terminal to be "
            "asked for it; nothing was read or changed."
        )
    for _ in range(3):
        try:
            typed = getpass.getpass(f"Passphrase for {db}: ")
        except (EOFError, KeyboardInterrupt):
            break
        if typed:
            key = crypto.key_from_passphrase(db, typed)
            if key_opens(db, key):
                return key
        print("chatapp: wrong passphrase; try again.", file=sys.stderr)
    raise StorageError("No right passphrase was given; nothing was read or changed.")


def _passphrase_for_lost_mark(db: Path, exc: Exception) -> str:
    """No kept key opens the database: a passphrase database whose mark in chatapp.key-id
    was lost. CHATAPP_PASSPHRASE, when it opens the file, is used and the mark written again
    (what the missing key's message tells people to do); else `exc` is raised."""
    from chatapp.store import crypto
    from chatapp.store.db import key_opens

    given = crypto.passphrase_from_env()
    if given and crypto.whole_pages(db):
        key = crypto.key_from_passphrase(db, given)
        if key_opens(db, key):
            crypto.set_passphrase_mark(db, True)
            return key
    raise exc


def new_passphrase() -> str:
    """A new passphrase: CHATAPP_PASSPHRASE, or typed twice at the terminal."""
    import getpass

    from chatapp.store import crypto

    given = crypto.passphrase_from_env()
    if given:
        if len(given) < crypto.PASSPHRASE_MIN_LENGTH:  # set on purpose: warned, not refused
            warning = crypto.SHORT_PASSPHRASE.format(
                length=len(given), minimum=crypto.PASSPHRASE_MIN_LENGTH
            )
            print(f"chatapp: warning: {warning}", file=sys.stderr)
        return given
    if not sys.stdin.isatty():
        raise StorageError(
            f"A passphrase is needed: set {crypto.ENV_PASSPHRASE} or run this at a terminal; "
            "nothing was changed."
        )
    try:
        first = getpass.getpass("New passphrase: ")
        again = getpass.getpass("The same passphrase again: ")
    except (EOFError, KeyboardInterrupt):
        first, again = "", "-"
    if not first or first != again:
        raise StorageError("The two passphrases differ (or are empty); nothing was changed.")
    if len(first) < crypto.PASSPHRASE_MIN_LENGTH:
        print(
            crypto.SHORT_PASSPHRASE.format(length=len(first), minimum=crypto.PASSPHRASE_MIN_LENGTH)
        )
        try:
            keep = input("Use it anyway? [y/N] ").strip().lower() in ("y", "yes")
        except (EOFError, KeyboardInterrupt):
            keep = False
        if not keep:
            raise StorageError("No passphrase was set; nothing was changed.")
    return first


def _open(db: Path, key: str | None = None):  # type: ignore[no-untyped-def]
    from chatapp.store import Store

    return Store.open(db, key)


def _open_for_reading(db: Path, key: str | None = None):  # type: ignore[no-untyped-def]
    """Read-only when the database is current; else opened (and upgraded) as usual, falling
    back to read-only when it cannot be written."""
    from chatapp.store import Store
    from chatapp.store.crypto import KeyMissing, WrongKey
    from chatapp.store.db import open_read_only

    if not db.is_file() or db.stat().st_size == 0:
        return Store.open(db, key)
    try:
        return Store(db, open_read_only(db, key=key), key)
    except (KeyMissing, WrongKey):
        raise
    except StorageError:
        pass
    try:
        return Store.open(db, key)
    except (DatabaseCorrupt, DatabaseTooNew, KeyMissing, WrongKey):
        raise
    except StorageError as exc:
        store = Store(db, open_read_only(db, key=key), key)
        print(
            f"chatapp: the database cannot be written ({exc.message}); it was opened read-only.",
            file=sys.stderr,
        )
        return store


def _draw_pdf(store, thread_id, path, progress) -> None:  # type: ignore[no-untyped-def]
    """Qt draws PDFs (offscreen, no display needed); imported only when a PDF is asked for."""
    from chatapp.ui.pdf_export import write_pdf

    write_pdf(store, thread_id, path, progress)


def _export(store, args) -> int:  # type: ignore[no-untyped-def]
    from chatapp.export.writer import ExportFailed, export_threads

    out = Path(args.output)
    if args.thread is not None:
        try:
            store.thread(args.thread)
        except KeyError:
            print(
                f"chatapp: there is no thread {args.thread} (see `chatapp list`).", file=sys.stderr
            )
            return 1
        export_threads(store, [args.thread], args.format, out, pdf=_draw_pdf)
        print(f"wrote {out}")
        return 0
    ids = [t.id for t in store.threads()]
    if args.format == "json":
        export_threads(store, ids, "json", out)
        print(f"wrote {len(ids)} threads to {out}")
        return 0
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportFailed(
            f"{out} cannot be used as the folder for the exports ({exc.strerror or exc})."
        ) from exc
    for thread in store.threads():
        name = re.sub(r"[^\w\- ]+", "", thread.title or "chat").strip()[:60] or "chat"
        target = out / f"{thread.id:05d} {name}.{args.format}"
        export_threads(store, [thread.id], args.format, target, pdf=_draw_pdf)
    print(f"wrote {len(ids)} files to {out}")
    return 0


def _import(store, path: Path) -> int:  # type: ignore[no-untyped-def]
    from chatapp.export.importers import import_with_report

    report = import_with_report(store, path)
    print(f"imported {len(report.thread_ids)} thread(s) from {path}")
    for note in report.notes:
        print(f"  {note}")
    return 0
