"""Memory benchmark on LoCoMo-format conversations: evidence recall of the context builder.

    python -m chatapp.bench memory --data FILE --budget 2048 [--baseline recent --baseline bm25]

Each conversation is ingested into a fresh temporary store through the app's own
path (store, embeddings, memory slots, facts read by the model when it has 1B+
parameters; summaries with --summaries), each session's
date as the messages' time. Each question is asked at the end of its conversation:
the app's context builder assembles its context under B tokens for the memory part,
counted with the default model's tokenizer (or --model's), at the question's date when the data
gives one (never before the history ends), as the first turn after the thread is
opened (no recall block kept from an earlier turn). The row "chatapp, in a row" asks
the same questions one after another in one builder, as a user would in one sitting,
so a recall block kept for one question may serve the next (see the builder's
keep_coverage); it shows what keeping the prompt cacheable costs.

A question's score is the fraction of its evidence turns the context carries (the
turn's text verbatim, or a memory slot whose sources include the turn); a second table
says where the rest was lost (not ranked by recall, ranked but left out for room, shown
only as an excerpt). The dataset's observations and summaries are never read.

With --scale N, every N samples of the file become one thread (all their sessions in
date order, turn ids and evidence renumbered so they stay unique) and each sample's
questions are asked at its end: recall and build time at N times the history. With
--vectors DIR, message vectors computed once are read back from DIR in later runs
(the ingest figure then leaves out the embedding of those; queries are always embedded).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from chatapp.bench.report import table, write_json

CATEGORIES = ["1", "2", "3", "4", "5"]
_EVIDENCE = re.compile(r"D(\d+):(\d+)")


def parse_when(text: str) -> float:
    """'1:56 pm on 8 May, 2023' → epoch seconds (local time)."""
    cleaned = text.replace(",", "").strip()
    for fmt in ("%I:%M %p on %d %B %Y", "%I:%M %p on %d %b %Y"):
        try:
            return dt.datetime.strptime(cleaned, fmt).timestamp()
        except ValueError:
            continue
    raise ValueError(f"unreadable session date: {text!r}")


def asked_at(qa: dict[str, Any], after: float) -> float:
    """When a question is asked: at its `question_date` when the data gives one (LongMemEval:
    "2023/05/05 (Fri) 16:42"; "two weeks ago" means two weeks before that), but never before
    `after` (the end of the history it is asked after)."""
    text = str(qa.get("question_date") or "").strip()
    try:
        return max(after, dt.datetime.strptime(text, "%Y/%m/%d (%a) %H:%M").timestamp())
    except ValueError:
        return after


ROLE_SPEAKERS = {"user", "assistant"}


def turn_text(turn: dict[str, Any]) -> str:
    """A turn as the app would store it. A conversation between named people (LoCoMo) keeps
    who speaks in the text, as a group chat pasted into the app would; a user–assistant
    history (LongMemEval: the speakers are "user" and "assistant") does not, since the app
    stores a message without its role and the builder adds "User:"/"Assistant:" itself
    (with the prefix every recalled line read "User: user: …", and each message's vector
    and fact reading saw a word the app never stores)."""
    if str(turn.get("speaker", "")).lower() in ROLE_SPEAKERS:
        text = str(turn.get("text", ""))
    else:
        text = f"{turn['speaker']}: {turn.get('text', '')}"
    if turn.get("blip_caption"):
        text += f" [shares a photo: {turn['blip_caption']}]"
    return text


def normalise_evidence(raw: list[str], known: set[str]) -> tuple[list[str], int]:
    """Evidence ids split and cleaned; the count of those that could not be used."""
    found: list[str] = []
    skipped = 0
    for item in raw or []:
        pieces = re.split(r"[;,\s]+", str(item).strip())
        for piece in pieces:
            if not piece:
                continue
            m = _EVIDENCE.fullmatch(piece.replace("D:", "D"))
            if m and f"D{m.group(1)}:{m.group(2)}" in known:
                found.append(f"D{m.group(1)}:{m.group(2)}")
            else:
                skipped += 1
    return list(dict.fromkeys(found)), skipped


def sessions(conv: dict[str, Any]) -> list[tuple[int, float, list[dict[str, Any]]]]:
    out = []
    for key, value in conv.items():
        m = re.fullmatch(r"session_(\d+)", key)
        if m and isinstance(value, list) and value:
            when = conv.get(f"session_{m.group(1)}_date_time")
            if when:
                out.append((int(m.group(1)), parse_when(when), value))
    return sorted(out)


def is_user(turn: dict[str, Any], conv: dict[str, Any]) -> bool:
    """A merged sample (merge_samples) says so per turn; otherwise speaker_a is the user."""
    role = turn.get("role")
    return role == "user" if role else turn["speaker"] == conv.get("speaker_a")


SESSION_GAP = 60.0  # seconds between two merged sessions that were given the same time


def merge_samples(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """One LoCoMo-layout sample holding all sessions of `samples` in date order (ties in
    the order of the samples; a session that would start before the previous one ends,
    30 s a turn as ingested, starts SESSION_GAP after it). Turn ids become D<new session>:<turn>,
    each question's evidence follows its turns, each turn says whose user it is."""
    found = []
    for n, sample in enumerate(samples):
        conv = sample["conversation"]
        for number, when, turns in sessions(conv):
            found.append((when, n, number, turns, conv))
    found.sort(key=lambda item: (item[0], item[1], item[2]))
    merged: dict[str, Any] = {}
    renamed: list[dict[str, str]] = [{} for _ in samples]
    free_at = 0.0
    for new, (when, n, _number, turns, conv) in enumerate(found, start=1):
        when = max(when, 60 * math.ceil(free_at / 60))  # session times are whole minutes
        free_at = when + 30 * len(turns) + SESSION_GAP
        merged[f"session_{new}_date_time"] = dt.datetime.fromtimestamp(when).strftime(
            "%I:%M %p on %d %B, %Y"
        )
        out = []
        for i, turn in enumerate(turns, start=1):
            dia = f"D{new}:{i}"
            if "dia_id" in turn:
                renamed[n][turn["dia_id"]] = dia
            out.append(
                {**turn, "dia_id": dia, "role": "user" if is_user(turn, conv) else "assistant"}
            )
        merged[f"session_{new}"] = out
    qa = []
    for n, sample in enumerate(samples):
        for question in sample.get("qa", []):
            evidence, _bad = normalise_evidence(question.get("evidence", []), set(renamed[n]))
            qa.append(
                {
                    **question,
                    "evidence": [renamed[n][e] for e in evidence],
                    "from_sample": sample["sample_id"],
                }
            )
    ids = "+".join(str(s["sample_id"]) for s in samples)
    return {"sample_id": f"merged({ids})", "conversation": merged, "qa": qa}


def scaled(data: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """Every n samples (in file order) merged into one; the last holds what is left."""
    if n <= 1:
        return data
    return [merge_samples(data[i : i + n]) for i in range(0, len(data), n)]


class VectorCache:
    """Message vectors by text, kept in DIR between runs (one file per embedder variant),
    so a benchmark run after the first spends its time on what it measures."""

    def __init__(self, folder: str | None, variant: str) -> None:
        self.path = (
            Path(folder) / f"vectors-{re.sub(r'[^A-Za-z0-9_.-]', '_', variant)}.npz"
            if folder
            else None
        )
        self.vectors: dict[str, np.ndarray] = {}
        self.hits = self.misses = 0
        self._dirty = False
        if self.path is not None and self.path.exists():
            with np.load(self.path) as saved:
                self.vectors = dict(zip(saved["keys"].tolist(), saved["vectors"]))

    def wrap(self, encode: Any) -> Any:
        if self.path is None:
            return encode

        def cached(texts: list[str]) -> np.ndarray:
            keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
            todo = [i for i, k in enumerate(keys) if k not in self.vectors]
            self.hits += len(texts) - len(todo)
            self.misses += len(todo)
            if todo:
                for i, vector in zip(todo, encode([texts[i] for i in todo])):
                    self.vectors[keys[i]] = np.asarray(vector, dtype=np.float32)
                self._dirty = True
            if not texts:
                return encode(texts)
            return np.vstack([self.vectors[k] for k in keys])

        return cached

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():  # another run may have added some meanwhile
            with np.load(self.path) as saved:
                for key, vector in zip(saved["keys"].tolist(), saved["vectors"]):
                    self.vectors.setdefault(key, vector)
        keys = list(self.vectors)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(keys), vectors=np.vstack([self.vectors[k] for k in keys]))
        tmp.replace(self.path)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m chatapp.bench memory")
    parser.add_argument("--data", required=True, help="LoCoMo-format JSON file")
    parser.add_argument("--budget", type=int, default=2048, help="tokens for the memory part")
    parser.add_argument("--baseline", action="append", choices=["recent", "bm25"], default=[])
    parser.add_argument(
        "--summaries", action="store_true", help="also make rolling summaries with the model"
    )
    parser.add_argument(
        "--model",
        metavar="GGUF",
        help="the model whose tokenizer counts (and that summarises, and reads user "
        "messages for facts when it is big enough, as the app does); default: the built-in SmolLM2",
    )
    parser.add_argument(
        "--dump", metavar="PATH", help="one JSON line per question with its context"
    )
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--limit", type=int, default=0, help="questions per conversation (0: all)")
    parser.add_argument(
        "--scale", type=int, default=1, metavar="N", help="every N samples make one thread"
    )
    parser.add_argument("--vectors", metavar="DIR", help="keep message vectors here for later runs")
    args = parser.parse_args(argv)
    if args.scale < 1:
        parser.error("--scale must be 1 or more")

    from chatapp.domain import Message, MessageStatus, Role
    from chatapp.engine.backend import ModelSpec
    from chatapp.engine.default_model import default_model_path
    from chatapp.engine.llama_backend import LlamaBackend
    from chatapp.memory.builder import ContextBuilder
    from chatapp.memory.embedder import shared_embedder
    from chatapp.memory.service import MemoryService
    from chatapp.store import Store

    data = json.loads(Path(args.data).read_text(encoding="utf-8"))
    if args.limit:
        data = [{**sample, "qa": sample["qa"][: args.limit]} for sample in data]
    data = scaled(data, args.scale)
    backend = LlamaBackend()
    model_path = args.model or str(default_model_path())
    backend.load(
        ModelSpec(
            model_path,
            n_ctx=max(4096, args.budget + 1024),
            gpu="cpu" if args.model is None else "auto",
        )
    )
    from chatapp.memory import extraction

    reads_facts = extraction.worth_asking(backend.info.n_params)
    facts_read = 0
    count_text = backend.count_text_tokens
    embedder = shared_embedder()
    vectors = VectorCache(args.vectors, getattr(embedder, "variant", embedder.name))
    encode = vectors.wrap(embedder.encode)

    in_a_row = "chatapp, in a row"
    methods = ["chatapp", in_a_row, *args.baseline]
    scores: dict[str, dict[str, list[float]]] = {m: {c: [] for c in CATEGORIES} for m in methods}
    tokens: dict[str, list[int]] = {m: [] for m in methods}
    # per category, the evidence the context lacks, by where it was lost (see _lost)
    lost: dict[str, dict[str, float]] = {c: {} for c in CATEGORIES}
    lost_ranks: list[int] = []  # recall ranks of the evidence ranked but left out for room
    build_ms: list[float] = []
    answers: list[tuple[bool, bool]] = []  # the answer's words in the context; only in a summary
    summary_tokens: list[int] = []
    spends: list[dict[str, int]] = []  # where each context's recall tokens went (_recall_spend)
    build_cpu_ms: list[
        float
    ] = []  # this process's CPU time: what other programs on the cores do not change
    build_queued_ms: list[float] = []  # of the wall time: ready to run, waiting for a core
    ingest_ms_per_turn: list[float] = []  # all of it (facts read by the model, summaries too)
    ingest_cpu_ms_per_turn: list[float] = []
    ready_ms_per_turn: list[float] = []  # the ingest alone: user messages and facts (bench ingest)
    ready_cpu_ms_per_turn: list[float] = []
    turns_per_thread: list[int] = []
    skipped = 0
    dump = open(args.dump, "w", encoding="utf-8") if args.dump else None  # noqa: SIM115
    with tempfile.TemporaryDirectory(prefix="chatapp-memory-bench-") as tmp:
        for sample in data:
            store = Store.open(Path(tmp) / f"{sample['sample_id']}.sqlite3")
            service = MemoryService(store, encode, embedder.name)
            thread = store.create_thread(sample["sample_id"])
            conv = sample["conversation"]
            by_dia: dict[str, Message] = {}
            turns = 0
            started, started_cpu = time.perf_counter(), time.process_time()
            ready_s = ready_cpu_s = 0.0
            last_time = 0.0
            for _n, when, session in sessions(conv):
                for i, turn in enumerate(session):
                    role = Role.USER if is_user(turn, conv) else Role.ASSISTANT
                    msg = store.add_message(
                        thread.id, role, turn_text(turn), created_at=when + 30 * i
                    )
                    by_dia[turn["dia_id"]] = msg
                    turns += 1
                    last_time = when + 30 * i
                t0, c0 = time.perf_counter(), time.process_time()
                # after each session, as the app does after each exchange; the replies after
                service.ingest(thread.id, reply_limit=0)
                ready_s += time.perf_counter() - t0
                ready_cpu_s += time.process_time() - c0
                while service.embed_later(thread.id, 32):
                    pass
                if reads_facts:  # the app reads each new user message after its exchange
                    facts_read += _read_facts(store, backend, service, thread.id, len(session))
                if args.summaries:
                    _summarise(store, backend, thread.id)
            ingest_ms_per_turn.append((time.perf_counter() - started) * 1000 / max(1, turns))
            ingest_cpu_ms_per_turn.append(
                (time.process_time() - started_cpu) * 1000 / max(1, turns)
            )
            ready_ms_per_turn.append(ready_s * 1000 / max(1, turns))
            ready_cpu_ms_per_turn.append(ready_cpu_s * 1000 / max(1, turns))
            turns_per_thread.append(turns)
            builder = ContextBuilder(store, count_text, embedder.encode_one)
            sitting = ContextBuilder(
                store, count_text, embedder.encode_one
            )  # keeps its recall block
            all_msgs = store.path(thread.id)
            depth = len(all_msgs)
            for qa in sample["qa"]:
                now = asked_at(qa, last_time + 3600)
                evidence, bad = normalise_evidence(qa.get("evidence", []), set(by_dia))
                skipped += bad
                if not evidence:
                    continue
                category = str(qa.get("category"))
                question = Message(
                    -1,
                    thread.id,
                    all_msgs[-1].id,
                    Role.USER,
                    qa["question"],
                    now,
                    MessageStatus.COMPLETE,
                    depth=depth,
                )
                builder.forget(thread.id)
                t0, c0, q0 = time.perf_counter(), time.process_time(), _queued_s()
                built = builder.build(thread.id, "", question, args.budget, now=now)
                build_ms.append((time.perf_counter() - t0) * 1000)
                build_cpu_ms.append((time.process_time() - c0) * 1000)
                if q0 is not None and (q1 := _queued_s()) is not None:
                    build_queued_ms.append((q1 - q0) * 1000)
                context = backend.render_prompt(built.messages)
                scores["chatapp"][category].append(_carried(built, context, evidence, by_dia))
                for reason, share in _lost(built, context, evidence, by_dia).items():
                    lost[category][reason] = lost[category].get(reason, 0.0) + share
                    if reason == "no room":
                        ranks = {mid: r for r, mid in enumerate(built.recall_ranking)}
                        lost_ranks.extend(
                            ranks[by_dia[e].id]
                            for e in evidence
                            if by_dia[e].id in ranks and by_dia[e].content not in context
                        )
                tokens["chatapp"].append(built.memory_tokens)
                spends.append(_recall_spend(built, count_text))
                answer = str(qa.get("answer", "")).strip().lower()
                if answer and category in "1234":
                    summary_text = "\n".join(
                        p.text for p in built.parts if p.kind == "summary"
                    ).lower()
                    rest = "\n".join(p.text for p in built.parts if p.kind != "summary").lower()
                    answers.append(
                        (answer in context.lower(), answer in summary_text and answer not in rest)
                    )
                    summary_tokens.append(sum(p.tokens for p in built.parts if p.kind == "summary"))
                in_row = sitting.build(thread.id, "", question, args.budget, now=now)
                scores[in_a_row][category].append(
                    _carried(in_row, backend.render_prompt(in_row.messages), evidence, by_dia)
                )
                tokens[in_a_row].append(in_row.memory_tokens)
                if dump:
                    dump.write(
                        json.dumps(
                            {
                                "sample_id": sample["sample_id"],
                                "question": qa["question"],
                                "category": category,
                                "evidence": evidence,
                                "evidence_ranks": _evidence_ranks(built, evidence, by_dia),
                                "context": context,
                                "context_tokens": len(backend.prompt_tokens(built.messages)),
                                "parts": [
                                    {
                                        "kind": p.kind,
                                        "text": p.text,
                                        "tokens": p.tokens,
                                        "source_turns": [
                                            d for d, m in by_dia.items() if m.id in set(p.sources)
                                        ],
                                    }
                                    for p in built.parts
                                ],
                            }
                        )
                        + "\n"
                    )
                for method in args.baseline:
                    text, used = _baseline(
                        method, store, thread.id, qa["question"], all_msgs, args.budget, count_text
                    )
                    hit = [1.0 if by_dia[e].content in text else 0.0 for e in evidence]
                    scores[method][category].append(sum(hit) / len(hit))
                    tokens[method].append(used)
            store.close()
    vectors.save()
    if dump:
        dump.close()

    def summary(method: str) -> dict[str, Any]:
        per = {c: (statistics.mean(v) if v else None) for c, v in scores[method].items()}
        core = [x for c in "1234" for x in scores[method][c]]
        per["1-4"] = statistics.mean(core) if core else None
        return {
            "evidence_recall": per,
            "context_tokens_mean": statistics.mean(tokens[method]) if tokens[method] else 0,
        }

    main_fig = summary("chatapp")
    figures: dict[str, Any] = {
        "budget": args.budget,
        "scale": args.scale,
        "threads": len(data),
        "turns_per_thread": turns_per_thread,
        "vectors_from_cache": vectors.hits,
        "model": Path(model_path).name,
        "facts_read_by_model": facts_read if reads_facts else None,
        "questions": sum(len(v) for v in scores["chatapp"].values()),
        "evidence_skipped": skipped,
        **main_fig,
        "ingest_ms_per_turn": statistics.mean(ingest_ms_per_turn),
        "ingest_cpu_ms_per_turn": statistics.mean(ingest_cpu_ms_per_turn),
        "ingest_ready_ms_per_turn": statistics.mean(ready_ms_per_turn),
        "ingest_ready_cpu_ms_per_turn": statistics.mean(ready_cpu_ms_per_turn),
        "build_ms_p50": statistics.median(build_ms),
        "build_ms_p95": _p95(build_ms),
        "build_cpu_ms_p50": statistics.median(build_cpu_ms),
        "build_cpu_ms_p95": _p95(build_cpu_ms),
        "build_queued_ms_p50": statistics.median(build_queued_ms) if build_queued_ms else None,
        "in_a_row": summary(in_a_row),
        "answer_in_context": statistics.mean(a for a, _s in answers) if answers else None,
        "answer_only_in_summaries": statistics.mean(s for _a, s in answers) if answers else None,
        "summary_tokens_mean": statistics.mean(summary_tokens) if summary_tokens else 0,
        "baselines": {m: summary(m) for m in args.baseline},
        "evidence_lost": {
            c: {r: v / len(scores["chatapp"][c]) for r, v in lost[c].items()}
            for c in CATEGORIES
            if scores["chatapp"][c]
        },
        "evidence_lost_rank_p50": statistics.median(lost_ranks) if lost_ranks else None,
        "recall_spend_mean": {
            k: statistics.mean(s[k] for s in spends) for k in (spends[0] if spends else {})
        },
    }
    rows = []
    for method in methods:
        fig = {"chatapp": main_fig, in_a_row: figures["in_a_row"]}.get(method) or figures[
            "baselines"
        ][method]
        rec = fig["evidence_recall"]
        rows.append(
            [method]
            + [_pct(rec[c]) for c in [*CATEGORIES, "1-4"]]
            + [round(fig["context_tokens_mean"])]
        )
    print(
        table(
            f"memory: evidence recall@{args.budget} on {args.data} "
            f"({figures['questions']} questions, "
            f"{skipped} evidence ids skipped)",
            ["method", "cat 1", "cat 2", "cat 3", "cat 4", "cat 5", "1-4", "tokens"],
            rows,
        )
    )
    reasons = ["not ranked", "no room", "excerpted"]
    print()
    print(
        table(
            "where chatapp lost evidence (share of the category's evidence turns; "
            "recall rank of those left out for room: median "
            f"{figures['evidence_lost_rank_p50']})",
            ["reason", *(f"cat {c}" for c in CATEGORIES)],
            [
                [r]
                + [
                    _pct(figures["evidence_lost"][c].get(r, 0.0))
                    if c in figures["evidence_lost"]
                    else "-"
                    for c in CATEGORIES
                ]
                for r in reasons
            ],
        )
    )
    spend = figures["recall_spend_mean"]
    if spend:
        print(
            f"\nwhere the recall tokens go (mean per context): {spend['lines']:.1f} lines, "
            f"{spend['tokens']:.0f} tokens; of them day headings {spend['headings']:.1f} "
            f"({spend['heading_tokens']:.0f} tokens), speaker prefixes "
            f"{spend['prefix_tokens']:.0f}, [earlier …] notes {spend['note_tokens']:.0f}, "
            f'"…" markers {spend["ellipses"]:.1f}, the lines\' own text '
            f"{spend['text_tokens']:.0f}"
        )
    cached = (
        f" ({vectors.hits} of {vectors.hits + vectors.misses} vectors read from --vectors)"
        if vectors.hits
        else ""
    )
    print(
        f"\n{len(data)} threads of {statistics.mean(turns_per_thread):.0f} turns on average; "
        f"ingest {figures['ingest_ms_per_turn']:.1f} ms/turn "
        f"({1000 / figures['ingest_ms_per_turn']:.0f} turns/s, "
        f"CPU {figures['ingest_cpu_ms_per_turn']:.1f} ms; user messages and facts alone "
        f"{figures['ingest_ready_ms_per_turn']:.1f} ms, "
        f"CPU {figures['ingest_ready_cpu_ms_per_turn']:.1f} ms){cached}; "
        f"context build p50 {figures['build_ms_p50']:.1f} ms, p95 {figures['build_ms_p95']:.1f} ms "
        f"(CPU time p50 {figures['build_cpu_ms_p50']:.1f} ms, "
        f"p95 {figures['build_cpu_ms_p95']:.1f} ms)"
    )
    if build_queued_ms:
        print(
            f"of a build's wall time, waiting for a core (other programs on it): "
            f"p50 {figures['build_queued_ms_p50']:.1f} ms"
        )
    print(
        f"model {figures['model']}: "
        + (
            f"{facts_read} facts read from user messages by the model"
            if reads_facts
            else "too small to be asked for facts (the rules fill the slots)"
        )
    )
    if answers:
        print(
            f"the answer's text in the context (cats 1-4, as the dataset words it): "
            f"{_pct(figures['answer_in_context'])}; "
            f"only in a summary: {_pct(figures['answer_only_in_summaries'])} "
            f"(summaries take {figures['summary_tokens_mean']:.0f} tokens on average)"
        )
    write_json(args.json, figures)
    backend.unload()
    return 0


def _carried(built: Any, context: str, evidence: list[str], by_dia: dict[str, Any]) -> float:
    """Fraction of the evidence turns the context carries (verbatim, or as a slot's source)."""
    slot_sources = {i for p in built.parts if p.kind == "slots" for i in p.sources}
    hits = [
        1.0 if (by_dia[e].content in context or by_dia[e].id in slot_sources) else 0.0
        for e in evidence
    ]
    return sum(hits) / len(hits)


def _evidence_ranks(
    built: Any, evidence: list[str], by_dia: dict[str, Any]
) -> dict[str, int | None]:
    """Each evidence turn's place in the build's recall ranking (0: the best hit), None where
    recall did not rank it: a miss ranked 150th wants another fill, one not ranked at all
    another search."""
    ranks = {mid: r for r, mid in enumerate(built.recall_ranking)}
    return {e: ranks.get(by_dia[e].id) for e in evidence}


def _recall_spend(built: Any, count_text: Callable[[str], int]) -> dict[str, int]:
    """Where a context's recall tokens go, counted with the model's tokenizer (each line with
    its newline): day headings, the "- User:" prefixes, the "[earlier; …]" notes of a changed
    fact, the "…" of excerpts, and the recalled text itself. The lever for recall is evidence
    per token: this says how much of the room is not the messages' own words."""
    out = dict.fromkeys(
        (
            "tokens",
            "lines",
            "headings",
            "heading_tokens",
            "prefix_tokens",
            "note_tokens",
            "ellipses",
            "text_tokens",
        ),
        0,
    )
    for part in built.parts:
        if part.kind not in ("recall", "recall_new", "recall_held"):
            continue
        for line in part.text.split("\n"):
            cost = count_text(line) + 1
            out["tokens"] += cost
            prefix = re.match(r"- (User|Assistant):", line)
            if prefix is None and _HEADING.fullmatch(line):
                out["headings"] += 1
                out["heading_tokens"] += cost
                continue
            text = line  # a message's own line break goes on with the line above
            if prefix is not None:
                out["lines"] += 1
                out["prefix_tokens"] += count_text(prefix.group(0)) + 1
                text = line[prefix.end() :].strip()
            if " [earlier; " in text:
                text, note = text.split(" [earlier; ", 1)
                out["note_tokens"] += count_text(" [earlier; " + note)
            out["ellipses"] += text.count("…")
    # the rest is the messages' own words (a line's pieces counted apart may not add up to it)
    out["text_tokens"] = (
        out["tokens"] - out["heading_tokens"] - out["prefix_tokens"] - out["note_tokens"]
    )
    return out


_HEADING = re.compile(r"On \w+ \d+ \w+( \d+)? \([^()]*\):")  # a recalled day's heading


def _lost(
    built: Any, context: str, evidence: list[str], by_dia: dict[str, Any]
) -> dict[str, float]:
    """Where the evidence the context lacks was lost, each turn counting 1/len(evidence):
    "not ranked" (recall did not rank it), "no room" (ranked, but the fill left it out),
    "excerpted" (shown only as a cut of the message)."""
    slot_sources = {i for p in built.parts if p.kind == "slots" for i in p.sources}
    recalled = {
        i
        for p in built.parts
        if p.kind in ("recall", "recall_new", "recall_held")
        for i in p.sources
    }
    ranked = set(built.recall_ranking)
    out: dict[str, float] = {}
    for e in evidence:
        msg = by_dia[e]
        if msg.content in context or msg.id in slot_sources:
            continue
        if msg.id in recalled:
            reason = "excerpted"
        elif msg.id in ranked:
            reason = "no room"
        else:
            reason = "not ranked"
        out[reason] = out.get(reason, 0.0) + 1 / len(evidence)
    return out


def _queued_s() -> float | None:
    """Seconds this thread has spent ready to run but waiting for a core (Linux), None elsewhere:
    on a busy machine a build's wall time is mostly that, not its own work."""
    try:
        return int(Path("/proc/thread-self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def _p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _baseline(method, store, thread_id, question, all_msgs, budget, count_text):  # type: ignore[no-untyped-def]
    """The reference methods, filling the same budget with the same tokenizer."""
    from chatapp.memory.recall import lexical_query

    chosen: list[str] = []
    used = 0
    if method == "recent":
        candidates = [m.content for m in reversed(all_msgs)]
    else:
        query = lexical_query(question)
        hits = store.fts_hits(thread_id, query, shown_only=False, limit=400) if query else []
        found = store.messages_by_ids([mid for mid, _depth in hits])
        candidates = [found[mid].content for mid, _depth in hits]
    for text in candidates:
        cost = count_text(text) + 1
        if used + cost > budget:
            if method == "recent":
                break
            continue
        chosen.append(text)
        used += cost
    return "\n".join(chosen), used


def _read_facts(store, backend, service, thread_id, limit) -> int:  # type: ignore[no-untyped-def]
    import threading

    from chatapp.memory import extraction

    def generate(messages, settings, cancel):  # type: ignore[no-untyped-def]
        return backend.generate(messages, settings, cancel, lambda _t: None).text

    return extraction.read_new_messages(
        store,
        thread_id,
        generate,
        service.write_facts,
        threading.Event(),
        backend.info.name,
        limit=limit,
    )


def _summarise(store, backend, thread_id) -> None:  # type: ignore[no-untyped-def]
    import threading

    from chatapp.memory import summaries

    def generate(messages, settings, cancel):  # type: ignore[no-untyped-def]
        return backend.generate(messages, settings, cancel, lambda _t: None).text

    while (job := summaries.next_job(store, thread_id)) is not None:
        if summaries.run_job(store, job, generate, threading.Event(), backend.info.name) is None:
            break
