"""The knowledge-update generator: deterministic, held-apart wordings, values that only the
person's statements carry, and the scoring of a dumped context."""

from __future__ import annotations

import re

from chatapp.bench import updates
from chatapp.bench.memory import sessions


def test_the_same_seed_makes_the_same_threads_and_another_seed_others() -> None:
    a = updates.generate(3, 2)
    assert a == updates.generate(3, 2)
    assert a != updates.generate(4, 2)
    assert [s["sample_id"] for s in a] == [
        "updates-train-0",
        "updates-train-1",
        "updates-test-0",
        "updates-test-1",
    ]


def test_train_and_test_threads_use_disjoint_wordings() -> None:
    for kind in updates.KINDS:
        halves = updates._split(kind)
        for field in ("states", "changes"):
            train, test = halves[field]
            assert train and test and not set(train) & set(test)
            assert set(train) | set(test) == set(getattr(kind, field))


def test_small_talk_never_carries_a_value() -> None:
    values = [v for kind in updates.KINDS for _said, v in kind.values]
    for line in updates.PERSON_FILLER + updates.FRIEND_FILLER + updates.REACTIONS:
        assert not any(updates._has(line, v) for v in values), line


def test_threads_read_as_locomo_and_questions_point_at_the_statements() -> None:
    (thread,) = updates.generate(11, 1, ("test",))
    conv = thread["conversation"]
    turns = {t["dia_id"]: t for _n, _when, session in sessions(conv) for t in session}
    assert len(turns) > 300  # weeks of chat, most of it small talk
    kinds = {q["kind"] for q in thread["qa"]}
    assert len(thread["qa"]) == 3 * len(kinds)
    for qa in thread["qa"]:
        (evidence,) = qa["evidence"]
        said = turns[evidence]
        assert said["speaker"] == conv["speaker_a"]
        wanted = qa["previous"] if qa["type"] == "previous" else qa["current"]
        assert updates._has(said["text"], wanted)
    # the change is dated in the session it was said in
    when = next(q for q in thread["qa"] if q["type"] == "when")
    session = int(re.match(r"D(\d+):", when["evidence"][0]).group(1))
    assert when["answer"].split()[1] in conv[f"session_{session}_date_time"]


def test_scoring_tells_current_from_stale_and_a_slot_from_its_history() -> None:
    qa = {
        "type": "current",
        "current": "Rotterdam",
        "old": ["Utrecht"],
        "previous": "Utrecht",
        "changed_on": "2025-05-03",
    }
    slots = {
        "kind": "slots",
        "text": (
            "- I live in Utrecht. (now, since 1 May 2025; "
            "earlier: I lived in Rotterdam until 1 May 2025)"
        ),
    }
    stale = {"context": slots["text"], "parts": [slots]}  # Rotterdam only as the slot's history
    assert updates.score(stale, qa) == {
        "current": 1.0,
        "stale_only": 0.0,
        "in_slot": 0.0,
        "previous": None,
        "date": None,
    }
    only_old = {"context": "- User: I live in Utrecht.", "parts": []}
    assert (
        updates.score(only_old, qa)["stale_only"] == 1.0
        and updates.score(only_old, qa)["current"] == 0.0
    )
    good = {
        "context": "On 3 May 2025: These days I'm based in Rotterdam.",
        "parts": [
            {
                "kind": "slots",
                "text": (
                    "- These days I'm based in Rotterdam. (now, since 3 May 2025; "
                    "earlier: I live in Utrecht.)"
                ),
            }
        ],
    }
    assert updates.score(good, qa)["in_slot"] == 1.0
    assert updates.score(good, {**qa, "type": "when"})["date"] == 1.0
    assert updates.score(only_old, {**qa, "type": "previous"})["previous"] == 1.0


def test_the_statements_are_tagged_for_the_gates_harness() -> None:
    (thread,) = updates.generate(5, 1, ("train",))
    conv = thread["conversation"]
    turns = {t["dia_id"]: t for _n, _when, session in sessions(conv) for t in session}
    for qa in thread["qa"]:
        tag = turns[qa["evidence"][0]]["fact"]
        assert tag.split(":")[0] == qa["kind"]
    assert all(t["speaker"] == conv["speaker_a"] for t in turns.values() if "fact" in t)


def test_the_gates_harness_reads_every_current_value_from_a_real_ingest() -> None:
    """The real embedder and store: each current value of the thread is read once."""
    data = updates.generate(5, 1, ("test",))
    got = updates.gates(data)
    current = [q for q in data[0]["qa"] if q["type"] == "current"]
    assert len(got["test"]["held"]) == len(got["test"]["stale"]) == len(current)
    assert set(got["test"]["held"]) <= {0.0, 1.0} and got["test"]["slots"][0] >= 1
    assert all(len(got[q["kind"]]["held"]) == 1 for q in current)
