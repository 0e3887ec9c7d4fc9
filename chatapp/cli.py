"""Command-line export and import, usable without a display.

    chatapp export --thread ID | --all  --format md|json|html|pdf|txt  -o PATH
    chatapp import PATH
    chatapp list
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from chatapp.config import paths
from chatapp.errors import UserFacingError
from chatapp.export import FORMATS

COMMANDS = ("export", "import", "list")


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="chatapp")
    sub = parser.add_subparsers(dest="command", required=True)
    exp = sub.add_parser("export", help="write threads to a file")
    which = exp.add_mutually_exclusive_group(required=True)
    which.add_argument("--thread", type=int, metavar="ID")
    which.add_argument("--all", action="store_true")
    exp.add_argument("--format", choices=FORMATS, required=True)
    exp.add_argument("-o", "--output", required=True, metavar="PATH",
                     help="a file; with --all and a format other than json, a folder")
    exp.add_argument("--data-dir", metavar="DIR")
    imp = sub.add_parser("import", help="import a chatapp JSON export or ChatGPT's conversations.json")
    imp.add_argument("path")
    imp.add_argument("--data-dir", metavar="DIR")
    lst = sub.add_parser("list", help="the threads, with the ids export --thread takes")
    lst.add_argument("--data-dir", metavar="DIR")
    args = parser.parse_args(list(argv))

    from chatapp.store import Store

    try:
        store = Store.open(paths.database_path(paths.data_dir(args.data_dir)))
    except UserFacingError as exc:
        print(f"chatapp: {exc}", file=sys.stderr)
        return 1
    try:
        if args.command == "export":
            return _export(store, args)
        if args.command == "list":
            for thread in store.threads():
                when = time.strftime("%Y-%m-%d %H:%M", time.localtime(thread.updated_at))
                print(f"{thread.id:>6}  {when}  {store.path_length(thread.id):>6} messages  {thread.title or 'New chat'}")
            return 0
        return _import(store, Path(args.path))
    except UserFacingError as exc:
        print(f"chatapp: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()


def _export(store, args) -> int:  # type: ignore[no-untyped-def]
    from chatapp.export.writer import export_threads

    out = Path(args.output)
    if args.thread is not None:
        try:
            store.thread(args.thread)
        except KeyError:
            print(f"chatapp: there is no thread {args.thread} (see `chatapp export --all`).", file=sys.stderr)
            return 1
        export_threads(store, [args.thread], args.format, out)
        print(f"wrote {out}")
        return 0
    ids = [t.id for t in store.threads()]
    if args.format == "json":
        export_threads(store, ids, "json", out)
        print(f"wrote {len(ids)} threads to {out}")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    for thread in store.threads():
        name = re.sub(r"[^\w\- ]+", "", thread.title or "chat").strip()[:60] or "chat"
        target = out / f"{thread.id:05d} {name}.{args.format}"
        export_threads(store, [thread.id], args.format, target)
    print(f"wrote {len(ids)} files to {out}")
    return 0


def _import(store, path: Path) -> int:  # type: ignore[no-untyped-def]
    from chatapp.export.importers import import_file

    created = import_file(store, path)
    print(f"imported {len(created)} thread(s) from {path}")
    return 0
