"""Store figures on a large database: open a long thread, search, append, size per message.

Builds 1,000 threads and 1,000,000 messages (one thread of 100,000) in a
temporary folder through the store's own schema (`store.bulk`: the SQL stays in the store),
then measures the operations the GUI performs, through the Store's own methods. With both
modes, plain and encrypted rounds alternate in one process (the machine may be shared), and
each figure is given in CPU time as well as wall time.

Where encrypted time goes: the pages each append writes are counted from the write-ahead
log, and SQLCipher's page codec is timed alone (the same library with and without a key), so
the table shows how much of an append the codec takes and the best ratio it leaves.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from chatapp.bench.report import table, write_json
from chatapp.domain import Role
from chatapp.store import Store, bulk, crypto

WORDS = [
    "the",
    "a",
    "to",
    "and",
    "of",
    "in",
    "is",
    "you",
    "that",
    "it",
    "for",
    "on",
    "with",
    "as",
    "was",
    "be",
    "this",
    "have",
    "are",
    "or",
    "not",
    "but",
    "at",
    "from",
    "by",
    "they",
    "we",
    "say",
    "her",
    "she",
    "will",
    "my",
    "one",
    "all",
    "would",
    "there",
    "their",
    "what",
    "so",
    "up",
    "out",
    "if",
    "about",
    "who",
    "get",
    "which",
    "go",
    "me",
    "when",
    "make",
    "can",
    "like",
    "time",
    "no",
    "just",
    "him",
    "know",
    "take",
    "people",
    "into",
    "year",
    "your",
    "good",
    "some",
    "could",
    "them",
    "see",
    "other",
    "than",
    "then",
    "now",
    "look",
    "only",
    "come",
    "its",
    "over",
    "think",
    "also",
    "back",
    "after",
    "use",
    "two",
    "how",
    "our",
    "work",
    "first",
    "well",
    "way",
    "even",
    "new",
    "want",
    "because",
    "any",
    "these",
    "give",
    "day",
    "most",
    "lisbon",
    "berlin",
    "pasta",
    "garden",
    "violin",
    "python",
    "river",
    "doctor",
    "birthday",
    "marathon",
    "recipe",
    "guitar",
    "holiday",
    "sister",
    "brother",
    "kitchen",
    "project",
    "meeting",
    "coffee",
    "weekend",
    "mountain",
    "ocean",
    "library",
]


def fill(store: Store, threads: int, messages: int, long_thread: int, rng: random.Random) -> int:
    """Bulk-load through the store's schema (triggers included); returns the long thread's id."""
    now = time.time() - 86400 * 60
    bulk.load_threads(store, [(i + 1, f"thread {i + 1}", now, now + i) for i in range(threads)])
    per_thread = [long_thread] + [(messages - long_thread) // (threads - 1)] * (threads - 1)
    next_id = 1
    for tid, count in enumerate(per_thread, start=1):
        rows: list[bulk.MessageRow] = []
        for depth in range(count):
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 40)))
            role = "user" if depth % 2 == 0 else "assistant"
            parent = next_id - 1 if depth else None
            rows.append((next_id, tid, parent, depth, role, text, now + depth * 30, now))
            next_id += 1
        bulk.load_messages(store, rows)
    bulk.settle(store)
    return 1


class Clock:
    """Wall time and this process's CPU time together: the machine may be shared, and CPU
    time is what the other processes disturb least."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def ms(self) -> tuple[float, float]:
        return (time.perf_counter() - self.wall) * 1000, (time.process_time() - self.cpu) * 1000


def build(folder: Path, mode: str, key: str | None, args: argparse.Namespace) -> tuple[Path, float]:
    rng = random.Random(7)  # the same messages in both modes
    path = folder / f"{mode}.sqlite3"
    store = Store.open(path, key)
    t0 = time.perf_counter()
    fill(store, args.threads, args.messages, args.long, rng)
    store.close()
    return path, time.perf_counter() - t0


def round_of(path: Path, key: str | None, args: argparse.Namespace, seed: int) -> dict[str, float]:
    """One round of what the GUI does, each figure in wall and CPU milliseconds."""
    out: dict[str, list[tuple[float, float]]] = {"open": [], "page": [], "search": []}
    page: list = []
    for _ in range(3):  # a fresh connection, as at start-up, then the thread's newest page
        clock = Clock()
        store = Store.open(path, key)
        store.thread(1)
        page = store.last_messages(1, 50)
        out["open"].append(clock.ms())
        store.close()
    if len(page) != 50:
        raise RuntimeError(f"the long thread's last page has {len(page)} messages, not 50")
    store = Store.open(path, key)
    for _ in range(10):
        clock = Clock()
        store.last_messages(1, 50)
        out["page"].append(clock.ms())
    rng = random.Random(seed)  # the same queries in both modes
    for _ in range(args.queries):
        query = f"{rng.choice(WORDS[-30:])} {rng.choice(WORDS[-30:])}"
        clock = Clock()
        store.search(query)
        out["search"].append(clock.ms())
    target = store.create_thread("append")
    clock = Clock()
    for n in range(args.appends):
        store.add_message(target.id, Role.USER, f"a new message {n}")
    wall, cpu = clock.ms()
    written = bulk.pages_written(
        store,
        lambda: [
            store.add_message(target.id, Role.USER, f"a counted message {n}") for n in range(50)
        ],
    )
    bulk.checkpoint(store)
    size, total = path.stat().st_size, bulk.message_count(store)
    store.close()
    figures = {
        "appends_per_s": args.appends / wall * 1000,
        "appends_per_cpu_s": args.appends / cpu * 1000,
    }
    for name, values in out.items():
        for kind, index in (("wall", 0), ("cpu", 1)):
            series = sorted(v[index] for v in values)
            figures[f"{name}_{kind}_ms_median"] = statistics.median(series)
            figures[f"{name}_{kind}_ms_p95"] = series[max(0, int(len(series) * 0.95) - 1)]
    figures["bytes_per_message"] = size / total
    figures["pages_per_append"] = written / 50
    figures["messages"] = total
    return figures


CODEC_PAGES = 400  # one-page rows per scratch commit: within SQLite's default page cache


def codec_cost_us(folder: Path, key: str, rounds: int = 5) -> dict[str, float]:
    """What SQLCipher's page codec alone costs, in CPU microseconds per 4 KiB page: the same
    library with and without a key writes CODEC_PAGES one-page rows in one commit and reads
    them back on a fresh connection, in turn. Written: AES-256-CBC encryption, a random IV
    and HMAC-SHA512 per page; read: the HMAC check and decryption. Everything else (SQLite,
    the disk) is the same on both sides and cancels out."""
    times: dict[tuple[str, bool], list[float]] = {}
    for n in range(rounds):
        for keyed in (True, False) if n % 2 == 0 else (False, True):
            path = folder / f"codec-{n}-{int(keyed)}.sqlite3"
            conn = bulk.codec_scratch(path, key if keyed else None)
            clock = Clock()
            bulk.write_pages(conn, CODEC_PAGES)
            write_cpu = clock.ms()[1]
            frames = bulk.log_frames(conn)
            conn.close()
            conn = bulk.codec_scratch(path, key if keyed else None)
            clock = Clock()
            read = bulk.read_pages(conn)
            read_cpu = clock.ms()[1]
            conn.close()
            times.setdefault(("write", keyed), []).append(write_cpu * 1000 / frames)
            times.setdefault(("read", keyed), []).append(read_cpu * 1000 / read)
    return {
        kind: statistics.median(times[(kind, True)]) - statistics.median(times[(kind, False)])
        for kind in ("write", "read")
    }


def kdf_cost_ms(rounds: int = 3) -> tuple[float, float]:
    """What a passphrase costs once per start (wall, CPU ms): SQLCipher's key derivation
    (PBKDF2-HMAC-SHA512, 256,000 iterations); a raw key costs none of it."""
    salt = bytes(16)
    times = []
    for _ in range(rounds):
        clock = Clock()
        crypto.derive_key("a passphrase of some length", salt)
        times.append(clock.ms())
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


# figure, label, target, whether more is better (the ratio is encrypted speed / plain speed)
ROWS = [
    ("open_cpu_ms_median", "open + last 50 of the long thread (CPU ms, median)", "< 50", False),
    ("open_wall_ms_median", "open + last 50 of the long thread (wall ms, median)", "< 50", False),
    ("page_cpu_ms_median", "last 50 again, warm (CPU ms, median)", "", False),
    ("search_cpu_ms_median", "FTS two-word query (CPU ms, median)", "< 100", False),
    ("search_cpu_ms_p95", "FTS two-word query (CPU ms, p95)", "", False),
    ("search_wall_ms_median", "FTS two-word query (wall ms, median)", "< 100", False),
    ("search_wall_ms_p95", "FTS two-word query (wall ms, p95)", "", False),
    ("appends_per_cpu_s", "messages appended per CPU second", "", True),
    ("appends_per_s", "messages appended per wall second", "", True),
    ("bytes_per_message", "database bytes per message", "", False),
    ("pages_per_append", "pages written per append (log frames, 50 counted)", "", False),
]
NO_RATIO = {"bytes_per_message", "pages_per_append"}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m chatapp.bench store")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--threads", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--long", type=int, default=100_000, help="messages in the long thread")
    parser.add_argument("--queries", type=int, default=50, help="searches per round")
    parser.add_argument("--appends", type=int, default=500, help="messages appended per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, plain and encrypted in turn")
    parser.add_argument(
        "--mode",
        choices=("both", "plain", "encrypted"),
        default="both",
        help="plain SQLite, SQLCipher (a random raw key, as chatapp uses), or both in one run, "
        "interleaved round by round, with the ratio (default)",
    )
    parser.add_argument("--encrypted", action="store_const", const="encrypted", dest="mode")
    args = parser.parse_args(argv)
    modes = ["plain", "encrypted"] if args.mode == "both" else [args.mode]
    keys = {"plain": None, "encrypted": crypto.new_key()}
    per_round: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory(prefix="chatapp-bench-") as tmp:
        built = {mode: build(Path(tmp), mode, keys[mode], args) for mode in modes}
        for n in range(args.rounds):
            order = modes if n % 2 == 0 else modes[::-1]  # neither always goes first
            for mode in order:
                per_round[mode].append(round_of(built[mode][0], keys[mode], args, seed=n))
        codec = codec_cost_us(Path(tmp), keys["encrypted"]) if "encrypted" in modes else {}
    results = {
        mode: {name: statistics.median(r[name] for r in rounds) for name in rounds[0]}
        for mode, rounds in per_round.items()
    }
    for mode, rounds in per_round.items():
        results[mode]["messages"] = rounds[-1]["messages"]  # after every round's appends
    headers = ["figure", *modes]
    if len(modes) == 2:
        headers.append("encrypted speed / plain")
    headers.append("target")
    rows = []
    ratios: dict[str, float] = {}
    for name, label, target, more_is_better in ROWS:
        row: list[object] = [label, *(results[m][name] for m in modes)]
        if len(modes) == 2:
            plain, enc = results["plain"][name], results["encrypted"][name]
            ratio = (enc / plain if more_is_better else plain / enc) if plain and enc else 0.0
            ratios[name] = ratio
            row.append(ratio if name not in NO_RATIO else "")
            target = f"{target} (ratio >= 0.8)" if name not in NO_RATIO else target
        row.append(target)
        rows.append(row)

    def encrypted_only(label: str, value: float, ratio: object = "") -> None:
        if "encrypted" in modes:
            row = [label, *("" if m == "plain" else value for m in modes)]
            rows.append([*row, ratio, ""] if len(modes) == 2 else [*row, ""])

    kdf_wall, kdf_cpu = kdf_cost_ms()
    for label, value in (("CPU", kdf_cpu), ("wall", kdf_wall)):
        encrypted_only(f"passphrase key derivation, once per start ({label} ms)", value)
    ceiling = 0.0
    if codec:
        encrypted_only("page codec: CPU µs per 4 KiB page written", codec["write"])
        encrypted_only("page codec: CPU µs per 4 KiB page read", codec["read"])
        codec_ms = results["encrypted"]["pages_per_append"] * codec["write"] / 1000
        encrypted_ms = 1000 / results["encrypted"]["appends_per_cpu_s"]
        if len(modes) == 2:
            plain_ms = 1000 / results["plain"]["appends_per_cpu_s"]
            ceiling = plain_ms / (plain_ms + codec_ms)
        encrypted_only(
            "appends: page codec's CPU ms each (pages x µs); best ratio", codec_ms, ceiling or ""
        )
        encrypted_only(
            "appends: the page codec's share of an append's CPU", codec_ms / encrypted_ms
        )
    total = int(results[modes[0]]["messages"])
    build_s = sum(b[1] for b in built.values())
    print(
        table(
            f"store: {total:,} messages in {args.threads:,} threads, {args.long:,} in the long "
            f"one (built in {build_s:.0f} s); medians of {args.rounds} interleaved rounds",
            headers,
            rows,
        )
    )
    write_json(
        args.json,
        {
            **results[modes[0]],
            "modes": results,
            "rounds": per_round,
            "encrypted_over_plain": ratios,
            "passphrase_kdf_ms": kdf_wall,
            "passphrase_kdf_cpu_ms": kdf_cpu,
            "codec_cpu_us_per_page": codec,
            "appends_ratio_ceiling_from_codec": ceiling,
        },
    )
    return 0
