"""bench ingest: both ways ingest the same whole sessions and write their figures."""

from __future__ import annotations

import json
from pathlib import Path

from chatapp.bench import ingest


def test_bench_ingest_runs_both_ways_on_whole_sessions(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    conv: dict = {"speaker_a": "user", "speaker_b": "assistant"}
    for n in (1, 2, 3):
        conv[f"session_{n}_date_time"] = f"10:00 am on {n} May, 2023"
        conv[f"session_{n}"] = [
            {
                "speaker": "user" if i % 2 == 0 else "assistant",
                "dia_id": f"D{n}:{i + 1}",
                "text": f"I live in Porto and grow tomatoes, day {n}."
                if i % 2 == 0
                else f"Lovely, day {n}!",
            }
            for i in range(4)
        ]
    data = tmp_path / "data.json"
    data.write_text(
        json.dumps([{"sample_id": "s", "conversation": conv, "qa": []}]), encoding="utf-8"
    )
    out = tmp_path / "ingest.json"
    assert ingest.main(["--data", str(data), "--turns", "5", "--json", str(out)]) == 0
    runs = json.loads(out.read_text(encoding="utf-8"))["runs"]
    assert len(runs) == 2
    for run in runs.values():
        assert (run["turns"], run["user_turns"]) == (8, 4)  # whole sessions: two of four turns
        assert run["total_cpu_s"] >= run["ready_cpu_s"] > 0
    assert "users first, then replies" in capsys.readouterr().out
