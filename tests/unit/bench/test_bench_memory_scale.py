"""bench memory --scale: samples merged into one thread keep their turns, dates and evidence."""

from __future__ import annotations

from chatapp.bench.memory import (
    is_user,
    merge_samples,
    normalise_evidence,
    scaled,
    sessions,
    turn_text,
)


def sample(
    name: str, me: str, other: str, dates: list[str], questions: list[tuple[str, list[str]]]
) -> dict:
    conv: dict = {"speaker_a": me, "speaker_b": other}
    for n, when in enumerate(dates, start=1):
        conv[f"session_{n}_date_time"] = when
        conv[f"session_{n}"] = [
            {
                "speaker": me if i % 2 == 0 else other,
                "dia_id": f"D{n}:{i + 1}",
                "text": f"{name} s{n} t{i + 1}",
            }
            for i in range(3)
        ]
    conv["session_9_date_time"] = "1:00 pm on 1 January, 2024"  # a date without a session
    qa = [{"question": q, "evidence": evidence, "category": 1} for q, evidence in questions]
    return {"sample_id": name, "conversation": conv, "qa": qa}


def test_merged_samples_make_one_thread_in_date_order_with_their_evidence() -> None:
    a = sample(
        "a",
        "Ann",
        "Bob",
        ["10:00 am on 2 May, 2023", "9:00 am on 9 May, 2023"],
        [("qa", ["D2:3", "D1:1"])],
    )
    b = sample(
        "b",
        "Cy",
        "Di",
        ["10:00 am on 2 May, 2023", "8:00 am on 5 May, 2023"],
        [("qb", ["D1:2; D9:1"])],
    )
    merged = merge_samples([a, b])
    conv = merged["conversation"]
    found = sessions(conv)
    texts = [[t["text"] for t in turns] for _n, _when, turns in found]
    assert [t[0] for t in texts] == ["a s1 t1", "b s1 t1", "b s2 t1", "a s2 t1"]
    whens = [when for _n, when, _t in found]
    # the same hour: the second session starts after the first one's three turns
    assert whens == sorted(whens) and 90 <= whens[1] - whens[0] <= 180
    dia = {t["dia_id"]: t for _n, _w, turns in found for t in turns}
    assert len(dia) == 12
    qa, qb = merged["qa"]
    assert [dia[e]["text"] for e in qa["evidence"]] == ["a s2 t3", "a s1 t1"]
    assert [dia[e]["text"] for e in qb["evidence"]] == ["b s1 t2"]  # D9:1 has no turn
    assert qa["from_sample"] == "a" and qb["question"] == "qb"
    # each sample's own user, although the merged thread has no single speaker_a
    users = {t["text"] for t in dia.values() if is_user(t, conv)}
    assert users == {f"{s} s{n} t{i}" for s in "ab" for n in (1, 2) for i in (1, 3)}
    assert normalise_evidence(qa["evidence"], set(dia))[1] == 0


def test_scale_groups_samples_in_file_order() -> None:
    data = [
        sample(str(i), "U", "V", ["10:00 am on 2 May, 2023"], [(f"q{i}", ["D1:1"])])
        for i in range(5)
    ]
    assert scaled(data, 1) is data
    groups = scaled(data, 2)
    assert [len(g["qa"]) for g in groups] == [2, 2, 1]
    assert [q["from_sample"] for g in groups for q in g["qa"]] == ["0", "1", "2", "3", "4"]


def test_a_turn_is_stored_as_the_app_stores_it() -> None:
    # named people keep who speaks in the text (a pasted group chat); a user–assistant
    # history does not: the app stores a message without its role
    assert turn_text({"speaker": "Ann", "text": "I moved."}) == "Ann: I moved."
    assert turn_text({"speaker": "user", "text": "I moved."}) == "I moved."
    assert turn_text({"speaker": "assistant", "text": "Congrats!"}) == "Congrats!"
    shared = {"speaker": "Ann", "text": "Look", "blip_caption": "a dog"}
    assert turn_text(shared) == "Ann: Look [shares a photo: a dog]"
