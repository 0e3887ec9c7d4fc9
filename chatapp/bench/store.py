"""Store figures on a large database: open a long thread, search, append, size per message.

Builds 1,000 threads and 1,000,000 messages (one thread of 100,000) in a
temporary folder through the store's own schema, then measures the operations
the GUI performs.
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
from chatapp.store import Store, crypto

WORDS = ["the", "a", "to", "and", "of", "in", "is", "you", "that", "it", "for", "on", "with", "as", "was", "be", "this", "have", "are", "or", "not", "but", "at", "from", "by", "they", "we", "say", "her", "she", "will", "my", "one", "all", "would", "there", "their", "what", "so", "up", "out", "if", "about", "who", "get", "which", "go", "me", "when", "make", "can", "like", "time", "no", "just", "him", "know", "take", "people", "into", "year", "your", "good", "some", "could", "them", "see", "other", "than", "then", "now", "look", "only", "come", "its", "over", "think", "also", "back", "after", "use", "two", "how", "our", "work", "first", "well", "way", "even", "new", "want", "because", "any", "these", "give", "day", "most", "lisbon", "berlin", "pasta", "garden", "violin", "python", "river", "doctor", "birthday", "marathon", "recipe", "guitar", "holiday", "sister", "brother", "kitchen", "project", "meeting", "coffee", "weekend", "mountain", "ocean", "library"]


def fill(store: Store, threads: int, messages: int, long_thread: int, rng: random.Random) -> int:
    """Bulk-load through the store's schema (triggers included); returns the long thread's id."""
    conn = store._conn
    now = time.time() - 86400 * 60
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO threads (id, title, created_at, updated_at) VALUES (?, ?, ?, ?)",
        [(i + 1, f"thread {i + 1}", now, now + i) for i in range(threads)],
    )
    conn.execute("COMMIT")
    per_thread = [long_thread] + [(messages - long_thread) // (threads - 1)] * (threads - 1)
    next_id = 1
    for tid, count in enumerate(per_thread, start=1):
        rows = []
        for depth in range(count):
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 40)))
            rows.append(
                (next_id, tid, next_id - 1 if depth else None, depth,
                 "user" if depth % 2 == 0 else "assistant", text, now + depth * 30, now)
            )
            next_id += 1
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO messages (id, thread_id, parent_id, depth, role, content, created_at,"
            " selected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("ANALYZE")
    return 1


def measure(args: argparse.Namespace, key: str | None) -> dict[str, float]:
    """Build the database (encrypted when `key` is given) and time what the GUI does."""
    rng = random.Random(7)  # the same messages and queries in both modes
    with tempfile.TemporaryDirectory(prefix="chatapp-bench-") as tmp:
        path = Path(tmp) / "bench.sqlite3"
        store = Store.open(path, key)
        t0 = time.perf_counter()
        long_id = fill(store, args.threads, args.messages, args.long, rng)
        build_s = time.perf_counter() - t0
        store.close()

        # opening: a fresh connection, as at start-up, then the thread's newest page
        open_ms = []
        for _ in range(5):
            t0 = time.perf_counter()
            store = Store.open(path, key)
            store.thread(long_id)
            page = store.last_messages(long_id, 50)
            open_ms.append((time.perf_counter() - t0) * 1000)
            store.close()
        if len(page) != 50:
            raise RuntimeError(f"the long thread's last page has {len(page)} messages, not 50")
        store = Store.open(path, key)
        page_ms = []
        for _ in range(20):
            t0 = time.perf_counter()
            store.last_messages(long_id, 50)
            page_ms.append((time.perf_counter() - t0) * 1000)

        search_ms = []
        hits = []
        for _ in range(args.queries):
            query = f"{rng.choice(WORDS[-30:])} {rng.choice(WORDS[-30:])}"
            t0 = time.perf_counter()
            hits.append(len(store.search(query)))
            search_ms.append((time.perf_counter() - t0) * 1000)

        t0 = time.perf_counter()
        appended = 0
        target = store.create_thread("append")
        while time.perf_counter() - t0 < 3.0:
            store.add_message(target.id, Role.USER, "a new message " + str(appended))
            appended += 1
        append_rate = appended / (time.perf_counter() - t0)
        store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = path.stat().st_size
        total = store._conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        store.close()

    return {
        "threads": args.threads,
        "messages": total,
        "long_thread_messages": args.long,
        "build_s": build_s,
        "open_long_thread_last50_ms_median": statistics.median(open_ms),
        "last50_page_ms_median": statistics.median(page_ms),
        "search_two_words_ms_median": statistics.median(search_ms),
        "search_two_words_ms_p95": sorted(search_ms)[int(len(search_ms) * 0.95) - 1],
        "search_hits_median": statistics.median(hits),
        "append_messages_per_s": append_rate,
        "bytes_per_message": size / total,
    }


# figure, label, target, whether more is better (the ratio is encrypted speed / plain speed)
ROWS = [
    ("open_long_thread_last50_ms_median", "open + last 50 of the long thread (ms, median)", "< 50", False),
    ("last50_page_ms_median", "last 50 again, warm (ms, median)", "", False),
    ("search_two_words_ms_median", "FTS two-word query (ms, median)", "< 100", False),
    ("search_two_words_ms_p95", "FTS two-word query (ms, p95)", "", False),
    ("append_messages_per_s", "messages appended per second", "", True),
    ("bytes_per_message", "database bytes per message", "", False),
]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m chatapp.bench store")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--threads", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--long", type=int, default=100_000, help="messages in the long thread")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument(
        "--mode",
        choices=("both", "plain", "encrypted"),
        default="both",
        help="plain SQLite, SQLCipher (a random raw key, as chatapp uses), or both in one run "
        "with the ratio (default)",
    )
    parser.add_argument("--encrypted", action="store_const", const="encrypted", dest="mode")
    args = parser.parse_args(argv)
    modes = ["plain", "encrypted"] if args.mode == "both" else [args.mode]
    results = {mode: measure(args, crypto.new_key() if mode == "encrypted" else None) for mode in modes}
    first = results[modes[0]]
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
            row.append(ratio if name != "bytes_per_message" else "")
            target = f"{target} (ratio >= 0.8)" if name != "bytes_per_message" else target
        row.append(target)
        rows.append(row)
    total, build = first["messages"], sum(r["build_s"] for r in results.values())
    print(
        table(
            f"store: {total:,} messages in {args.threads:,} threads, {args.long:,} in the long "
            f"one (built in {build:.0f} s)",
            headers,
            rows,
        )
    )
    write_json(args.json, {**first, "modes": results, "encrypted_over_plain": ratios})
    return 0
