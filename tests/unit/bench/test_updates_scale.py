"""The knowledge-update generator at scale: longer threads over more months, attributes that
change several times, and the 1× threads unchanged."""

from __future__ import annotations

from chatapp.bench import updates
from chatapp.bench.memory import sessions


def _order(dia: str) -> tuple[int, int]:
    session, turn = dia[1:].split(":")
    return int(session), int(turn)


def _span_days(thread: dict) -> int:
    days = [when for _n, when, _session in sessions(thread["conversation"])]
    return int((max(days) - min(days)) / 86400)


def test_scale_one_is_the_plain_generator() -> None:
    assert updates.generate(7, 2, ("test",), 1) == updates.generate(7, 2, ("test",))


def test_a_scaled_thread_is_longer_spans_more_time_and_changes_more_often() -> None:
    plain = updates.generate(7, 4, ("test",))
    scaled = updates.generate(7, 4, ("test",), 4)
    conv = [len(list(sessions(t["conversation"]))) for t in plain]
    long = [len(list(sessions(t["conversation"]))) for t in scaled]
    assert min(long) >= 4 * 16 and max(conv) <= 22
    assert min(_span_days(t) for t in scaled) > max(_span_days(t) for t in plain)
    current = [q for t in scaled for q in t["qa"] if q["type"] == "current"]
    assert sum(len(q["old"]) >= 3 for q in current) >= 3  # several changed more than twice
    for thread in scaled:
        turns = {t["dia_id"]: t for _n, _w, s in sessions(thread["conversation"]) for t in s}
        for qa in thread["qa"]:
            said = turns[qa["evidence"][0]]
            wanted = qa["previous"] if qa["type"] == "previous" else qa["current"]
            assert updates._has(said["text"], wanted)
            assert qa["current"] not in qa["old"]
        # the current value is stated after the previous one
        for qa in thread["qa"]:
            if qa["type"] == "previous":
                now = next(
                    q for q in thread["qa"] if q["type"] == "current" and q["kind"] == qa["kind"]
                )
                assert _order(now["evidence"][0]) > _order(qa["evidence"][0])


def test_the_command_refuses_a_scale_below_one(capsys) -> None:  # type: ignore[no-untyped-def]
    try:
        updates.main(["--scale", "0", "--gates"])
    except SystemExit as stop:
        assert stop.code == 2
    else:
        raise AssertionError("--scale 0 was accepted")
    assert "--scale must be 1 or more" in capsys.readouterr().err
